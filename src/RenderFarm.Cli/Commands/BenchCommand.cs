using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Terminal;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Reference;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm bench</c>: renders one frame of a scene on the local Vulkan device and the same
/// frame with Blender Cycles on the CPU in the same run, and prints both speeds, their ratio and how
/// alike the images are.
/// </summary>
internal static class BenchCommand
{
    private const string DefaultScene = "samples/cornell-box/cornell-box.glb";

    private static readonly string[] DefaultNoiseScenes = [DefaultScene, "samples/textured-cube/textured-cube.glb", NoiseBenchmark.DenseScene];

    // Reduced size of the images compared, as in CyclesAgreementFacts: averaging quiets the noise.
    private const int AgreementSize = 32;

    public static Command Create()
    {
        var scene = new Option<string>("--scene") { Description = "The glTF scene.", DefaultValueFactory = _ => DefaultScene };
        var frame = new Option<int>("--frame") { Description = "Frame to render.", DefaultValueFactory = _ => 1 };
        var size = new Option<string>("--size") { Description = "Frame size WIDTHxHEIGHT.", DefaultValueFactory = _ => "256x256" };
        var samples = new Option<int>("--spp") { Description = "Samples per pixel.", DefaultValueFactory = _ => 64 };
        var repeat = new Option<int>("--repeat") { Description = "Timed renders of our frame (the best is reported).", DefaultValueFactory = _ => 3 };
        var noCycles = new Option<bool>("--no-cycles") { Description = "Skip the Blender Cycles reference." };
        var blender = new Option<string>("--blender") { Description = "Blender executable.", DefaultValueFactory = _ => "blender" };
        var threads = new Option<int?>("--threads") { Description = "Cycles render threads (default: all cores)." };
        var output = new Option<string>("--out") { Description = "Folder for the two images.", DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "renderfarm-bench") };
        var device = new Option<int?>("--device") { Description = "Vulkan device index." };
        var noise = new Option<bool>("--noise")
        {
            Description = "Compare noise instead of speed: per scene, each renderer's reference and a ladder of spp, relMSE and time to equal error.",
        };
        var scenes = new Option<string>("--scenes")
        {
            Description = "Scenes of --noise, comma-separated (the dense sample is generated with Blender when missing).",
            DefaultValueFactory = _ => string.Join(',', DefaultNoiseScenes),
        };
        var ladder = new Option<string>("--ladder") { Description = "Samples per pixel of --noise's timed renders.", DefaultValueFactory = _ => "4,16,64" };
        var referenceSpp = new Option<int>("--reference-spp") { Description = "Samples per pixel of --noise's references.", DefaultValueFactory = _ => 1024 };
        var sampler = new Option<string>("--sampler")
        {
            Description = "Sampler of our renders: independent or stratified; with --noise, a comma-separated list (default both).",
        };
        var bsdf = new Option<BsdfModel>("--bsdf") { Description = "Surface model of our renders: principled or gltf.", DefaultValueFactory = _ => BsdfModel.Principled };
        var bvh = new Option<string?>("--bvh") { Description = "Build the BVH of synthetic scenes of these triangle counts (e.g. 1000000,10000000) and report time and memory." };
        var instancing = new Option<string?>("--instancing")
        {
            Description = "Build frames of synthetic scenes of one mesh drawn by many nodes, TRIANGLESxINSTANCES each (e.g. 100000x120), instanced and flattened, and report time and memory.",
        };
        var command = new Command("bench", "Measure render speed against Blender Cycles on the same scene and frame.")
        {
            scene, frame, size, samples, repeat, noCycles, blender, threads, output, device, noise, scenes, ladder, referenceSpp, bvh, instancing, bsdf, sampler,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            () => result.GetValue(bvh) is { } counts
                ? Task.FromResult(BvhScaleBenchmark.Run(ParseList(counts, "--bvh", 1, 50_000_000), result.GetValue(device)))
                : result.GetValue(instancing) is { } instancingCases
                ? Task.FromResult(InstancingBenchmark.Run(ParsePairs(instancingCases, "--instancing"), result.GetValue(device)))
                : result.GetValue(noise)
                ? NoiseBenchmark.RunAsync(
                    result.GetValue(scenes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    ImageSize.Parse(result.GetValue(size)!),
                    result.GetValue(referenceSpp),
                    ParseList(result.GetValue(ladder)!, "--ladder", 1, RenderSettings.MaxSamplesPerPixel),
                    result.GetValue(noCycles) ? null : result.GetValue(blender),
                    result.GetValue(threads),
                    result.GetValue(output)!,
                    result.GetValue(device),
                    result.GetValue(bsdf),
                    ParseSamplers(result.GetValue(sampler) ?? "independent,stratified"),
                    cancellationToken)
                : RunAsync(
                result.GetValue(scene)!,
                result.GetValue(frame),
                new RenderSettings
                {
                    Size = ImageSize.Parse(result.GetValue(size)!),
                    SamplesPerPixel = result.GetValue(samples),
                    ToneMapping = ToneMapping.Clamp,
                    Bsdf = result.GetValue(bsdf),
                    Sampler = ParseSamplers(result.GetValue(sampler) ?? "independent") is [var one] ? one : throw new UserInputException("--sampler takes one sampler without --noise."),
                },
                Math.Max(1, result.GetValue(repeat)),
                result.GetValue(noCycles) ? null : result.GetValue(blender),
                result.GetValue(threads),
                result.GetValue(output)!,
                result.GetValue(device),
                cancellationToken),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(
        string scenePath, int frame, RenderSettings settings, int repeat, string? blender, int? threads, string outputFolder, int? deviceIndex, CancellationToken cancellationToken)
    {
        settings.Validate();
        SceneAsset scene = SceneAsset.Load(scenePath);
        Directory.CreateDirectory(outputFolder);
        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        // The first frame pays for pipeline creation (the tracer's, for this scene's features) and the driver's caches.
        var warmUpClock = Stopwatch.StartNew();
        using var tracer = new PathTracer(device);
        Print($"scene {scene.Name} ({scene.TriangleCount} triangles), frame {frame}, {settings.Size}, {settings.SamplesPerPixel} spp, {settings.MaxBounces} bounces, {settings.Sampler} sampler");
        Print($"device {device.Info}");

        // The first dispatches pay for pipeline compilation and caches; keep them out of the figures.
        FrameRender warmUp = tracer.Render(scene, frame, settings with { SamplesPerPixel = 1 }, cancellationToken: cancellationToken);
        Print($"warm-up     {warmUpClock.Elapsed.TotalSeconds:F3} s for the tracer and a 1 spp frame (of which the frame {warmUp.WallTime.TotalSeconds:F3} s), pipeline creation included");
        FrameRender? best = null;
        // lavapipe's worker threads run in this process, so its CPU time counts the render's work whatever else the
        // machine runs; on a busy machine it is steadier than wall time for comparing builds.
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        using (var bar = new ProgressBar(Console.Error))
        {
            for (int i = 0; i < repeat; i++)
            {
                int run = i;
                var progress = new SynchronousProgress<FrameProgress>(p => bar.Update(
                    (run + ((double)p.SamplesDone / p.SamplesTotal)) / repeat, $"renderfarm run {run + 1}/{repeat}"));
                FrameRender render = tracer.Render(scene, frame, settings, progress, cancellationToken);
                if (best is null || render.WallTime < best.WallTime)
                {
                    best = render;
                }
            }
        }

        double cpuPerFrame = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / repeat;
        string ours = Path.Combine(outputFolder, "renderfarm.png");
        PngFrameWriter.Write(best!.Image, ours, ToneMapping.Clamp, 0, sixteenBit: false);
        double samplesPerSecond = best.Samples / best.WallTime.TotalSeconds;
        Print($"renderfarm  wall {best.WallTime.TotalSeconds:F3} s  GPU {best.GpuTime.TotalSeconds:F3} s  {samplesPerSecond / 1e6:F3} Msamples/s  {best.Rays / best.GpuTime.TotalSeconds / 1e6:F3} Mrays/s (GPU time)  best of {repeat}");
        Print($"cpu         {cpuPerFrame:F3} s of process CPU time a frame (mean of {repeat}; lavapipe's threads included)");

        if (blender is null)
        {
            return 0;
        }

        string script = RepositoryFiles.Find(CyclesReference.ScriptPath);
        Console.Error.WriteLine("rendering the same frame with Blender Cycles...");
        string cyclesImage = Path.Combine(outputFolder, "cycles.png");
        CyclesRender cycles = await CyclesReference.RenderAsync(
            blender, script, Path.GetFullPath(scenePath), frame, settings.Size, settings.SamplesPerPixel, threads, cyclesImage, cancellationToken).ConfigureAwait(false);
        double cyclesSamplesPerSecond = best.Samples / cycles.RenderTime.TotalSeconds;
        Print($"cycles      render {cycles.RenderTime.TotalSeconds:F3} s  (process {cycles.ProcessTime.TotalSeconds:F3} s, CPU {cycles.RenderCpuTime?.TotalSeconds ?? double.NaN:F3} s over the render)  {cyclesSamplesPerSecond / 1e6:F3} Msamples/s  CPU, {(threads ?? Environment.ProcessorCount)} threads");
        Print($"ratio       renderfarm is {cycles.RenderTime.TotalSeconds / best.WallTime.TotalSeconds:F2}x the speed of Cycles (render time / our wall time)");
        if (cycles.RenderCpuTime is { } cyclesCpu)
        {
            // On a busy machine wall times follow the load; CPU times follow the work.
            Print($"ratio (CPU) renderfarm is {cyclesCpu.TotalSeconds / cpuPerFrame:F2}x the speed of Cycles (its CPU time over the render / our process CPU time a frame)");
        }

        (double ssim, double brightness) = ImageSimilarity.CompareRenders(ours, cyclesImage, AgreementSize);
        Print($"agreement   SSIM {ssim:F3} at equal mean brightness on {AgreementSize}x{AgreementSize} luminance; mean brightness ratio {brightness:F3} (see docs/rendering.md)");
        Print($"images      {ours}  {cyclesImage}");
        return 0;
    }

    // "TRIANGLESxINSTANCES,..." with at most 10 M triangles per mesh and SceneLimits.MaxInstances instances.
    private static (int Triangles, int Instances)[] ParsePairs(string text, string option)
    {
        var pairs = new List<(int, int)>();
        foreach (string item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = item.Split('x');
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int triangles) || triangles < 1 || triangles > 10_000_000
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int instances) || instances < 2 || instances > SceneLimits.MaxInstances)
            {
                throw new UserInputException($"{option} takes TRIANGLESxINSTANCES pairs (1 to 10000000 triangles, 2 to {SceneLimits.MaxInstances} instances); got '{item}'.");
            }

            pairs.Add((triangles, instances));
        }

        return pairs.Count is > 0 and <= 16 ? [.. pairs] : throw new UserInputException($"{option} takes 1 to 16 TRIANGLESxINSTANCES pairs.");
    }

    private static int[] ParseList(string text, string option, int min, int max)
    {
        string[] parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] < min || values[i] > max)
            {
                throw new UserInputException($"{option} takes comma-separated whole numbers from {min} to {max}; got '{parts[i]}'.");
            }
        }

        return values.Length > 0 && values.Length <= 16 ? values : throw new UserInputException($"{option} takes 1 to 16 numbers.");
    }

    // Distinct samplers, in the order given.
    private static SamplerKind[] ParseSamplers(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var values = new List<SamplerKind>();
        foreach (string part in parts)
        {
            SamplerKind kind = part.ToLowerInvariant() switch
            {
                "independent" => SamplerKind.Independent,
                "stratified" => SamplerKind.Stratified,
                _ => throw new UserInputException($"--sampler takes independent and/or stratified, comma-separated; got '{part}'."),
            };
            if (!values.Contains(kind))
            {
                values.Add(kind);
            }
        }

        return values.Count > 0 ? [.. values] : throw new UserInputException("--sampler takes independent and/or stratified.");
    }

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));
}
