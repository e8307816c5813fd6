using System.CommandLine;
using System.Globalization;
using RenderFarm.Cli.Terminal;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Cli.Commands;

/// <summary><c>renderfarm render SCENE</c>: renders a frame range of a glTF scene to PNG files.</summary>
internal static class RenderCommand
{
    public static Command Create()
    {
        var scene = new Argument<string>("scene") { Description = "The glTF 2.0 scene (.glb or .gltf)." };
        var frames = new Option<string>("--frames") { Description = "Frames to render, N or FIRST-LAST; frame 1 is at time 0.", DefaultValueFactory = _ => "1" };
        var output = new Option<string>("--out") { Description = "Folder for the PNG frames (created if missing).", DefaultValueFactory = _ => "frames" };
        var options = new RenderOptions();
        var command = new Command("render", "Render frames of a glTF scene to PNG files on the local Vulkan device.");
        command.Arguments.Add(scene);
        command.Options.Add(frames);
        command.Options.Add(output);
        options.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            () => Task.FromResult(Run(
                result.GetValue(scene)!,
                FrameRange.Parse(result.GetValue(frames)!),
                result.GetValue(output)!,
                options.Read(result),
                result.GetValue(options.Device),
                cancellationToken)),
            cancellationToken));
        return command;
    }

    private static int Run(string scenePath, FrameRange frames, string outputFolder, RenderSettings settings, int? deviceIndex, CancellationToken cancellationToken)
    {
        SceneAsset scene = SceneAsset.Load(scenePath);
        CreateOutputFolder(outputFolder);
        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        using var tracer = new PathTracer(device);

        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Rendering {scene.Name}: frames {frames}, {settings.Size}, {settings.SamplesPerPixel} spp, {scene.TriangleCount} triangles on {device.Info}"));
        using var bar = new ProgressBar(Console.Error);
        var total = new RenderTotals();
        foreach (int frame in frames.Frames)
        {
            var progress = new SynchronousProgress<FrameProgress>(p => bar.Update(
                ((frame - frames.First) + ((double)p.SamplesDone / p.SamplesTotal)) / frames.Count,
                $"frame {frame} ({frame - frames.First + 1}/{frames.Count})"));
            FrameRender render = tracer.Render(scene, frame, settings, progress, cancellationToken);
            string path = Path.Combine(outputFolder, FrameFileName(frame));
            PngFrameWriter.Write(render.Image, path, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
            total.Add(render);
            bar.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"frame {frame,5}: {render.WallTime.TotalSeconds,7:F2} s (GPU {render.GpuTime.TotalSeconds:F2} s)  {render.Samples / render.GpuTime.TotalSeconds / 1e6,8:F2} Msamples/s  {render.Rays / render.GpuTime.TotalSeconds / 1e6,8:F2} Mrays/s  -> {path}"));
        }

        bar.Clear();
        Console.WriteLine(total.Summary());
        return 0;
    }

    /// <summary>The file name of a frame: <c>frame_0001.png</c>.</summary>
    public static string FrameFileName(int frame) => string.Create(CultureInfo.InvariantCulture, $"frame_{frame:D4}.png");

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
