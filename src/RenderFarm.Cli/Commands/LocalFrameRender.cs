using System.Diagnostics;
using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// Renders frames on this machine's device for the outputs a farm does not deliver: linear EXR with AOVs, and
/// denoised frames. The frame is rendered exactly as a farm's provider renders it (same path tracer, settings and
/// random streams); the AOVs come from their own pass and the denoiser runs afterwards, on the finished frame.
/// </summary>
internal static class LocalFrameRender
{
    public static async Task<int> RunAsync(
        string scenePath,
        FrameRange frames,
        RenderSettings settings,
        string? sizeText,
        string outputFolder,
        FrameOutput output,
        int? deviceIndex,
        Func<int, int>? frameNumbers,
        CancellationToken cancellationToken,
        string? environmentPath = null)
    {
        SceneAsset scene = SceneAsset.Load(scenePath);
        settings = settings with { Size = RenderOptions.ResolveSize(sizeText, scene.CameraAspectRatio()) };
        settings.Validate();
        foreach (string warning in RenderCommand.SceneWarnings(scene, frames, settings))
        {
            await Console.Error.WriteLineAsync($"renderfarm: warning: {warning}").ConfigureAwait(false);
        }

        try
        {
            Directory.CreateDirectory(outputFolder);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Cannot create output folder '{outputFolder}': {exception.Message}", exception);
        }

        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        Print($"Rendering {scene.Name} on {device.Info.Name}: frames {frames}, {settings.Size}, {settings.SamplesPerPixel} spp, {scene.TriangleCount} triangles, {Describe(output)}");
        var clock = Stopwatch.StartNew();
        double renderSeconds = 0;
        using var tracer = new PathTracer(device);
        // The map the options read and hashed; the same light a farm's worker builds from the uploaded file.
        if (settings.Environment is { } environment && environmentPath is not null)
        {
            tracer.Environment = new EnvironmentLight(EnvironmentFile.Read(environmentPath), environment.Strength, environment.RotationDegrees);
        }

        using var aovPass = new AovPass(tracer);
        foreach (int frame in frames.Frames)
        {
            cancellationToken.ThrowIfCancellationRequested();
            FrameRender render = await Task.Run(() => tracer.Render(scene, frame, settings, progress: null, cancellationToken), cancellationToken).ConfigureAwait(false);
            renderSeconds += render.WallTime.TotalSeconds;
            var step = Stopwatch.StartNew();
            FrameAovs aovs = aovPass.Render(scene, frame, settings, cancellationToken);
            double aovSeconds = step.Elapsed.TotalSeconds;
            step.Restart();
            HdrImage? denoised = output.Denoise ? Denoiser.Denoise(render.Image, aovs) : null;
            double denoiseSeconds = step.Elapsed.TotalSeconds;
            string path = Path.Combine(outputFolder, output.FileName(frameNumbers?.Invoke(frame) ?? frame));
            if (output.Format == FrameFormat.Exr)
            {
                ExrFrame.Write(path, denoised ?? render.Image, aovs, output.ExrDepth, noisy: denoised is null ? null : render.Image);
            }
            else
            {
                PngFrameWriter.Write(denoised ?? render.Image, path, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
            }

            Print($"frame {frame,5}: {render.WallTime.TotalSeconds,7:F2} s render, {aovSeconds:F2} s AOVs{(output.Denoise ? $", {denoiseSeconds:F2} s denoise" : "")} -> {Path.GetFileName(path)}");
        }

        long samples = settings.Size.PixelCount * settings.SamplesPerPixel * frames.Count;
        Print($"{frames.Count} frame(s) in {clock.Elapsed.TotalSeconds:F2} s ({renderSeconds / frames.Count:F2} s/frame of rendering, {samples / renderSeconds / 1e6:F2} Msamples/s) -> {outputFolder}");
        return 0;
    }

    private static string Describe(FrameOutput output) =>
        (output.Format == FrameFormat.Exr ? $"EXR ({output.ExrDepth.ToString().ToLowerInvariant()}) with AOVs" : "PNG")
        + (output.Denoise ? ", denoised" : "");

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));
}
