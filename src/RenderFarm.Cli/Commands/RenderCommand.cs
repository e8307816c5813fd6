using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Farm;
using RenderFarm.Cli.Terminal;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;
using RenderFarm.Rendering.Scene;
using RenderFarm.Worker;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm render SCENE</c>: renders a frame range of a glTF scene to PNG files through a farm —
/// by default the embedded one (coordinator and workers in this process), or a running coordinator
/// given with <c>--coordinator</c>.
/// </summary>
internal static class RenderCommand
{
    public static Command Create()
    {
        var scene = new Argument<string>("scene") { Description = "The scene: a .glb, a .gltf with the files it names beside it (packed into one .glb for the farm), or a .blend (exported through Blender)." };
        var frames = new Option<string?>("--frames") { Description = "Frames to render: N, FIRST-LAST, FIRST-LASTxSTEP or a list of them, e.g. 1,3,5-9,10-20x2; frame 1 is at time 0. Default 1 (a .blend: its scene's frame range)." };
        var output = new Option<string>("--out") { Description = "Folder for the frames (created if missing).", DefaultValueFactory = _ => "frames" };
        var chunk = new Option<int>("--chunk") { Description = "Frames per farm task.", DefaultValueFactory = _ => 1 };
        var workers = new Option<int>("--workers") { Description = "Workers of the embedded farm.", DefaultValueFactory = _ => 1 };
        var local = new Option<bool>("--local") { Description = "Render on the embedded farm even when a coordinator is set in the environment or the settings file." };
        var priority = new Option<int>("--priority") { Description = "With a coordinator: queue priority, -10 to 10; higher is served first." };
        var detach = new Option<bool>("--detach") { Description = "With a coordinator: submit, print the job id and return; fetch the frames later with 'renderfarm job download'." };
        var budget = new Option<long?>("--budget") { Description = "With a coordinator: the most tokens to pay, locked in the job's escrow before any work starts." };
        var ledgerKey = new Option<string?>("--ledger-key") { Description = "With --budget: the key file of the account that pays." };
        var rpc = new Option<string?>("--rpc") { Description = "With --budget: a JSON-RPC endpoint of the coordinator's chain." };
        var client = new ClientSettings();
        var options = new RenderOptions();
        var frameOutput = new FrameOutputOptions();
        var command = new Command("render", "Render frames of a scene to PNG (or EXR) files on a farm: one in this process on the local Vulkan device, or a coordinator's (--coordinator, RENDERFARM_COORDINATOR or the settings file).");
        command.Arguments.Add(scene);
        command.Options.Add(frames);
        command.Options.Add(output);
        command.Options.Add(chunk);
        command.Options.Add(workers);
        command.Options.Add(local);
        command.Options.Add(priority);
        command.Options.Add(detach);
        command.Options.Add(budget);
        command.Options.Add(ledgerKey);
        command.Options.Add(rpc);
        client.AddTo(command);
        options.AddTo(command);
        frameOutput.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                ClientSettings.Resolved signIn = client.Read(result);
                Uri? coordinator = result.GetValue(local) ? null : signIn.Coordinator;
                if (result.GetValue(local) && result.GetValue(client.Coordinator) is not null)
                {
                    throw new UserInputException("Give --coordinator or --local, not both.");
                }

                string scenePath = result.GetValue(scene)!;
                string? framesText = result.GetValue(frames);
                RenderSettings settings = options.Read(result);
                await using BlenderExport? export = BlenderExport.IsBlendFile(scenePath)
                    ? await BlenderExport.RunAsync(scenePath, framesText, cancellationToken).ConfigureAwait(false)
                    : null;
                if (export is not null)
                {
                    Print($"Exported {Path.GetFileName(scenePath)} through Blender {export.BlenderVersion}: frames {export.Frames}, {export.FramesPerSecond:0.###} fps");
                    foreach (string warning in export.Warnings)
                    {
                        await Console.Error.WriteLineAsync($"renderfarm: warning: {warning}").ConfigureAwait(false);
                    }

                    settings = settings with { FramesPerSecond = export.FramesPerSecond };
                }

                // EXR and denoised frames go through the farm like PNGs: the provider delivers the linear EXR with its
                // AOVs, the farm verifies its noisy frame, and this client denoises after download.
                FrameOutput written = frameOutput.Read(result);
                settings = written.Apply(settings);
                return await RunAsync(
                    new RenderRequest(
                        export?.GlbPath ?? scenePath,
                        export?.Frames ?? FrameRange.Parse(framesText ?? "1"),
                        settings,
                        result.GetValue(chunk),
                        result.GetValue(output)!,
                        SizeText: result.GetValue(options.Size) ?? export?.SizeText,
                        SizeFromCamera: true,
                        Priority: result.GetValue(priority),
                        Detach: result.GetValue(detach),
                        FrameNumbers: export?.FarmToBlender,
                        EnvironmentPath: options.EnvironmentPath(result),
                        Output: written),
                    coordinator,
                    result.GetValue(workers),
                    result.GetValue(options.Device),
                    demoEconomy: false,
                    cancellationToken,
                    result.GetValue(budget) is long tokens ? new PaymentRequest(tokens, result.GetValue(ledgerKey), result.GetValue(rpc)) : null,
                    signIn).ConfigureAwait(false);
            },
            cancellationToken));
        return command;
    }

    /// <summary>The file name of a frame: <c>frame_0001.png</c>.</summary>
    public static string FrameFileName(int frame) => FrameDownloader.FrameFileName(frame);

    /// <summary>Renders through the embedded farm (or a remote one) and prints per-frame lines and a summary.</summary>
    /// <param name="request">What to render.</param>
    /// <param name="coordinator">A running coordinator, or null for the embedded farm.</param>
    /// <param name="workers">Workers of the embedded farm.</param>
    /// <param name="deviceIndex">The Vulkan device of the embedded workers.</param>
    /// <param name="demoEconomy">
    /// Run the embedded farm as a public one: demo tokens on its offline ledger, the budget locked in escrow, every
    /// frame spot-checked by another worker, verified frames paid and the rest refunded — printed step by step.
    /// </param>
    /// <param name="cancellationToken">Ctrl-C: stops the embedded farm; with a coordinator, stops following (the job keeps running).</param>
    /// <param name="paying">For a remote coordinator: the budget and the account that locks it; null for an unpaid job.</param>
    /// <param name="signIn">For a remote coordinator: how to sign in; null for the default key file.</param>
    public static async Task<int> RunAsync(
        RenderRequest request,
        Uri? coordinator,
        int workers,
        int? deviceIndex,
        bool demoEconomy,
        CancellationToken cancellationToken,
        PaymentRequest? paying = null,
        ClientSettings.Resolved? signIn = null)
    {
        if (request.ChunkSize < 1 || workers < 1 || workers > 64)
        {
            throw new UserInputException($"--chunk must be at least 1 and --workers between 1 and 64; got {request.ChunkSize} and {workers}.");
        }

        if (request.Priority is < -10 or > 10)
        {
            throw new UserInputException($"--priority must be between -10 and 10; got {request.Priority}.");
        }

        if (paying is not null && coordinator is null)
        {
            throw new UserInputException("--budget needs --coordinator: the embedded farm does not charge (`renderfarm demo` shows a paid job on it).");
        }

        signIn ??= new ClientSettings.Resolved(null, null, null);
        if (coordinator is null && signIn.NamesSignIn)
        {
            throw new UserInputException("--key and --api-key need --coordinator: the embedded farm signs in with a key of its own.");
        }

        if (coordinator is null && request.Detach)
        {
            throw new UserInputException("--detach needs --coordinator: the embedded farm lives in this process and ends with it.");
        }

        // Load once here so a broken scene is reported before any farm starts.
        SceneAsset scene = SceneAsset.Load(request.ScenePath);
        int camera = scene.CameraIndex(request.Settings.Camera);
        RenderSettings settings = request.SizeFromCamera
            ? request.Settings with { Size = RenderOptions.ResolveSize(request.SizeText, scene.CameraAspectRatio(camera)) }
            : request.Settings;
        settings.Validate();
        foreach (string warning in SceneWarnings(scene, request.Frames, settings))
        {
            await Console.Error.WriteLineAsync($"renderfarm: warning: {warning}").ConfigureAwait(false);
        }

        CreateOutputFolder(request.OutputFolder);
        Print($"Rendering {scene.Name}: frames {request.Frames}, {settings.Size}, {settings.SamplesPerPixel} spp, {scene.TriangleCount} triangles");

        using var bar = new ProgressBar(Console.Error);
        var events = new SynchronousProgress<WorkerEvent>(e => ReportWorkerEvent(bar, e));
        var clock = Stopwatch.StartNew();
        await using EmbeddedFarm? farm = coordinator is null
            ? await EmbeddedFarm.StartAsync(workers, deviceIndex, demoEconomy, events, cancellationToken).ConfigureAwait(false)
            : null;
        if (farm is not null)
        {
            Print($"Watch it in a browser: {await farm.CreateWebLinkAsync(cancellationToken).ConfigureAwait(false)}");
        }

        using CoordinatorClient client = farm is not null
            ? new CoordinatorClient(farm.CreateHttpClient(TimeSpan.FromMinutes(10)), ownsHttp: true)
            : signIn.CreateClient(coordinator!, TimeSpan.FromMinutes(10), paying?.KeyFile);
        var runner = new FarmJobRunner(client, bar);
        if (paying is not null && paying.BudgetTokens <= 0)
        {
            throw new UserInputException($"--budget must be a positive number of tokens; got {paying.BudgetTokens}.");
        }

        using EvmLedger? ledgerAccount = paying is not null
            ? await ChainAccount.ConnectAsync(client, "--budget", paying.KeyFile, paying.RpcUrl, cancellationToken).ConfigureAwait(false)
            : null;
        JobPayment? payment = farm is not null && demoEconomy
            ? await DemoEconomy.FundAsync(farm, request.Frames.Count, cancellationToken).ConfigureAwait(false)
            : ledgerAccount is not null ? new JobPayment(paying!.BudgetTokens, ledgerAccount.Address, ledgerAccount.LockAsync) : null;
        JobSummary submitted = await runner.SubmitAsync(request.ScenePath, ToSubmitRequest(request, settings), payment, cancellationToken, request.EnvironmentPath).ConfigureAwait(false);
        if (farm is null)
        {
            Print($"job {submitted.Id}: {client.JobPage(submitted.Id)}");
            if (submitted.Warning is { } notice)
            {
                await Console.Error.WriteLineAsync($"renderfarm: warning: {notice}").ConfigureAwait(false);
            }

            if (request.Detach)
            {
                Print($"detached; follow it with 'renderfarm job show {submitted.Id}', fetch its frames with 'renderfarm job download {submitted.Id} --out {request.OutputFolder}'");
                return 0;
            }
        }

        JobDetails job;
        try
        {
            FrameOutput output = request.Output ?? new FrameOutput(settings.Format, settings.ExrDepth, Denoise: false);
            job = await runner.FollowAsync(
                submitted.Id,
                request.Frames.Count,
                request.OutputFolder,
                cancellationToken,
                output.FileName,
                settings.Denoise ? DenoisedFrames.Writer(settings, output, bar.WriteLine) : null).ConfigureAwait(false);
        }
        catch (JobFailedException failed)
        {
            bar.Clear();
            await Console.Error.WriteLineAsync($"renderfarm: {failed.Message}").ConfigureAwait(false);
            return CommandRunner.JobFailedExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && farm is null)
        {
            // Ctrl-C or a closed terminal ends this process, not the job: it keeps running on the farm.
            bar.Clear();
            await Console.Error.WriteLineAsync(
                $"renderfarm: detached; job {submitted.Id} keeps running. 'renderfarm job download {submitted.Id} --out {request.OutputFolder}' fetches its frames, 'renderfarm job cancel {submitted.Id}' stops it.").ConfigureAwait(false);
            return CommandRunner.CancelledExitCode;
        }

        bar.Clear();
        RenameToSceneFrames(request);
        double renderSeconds = job.Tasks.SelectMany(t => t.Frames).Sum(f => f.RenderSeconds);
        long samples = settings.Size.PixelCount * settings.SamplesPerPixel * request.Frames.Count;
        Print($"{request.Frames.Count} frame(s) in {clock.Elapsed.TotalSeconds:F2} s ({renderSeconds / request.Frames.Count:F2} s/frame of rendering, {samples / renderSeconds / 1e6:F2} Msamples/s) -> {request.OutputFolder}");
        if (payment is not null)
        {
            bar.WriteLine("settlement: waiting for the coordinator to pay the verified frames");
            JobDetails settled = await JobFollower.WaitForSettlementAsync(client, job.Job.Id, cancellationToken).ConfigureAwait(false);
            await SettlementReport.PrintAsync(farm?.Ledger ?? (ILedger)ledgerAccount!, payment.Payer, settled, cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>What is worth saying about a scene before it is rendered: a frame range asked of a still scene.</summary>
    internal static IEnumerable<string> SceneWarnings(SceneAsset scene, FrameRange frames, RenderSettings settings)
    {
        foreach (string unsupported in scene.Unsupported)
        {
            yield return $"{scene.Name}: {unsupported}";
        }

        if (frames.Count > 1 && scene.AnimationDurationSeconds <= 0)
        {
            yield return $"{scene.Name} has no animation: all {frames.Count} frames will be the same picture.";
        }
        else if (frames.Count > 1 && settings.TimeOfFrame(frames.Last) > scene.AnimationDurationSeconds + (1 / settings.FramesPerSecond))
        {
            yield return string.Create(
                CultureInfo.InvariantCulture,
                $"{scene.Name}'s animation ends at {scene.AnimationDurationSeconds:0.###} s (frame {(int)Math.Floor(scene.AnimationDurationSeconds * settings.FramesPerSecond) + 1} at {settings.FramesPerSecond:0.###} fps); later frames hold its last pose.");
        }
    }

    private static SubmitJobRequest ToSubmitRequest(RenderRequest request, RenderSettings settings) => new(
        SceneSha256: "",
        request.Frames.ToString(),
        request.ChunkSize,
        settings.Size.ToString(),
        settings.SamplesPerPixel,
        settings.Seed,
        settings.MaxBounces,
        settings.ToneMapping.ToString().ToLowerInvariant(),
        Priority: request.Priority,
        ExposureStops: settings.ExposureStops,
        Background: string.Create(CultureInfo.InvariantCulture, $"{settings.Background.R},{settings.Background.G},{settings.Background.B}"),
        FramesPerSecond: settings.FramesPerSecond,
        SixteenBit: settings.SixteenBit,
        Camera: settings.Camera,
        Bsdf: settings.Bsdf.ToString().ToLowerInvariant(),
        EnvironmentStrength: settings.Environment?.Strength,
        EnvironmentRotation: settings.Environment?.RotationDegrees,
        Format: settings.Format.ToString().ToLowerInvariant(),
        ExrDepth: settings.Format == FrameFormat.Exr ? settings.ExrDepth.ToString().ToLowerInvariant() : null,
        Denoise: settings.Denoise);

    // A .blend's frames travel as farm frames 1..N from its frame_start; its output is named by the scene's own numbers.
    private static void RenameToSceneFrames(RenderRequest request)
    {
        if (request.FrameNumbers is not { } toScene)
        {
            return;
        }

        Func<int, string> name = request.Output is { } output ? output.FileName : FrameFileName;
        foreach (int frame in request.Frames.Frames)
        {
            string from = Path.Combine(request.OutputFolder, name(frame));
            if (File.Exists(from))
            {
                File.Move(from, Path.Combine(request.OutputFolder, name(toScene(frame))), overwrite: true);
            }
        }
    }

    private static void ReportWorkerEvent(ProgressBar bar, WorkerEvent e)
    {
        switch (e.Kind)
        {
            case WorkerEventKind.FrameRendered when e.Render is { } render:
                bar.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"frame {e.Frame,5}: {render.RenderTime.TotalSeconds,7:F2} s  {render.MegasamplesPerSecond,8:F2} Msamples/s"));
                break;
            case WorkerEventKind.Failed or WorkerEventKind.Retrying or WorkerEventKind.LeaseLost:
                bar.WriteLine(e.Message);
                break;
        }
    }

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    private static void CreateOutputFolder(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Cannot create output folder '{folder}': {exception.Message}", exception);
        }
    }
}

