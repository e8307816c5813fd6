using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Farm;
using RenderFarm.Cli.Terminal;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;
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
        var scene = new Argument<string>("scene") { Description = "The glTF 2.0 scene (.glb or .gltf with embedded buffers)." };
        var frames = new Option<string>("--frames") { Description = "Frames to render, N or FIRST-LAST; frame 1 is at time 0.", DefaultValueFactory = _ => "1" };
        var output = new Option<string>("--out") { Description = "Folder for the PNG frames (created if missing).", DefaultValueFactory = _ => "frames" };
        var chunk = new Option<int>("--chunk") { Description = "Frames per farm task.", DefaultValueFactory = _ => 1 };
        var workers = new Option<int>("--workers") { Description = "Workers of the embedded farm.", DefaultValueFactory = _ => 1 };
        var coordinator = new Option<string?>("--coordinator") { Description = "Submit to this running coordinator instead of the embedded farm." };
        var options = new RenderOptions();
        var command = new Command("render", "Render frames of a glTF scene to PNG files on a farm (by default one in this process, on the local Vulkan device).");
        command.Arguments.Add(scene);
        command.Options.Add(frames);
        command.Options.Add(output);
        command.Options.Add(chunk);
        command.Options.Add(workers);
        command.Options.Add(coordinator);
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
                cancellationToken),
            cancellationToken));
        return command;
    }

    /// <summary>The file name of a frame: <c>frame_0001.png</c>.</summary>
    public static string FrameFileName(int frame) => string.Create(CultureInfo.InvariantCulture, $"frame_{frame:D4}.png");

    /// <summary>Renders through the embedded farm (or a remote one) and prints per-frame lines and a summary.</summary>
    public static async Task<int> RunAsync(RenderRequest request, Uri? coordinator, int workers, int? deviceIndex, CancellationToken cancellationToken)
    {
        if (request.ChunkSize < 1 || workers < 1 || workers > 64)
        {
            throw new UserInputException($"--chunk must be at least 1 and --workers between 1 and 64; got {request.ChunkSize} and {workers}.");
        }

        // Load once here so a broken scene is reported before any farm starts.
        SceneAsset scene = SceneAsset.Load(request.ScenePath);
        CreateOutputFolder(request.OutputFolder);
        Print($"Rendering {scene.Name}: frames {request.Frames}, {request.Settings.Size}, {request.Settings.SamplesPerPixel} spp, {scene.TriangleCount} triangles");

        using var bar = new ProgressBar(Console.Error);
        var events = new SynchronousProgress<WorkerEvent>(e => ReportWorkerEvent(bar, e));
        var clock = Stopwatch.StartNew();
        await using EmbeddedFarm? farm = coordinator is null
            ? await EmbeddedFarm.StartAsync(workers, deviceIndex, events, cancellationToken).ConfigureAwait(false)
            : null;
        using var http = new HttpClient { BaseAddress = farm?.Address ?? coordinator, Timeout = TimeSpan.FromMinutes(10) };
        JobDetails job;
        try
        {
            job = await new FarmJobRunner(http, bar).RunAsync(
                request.ScenePath, request.Frames, request.Settings, request.ChunkSize, request.OutputFolder, cancellationToken).ConfigureAwait(false);
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

/// <summary>What to render and where to put it.</summary>
/// <param name="ScenePath">The glTF file.</param>
/// <param name="Frames">Frames to render.</param>
/// <param name="Settings">Render settings.</param>
/// <param name="ChunkSize">Frames per farm task.</param>
/// <param name="OutputFolder">Folder for the PNG frames.</param>
internal sealed record RenderRequest(string ScenePath, FrameRange Frames, RenderSettings Settings, int ChunkSize, string OutputFolder);
