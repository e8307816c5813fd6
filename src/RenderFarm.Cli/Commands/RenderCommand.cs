using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Farm;
using RenderFarm.Cli.Terminal;
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
        var scene = new Argument<string>("scene") { Description = "The glTF 2.0 scene: a .glb, or a .gltf with the files it names beside it (packed into one .glb for the farm)." };
        var frames = new Option<string>("--frames") { Description = "Frames to render, N or FIRST-LAST; frame 1 is at time 0.", DefaultValueFactory = _ => "1" };
        var output = new Option<string>("--out") { Description = "Folder for the PNG frames (created if missing).", DefaultValueFactory = _ => "frames" };
        var chunk = new Option<int>("--chunk") { Description = "Frames per farm task.", DefaultValueFactory = _ => 1 };
        var workers = new Option<int>("--workers") { Description = "Workers of the embedded farm.", DefaultValueFactory = _ => 1 };
        var coordinator = new Option<string?>("--coordinator") { Description = "Submit to this running coordinator instead of the embedded farm." };
        var budget = new Option<long?>("--budget") { Description = "With --coordinator: the most tokens to pay, locked in the job's escrow before any work starts." };
        var ledgerKey = new Option<string?>("--ledger-key") { Description = "With --budget: the key file of the account that pays." };
        var rpc = new Option<string?>("--rpc") { Description = "With --budget: a JSON-RPC endpoint of the coordinator's chain." };
        Option<string?> key = ClientSignIn.CreateKeyOption();
        Option<string?> apiKey = ClientSignIn.CreateApiKeyOption();
        var options = new RenderOptions();
        var command = new Command("render", "Render frames of a glTF scene to PNG files on a farm (by default one in this process, on the local Vulkan device).");
        command.Arguments.Add(scene);
        command.Options.Add(frames);
        command.Options.Add(output);
        command.Options.Add(chunk);
        command.Options.Add(workers);
        command.Options.Add(coordinator);
        command.Options.Add(budget);
        command.Options.Add(ledgerKey);
        command.Options.Add(rpc);
        command.Options.Add(key);
        command.Options.Add(apiKey);
        options.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            () => RunAsync(
                new RenderRequest(
                    result.GetValue(scene)!,
                    FrameRange.Parse(result.GetValue(frames)!),
                    options.Read(result),
                    result.GetValue(chunk),
                    result.GetValue(output)!),
                result.GetValue(coordinator) is string url ? WorkerCommand.ParseUrl(url) : null,
                result.GetValue(workers),
                result.GetValue(options.Device),
                demoEconomy: false,
                cancellationToken,
                result.GetValue(budget) is long tokens ? new PaymentRequest(tokens, result.GetValue(ledgerKey), result.GetValue(rpc)) : null,
                new ClientSignIn(result.GetValue(key), result.GetValue(apiKey))),
            cancellationToken));
        return command;
    }

    /// <summary>The file name of a frame: <c>frame_0001.png</c>.</summary>
    public static string FrameFileName(int frame) => string.Create(CultureInfo.InvariantCulture, $"frame_{frame:D4}.png");

    /// <summary>Renders through the embedded farm (or a remote one) and prints per-frame lines and a summary.</summary>
    /// <param name="request">What to render.</param>
    /// <param name="coordinator">A running coordinator, or null for the embedded farm.</param>
    /// <param name="workers">Workers of the embedded farm.</param>
    /// <param name="deviceIndex">The Vulkan device of the embedded workers.</param>
    /// <param name="demoEconomy">
    /// Run the embedded farm as a public one: demo tokens on its offline ledger, the budget locked in escrow, every
    /// frame spot-checked by another worker, verified frames paid and the rest refunded — printed step by step.
    /// </param>
    /// <param name="cancellationToken">Ctrl-C.</param>
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
        ClientSignIn? signIn = null)
    {
        if (request.ChunkSize < 1 || workers < 1 || workers > 64)
        {
            throw new UserInputException($"--chunk must be at least 1 and --workers between 1 and 64; got {request.ChunkSize} and {workers}.");
        }

        if (paying is not null && coordinator is null)
        {
            throw new UserInputException("--budget needs --coordinator: the embedded farm does not charge (`renderfarm demo` shows a paid job on it).");
        }

        signIn ??= new ClientSignIn(null, null);
        if (coordinator is null && (signIn.KeyFile is not null || signIn.ApiKey is not null))
        {
            throw new UserInputException("--key and --api-key need --coordinator: the embedded farm signs in with a key of its own.");
        }

        // Load once here so a broken scene is reported before any farm starts.
        SceneAsset scene = SceneAsset.Load(request.ScenePath);
        CreateOutputFolder(request.OutputFolder);
        Print($"Rendering {scene.Name}: frames {request.Frames}, {request.Settings.Size}, {request.Settings.SamplesPerPixel} spp, {scene.TriangleCount} triangles");

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

        using HttpClient http = farm?.CreateHttpClient(TimeSpan.FromMinutes(10))
            ?? signIn.CreateHttpClient(coordinator!, TimeSpan.FromMinutes(10), paying?.KeyFile);
        var runner = new FarmJobRunner(http, bar);
        if (paying is not null && paying.BudgetTokens <= 0)
        {
            throw new UserInputException($"--budget must be a positive number of tokens; got {paying.BudgetTokens}.");
        }

        using EvmLedger? client = paying is not null
            ? await ChainAccount.ConnectAsync(http, "--budget", paying.KeyFile, paying.RpcUrl, cancellationToken).ConfigureAwait(false)
            : null;
        JobPayment? payment = farm is not null && demoEconomy
            ? await DemoEconomy.FundAsync(farm, request.Frames.Count, cancellationToken).ConfigureAwait(false)
            : client is not null ? new JobPayment(paying!.BudgetTokens, client.Address, client.LockAsync) : null;
        JobDetails job;
        try
        {
            job = await runner.RunAsync(
                request.ScenePath, request.Frames, request.Settings, request.ChunkSize, request.OutputFolder, payment, cancellationToken).ConfigureAwait(false);
        }
        catch (FarmJobFailedException failed)
        {
            bar.Clear();
            await Console.Error.WriteLineAsync($"renderfarm: {failed.Message}").ConfigureAwait(false);
            return 1;
        }

        bar.Clear();
        double renderSeconds = job.Tasks.SelectMany(t => t.Frames).Sum(f => f.RenderSeconds);
        long samples = request.Settings.Size.PixelCount * request.Settings.SamplesPerPixel * request.Frames.Count;
        Print($"{request.Frames.Count} frame(s) in {clock.Elapsed.TotalSeconds:F2} s ({renderSeconds / request.Frames.Count:F2} s/frame of rendering, {samples / renderSeconds / 1e6:F2} Msamples/s) -> {request.OutputFolder}");
        if (payment is not null)
        {
            bar.WriteLine("settlement: waiting for the coordinator to pay the verified frames");
            JobDetails settled = await runner.WaitForSettlementAsync(job.Job.Id, cancellationToken).ConfigureAwait(false);
            await SettlementReport.PrintAsync(farm?.Ledger ?? (ILedger)client!, payment.Payer, settled, cancellationToken).ConfigureAwait(false);
        }

        return 0;
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
internal sealed record RenderRequest(string ScenePath, FrameRange Frames, RenderSettings Settings, int ChunkSize, string OutputFolder);