/// <summary>How a client pays for a job on a remote coordinator.</summary>
/// <param name="BudgetTokens">The most to pay, in whole tokens.</param>
/// <param name="KeyFile">The paying account's key file.</param>
/// <param name="RpcUrl">A JSON-RPC endpoint of the coordinator's chain.</param>
internal sealed record PaymentRequest(long BudgetTokens, string? KeyFile, string? RpcUrl);

/// <summary>What to render and where to put it.</summary>
/// <param name="ScenePath">The glTF file.</param>
/// <param name="Frames">Frames to render.</param>
/// <param name="Settings">Render settings.</param>
/// <param name="ChunkSize">Frames per farm task.</param>
/// <param name="OutputFolder">Folder for the PNG frames.</param>
/// <param name="SizeText">The <c>--size</c> as written (null when not given), resolved against the camera's aspect.</param>
/// <param name="SizeFromCamera">Whether the size comes from <paramref name="SizeText"/> and the camera rather than <paramref name="Settings"/>.</param>
/// <param name="Priority">Queue priority on a coordinator.</param>
/// <param name="Detach">Submit and return without following the job.</param>
/// <param name="FrameNumbers">Maps a farm frame to the number its file gets (a .blend's own frame numbers); null keeps it.</param>
/// <param name="EnvironmentPath">The environment map file <see cref="RenderSettings.Environment"/> names, uploaded beside the scene; null for none.</param>
/// <param name="Output">The files to write (format, EXR depth, denoising); null for what the settings deliver, undenoised.</param>
internal sealed record RenderRequest(
    string ScenePath,
    FrameRange Frames,
    RenderSettings Settings,
    int ChunkSize,
    string OutputFolder,
    string? SizeText = null,
    bool SizeFromCamera = false,
    int Priority = 0,
    bool Detach = false,
    Func<int, int>? FrameNumbers = null,
    string? EnvironmentPath = null,
    FrameOutput? Output = null);
