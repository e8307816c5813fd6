using System.Diagnostics;
using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Benchmarks;

/// <summary>
/// The denoiser's noise and time against the undenoised frame: a scene rendered at a few sample counts, each frame
/// compared with a high-sample reference of the same frame (another seed) by relative MSE before and after denoising,
/// with the render, AOV-pass and denoise times. Two references with different seeds also give the reference's own
/// error, the floor under every figure.
/// </summary>
internal static class DenoiseBenchmark
{
    public static Task<int> RunAsync(BenchOptions options)
    {
        string sceneName = options.String("scene", "cornell");
        var size = ImageSize.Parse(options.String("size", "64x64"));
        int[] sampleCounts = [.. options.String("spp", "4,16,64").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
        int referenceSpp = options.Int("reference", 256);
        int runs = options.Int("runs", 5);
        string scenePath = sceneName switch
        {
            "cornell" => "samples/cornell-box/cornell-box.glb",
            "cube" => "samples/textured-cube/textured-cube.glb",
            _ => throw new ArgumentException($"--scene must be cornell or cube; got '{sceneName}'."),
        };

        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine(scenePath));
        using ComputeDevice device = ComputeDevice.Open();
        using var tracer = new PathTracer(device);
        using var aovPass = new AovPass(tracer);
        var settings = new RenderSettings { Size = size, Seed = 1 };
        Print($"{sceneName} {size} frame 1 on {device.Info.Name}, reference {referenceSpp} spp; denoise time: median of {runs} runs on {Environment.ProcessorCount} cores");

        FrameRender reference = tracer.Render(scene, 1, settings with { SamplesPerPixel = referenceSpp, Seed = 1_000 });
        FrameRender second = tracer.Render(scene, 1, settings with { SamplesPerPixel = referenceSpp, Seed = 2_000 });
        // Two independent references differ by twice the error of one.
        double floor = DenoiseMetrics.RelativeMse(second.Image, reference.Image) / 2;
        Print($"reference: {reference.WallTime.TotalSeconds:F1} s; its own relative MSE ≈ {floor:F5}");
        var aovClock = Stopwatch.StartNew();
        FrameAovs aovs = aovPass.Render(scene, 1, settings);
        Print($"AOV pass ({AovPass.PositionsPerPixel} primary rays a pixel): {aovClock.Elapsed.TotalMilliseconds:F0} ms");
        Print($"{"spp",5} {"render s",9} {"relMSE noisy",13} {"relMSE denoised",16} {"factor",7} {"denoise ms",11}");
        foreach (int spp in sampleCounts)
        {
            FrameRender noisy = tracer.Render(scene, 1, settings with { SamplesPerPixel = spp });
            HdrImage denoised = Denoiser.Denoise(noisy.Image, aovs);
            var times = new double[runs];
            for (int i = 0; i < runs; i++)
            {
                var clock = Stopwatch.StartNew();
                Denoiser.Denoise(noisy.Image, aovs);
                times[i] = clock.Elapsed.TotalMilliseconds;
            }

            Array.Sort(times);
            double before = DenoiseMetrics.RelativeMse(noisy.Image, reference.Image);
            double after = DenoiseMetrics.RelativeMse(denoised, reference.Image);
            Print($"{spp,5} {noisy.WallTime.TotalSeconds,9:F2} {before,13:F5} {after,16:F5} {before / after,7:F2} {times[runs / 2],11:F1}");
        }

        return Task.FromResult(0);
    }

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));
}
