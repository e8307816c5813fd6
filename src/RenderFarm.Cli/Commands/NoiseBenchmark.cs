using System.Diagnostics;
using System.Globalization;
using System.Text;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Reference;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm bench --noise</c>: for us and for Cycles on each scene, a high-spp reference of the same renderer,
/// then a ladder of sample counts, each timed and scored by relative MSE against that reference; then the time each
/// renderer needs to reach the same error: the samples per pixel interpolated on its log-log error curve, timed by a
/// line (fixed + per-sample cost) through its measured times. Prints one table.
/// </summary>
internal static class NoiseBenchmark
{
    // Different streams for the reference and the ladder, so a ladder render is not a prefix of its reference.
    private const uint LadderSeed = 1;
    private const uint ReferenceSeed = 7_919;

    /// <summary>The generated 100k+ triangle textured scene, and the script that makes it.</summary>
    public const string DenseScene = "samples/dense-spheres/dense-spheres.glb";
    public const string DenseSceneScript = "samples/dense-spheres/make_dense_spheres.py";

    public static async Task<int> RunAsync(
        IReadOnlyList<string> scenePaths,
        ImageSize size,
        int referenceSpp,
        IReadOnlyList<int> ladder,
        string? blender,
        int? threads,
        string outputFolder,
        int? deviceIndex,
        BsdfModel bsdf,
        IReadOnlyList<SamplerKind> samplers,
        CancellationToken cancellationToken)
    {
        if (ladder.Count < 2 || ladder.Any(spp => spp < 1 || spp >= referenceSpp))
        {
            throw new UserInputException($"--ladder needs at least two sample counts, each between 1 and --reference-spp ({referenceSpp}) - 1.");
        }

        if (samplers.Count == 0)
        {
            throw new UserInputException("--sampler needs at least one of independent, stratified.");
        }

        Directory.CreateDirectory(outputFolder);
        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        using var tracer = new PathTracer(device);
        Print($"device {device.Info}; {size}, reference {referenceSpp} spp, ladder {string.Join(",", ladder)} spp, 8 bounces, {bsdf} BSDF, samplers {string.Join(", ", samplers)}; relMSE = mean (x-ref)^2/(ref^2+{NoiseMetrics.Epsilon}) against each renderer's own reference");
        Print($"times are process CPU seconds (lavapipe's threads are ours; Blender's all threads over its render call), wall seconds in brackets; the ratio is of CPU times");
        var rows = new List<string>();
        foreach (string scenePath in scenePaths)
        {
            string path = await EnsureSceneAsync(scenePath, blender, cancellationToken).ConfigureAwait(false);
            SceneAsset scene = SceneAsset.Load(path);
            string folder = Path.Combine(outputFolder, Path.GetFileNameWithoutExtension(path));
            Directory.CreateDirectory(folder);
            var ours = new List<(string Name, List<Rung> Points)>();
            var references = new List<HdrImage>();
            foreach (SamplerKind sampler in samplers)
            {
                var settings = new RenderSettings { Size = size, ToneMapping = ToneMapping.Clamp, Bsdf = bsdf, Sampler = sampler };
                tracer.Render(scene, 1, settings with { SamplesPerPixel = 1 }, cancellationToken: cancellationToken);
                string tag = sampler.ToString().ToLowerInvariant();
                Console.Error.WriteLine($"{scene.Name}: renderfarm {tag} reference, {referenceSpp} spp...");
                HdrImage reference = tracer.Render(scene, 1, settings with { SamplesPerPixel = referenceSpp, Seed = ReferenceSeed }, cancellationToken: cancellationToken).Image;
                // Our linear images beside Cycles' (PFM), so an error can be looked at pixel by pixel.
                PfmFile.Write(reference, Path.Combine(folder, F($"renderfarm-{tag}-{referenceSpp}-{ReferenceSeed}.pfm")));
                references.Add(reference);
                var points = new List<Rung>();
                HdrImage? last = null;
                foreach (int spp in ladder)
                {
                    TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                    FrameRender render = tracer.Render(scene, 1, settings with { SamplesPerPixel = spp, Seed = LadderSeed }, cancellationToken: cancellationToken);
                    double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
                    points.Add(new Rung(spp, cpu, render.WallTime.TotalSeconds, NoiseMetrics.RelativeMse(render.Image, reference)));
                    PfmFile.Write(render.Image, Path.Combine(folder, F($"renderfarm-{tag}-{spp}-{LadderSeed}.pfm")));
                    last = render.Image;
                }

                // Near 1: a few fireflies make the error (rare paths), not noise spread over the image.
                Print($"{scene.Name}: {tag}: the worst 1 % of pixel channels hold {NoiseMetrics.WorstShare(last!, reference, 0.01):P0} of our {ladder[^1]} spp error; images in {folder}");
                ours.Add(($"RenderFarm, {tag}", points));
            }

            if (references.Count == 2)
            {
                // Unbiasedness at a glance: two converged images of different samplers differ by their noise alone.
                Print($"{scene.Name}: the {samplers[0]} and {samplers[1]} references: mean {Mean(references[1]) / Mean(references[0]):F4} of each other, relMSE {NoiseMetrics.RelativeMse(references[1], references[0]):F5} between them");
            }

            List<Rung>? cycles = null;
            if (blender is not null)
            {
                cycles = [];
                Console.Error.WriteLine($"{scene.Name}: Cycles reference, {referenceSpp} spp...");
                HdrImage cyclesReference = (await CyclesTimedAsync(blender, path, size, referenceSpp, (int)ReferenceSeed, threads, folder, cancellationToken).ConfigureAwait(false)).Image;
                foreach (int spp in ladder)
                {
                    (HdrImage image, CyclesRender render) = await CyclesTimedAsync(blender, path, size, spp, (int)LadderSeed, threads, folder, cancellationToken).ConfigureAwait(false);
                    double cpu = render.RenderCpuTime?.TotalSeconds ?? double.NaN;
                    cycles.Add(new Rung(spp, cpu, render.RenderTime.TotalSeconds, NoiseMetrics.RelativeMse(image, cyclesReference)));
                }
            }

            // Each of our samplers against Cycles at the lowest error both reach, so neither time is extrapolated far (a
            // lower error weighs the cost per sample more, a higher one the fixed cost per frame).
            foreach ((string name, List<Rung> points) in ours)
            {
                double target = points.Min(p => p.Error);
                if (cycles is not null)
                {
                    target = Math.Max(target, cycles.Min(p => p.Error));
                }

                (double cpu, double wall) = TimesToError(points, target);
                string at = F($"{Time(cpu, wall)} at {target:F4}");
                string ratio = "";
                if (cycles is not null)
                {
                    (double cyclesCpu, double cyclesWall) = TimesToError(cycles, target);
                    at += F($"; Cycles {Time(cyclesCpu, cyclesWall)}");
                    ratio = F($"{Ratio(cpu, cyclesCpu)} ({Ratio(wall, cyclesWall)} wall)");
                }

                rows.Add(Row(scene, name, points, at, ratio));
            }

            if (cycles is not null && ours.Count > 1)
            {
                // Also every renderer at one error, the lowest all curves reach, as the earlier tables compared them.
                double common = Math.Max(ours.Max(o => o.Points.Min(p => p.Error)), cycles.Min(p => p.Error));
                (double cyclesCpu, double cyclesWall) = TimesToError(cycles, common);
                var line = new StringBuilder(F($"{scene.Name}: at relMSE {common:F4}, which every curve reaches: Cycles {Time(cyclesCpu, cyclesWall)}"));
                foreach ((string name, List<Rung> points) in ours)
                {
                    (double cpu, double wall) = TimesToError(points, common);
                    line.Append(F($"; {name} {Time(cpu, wall)}, {Ratio(cpu, cyclesCpu)} ({Ratio(wall, cyclesWall)} wall)"));
                }

                Console.WriteLine(line.ToString());
            }

            if (cycles is not null)
            {
                double own = cycles.Min(p => p.Error);
                (double cpu, double wall) = TimesToError(cycles, own);
                rows.Add(Row(scene, "Cycles CPU", cycles, F($"{Time(cpu, wall)} at {own:F4}"), ""));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| scene | triangles | renderer | {string.Join(" | ", ladder.Select(spp => F($"{spp} spp: CPU s (wall), relMSE")))} | CPU s (wall) to the lowest relMSE both reach | ours / Cycles, CPU (wall) |");
        Console.WriteLine($"| --- | --- | --- | {string.Join(" | ", ladder.Select(_ => "---"))} | --- | --- |");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

    // One rung of a ladder: its samples per pixel, CPU and wall seconds, and relMSE against the renderer's reference.
    private sealed record Rung(int Spp, double Cpu, double Wall, double Error);

    /// <summary>Returns the scene's path, generating the dense sample with Blender first when it is asked for and missing.</summary>
    public static async Task<string> EnsureSceneAsync(string scenePath, string? blender, CancellationToken cancellationToken)
    {
        if (File.Exists(scenePath) || !scenePath.Replace('\\', '/').EndsWith(DenseScene, StringComparison.Ordinal))
        {
            return scenePath;
        }

        string script = RepositoryFiles.Find(DenseSceneScript);
        Console.Error.WriteLine($"generating {scenePath} with {script}...");
        var start = new System.Diagnostics.ProcessStartInfo(blender ?? "blender") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (string argument in new[] { "-b", "--factory-startup", "--python-exit-code", "1", "-P", script, "--", "--out", Path.GetFullPath(scenePath) })
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)
            ?? throw new UserInputException("Could not start Blender to generate the dense sample.");
        await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return process.ExitCode == 0 && File.Exists(scenePath)
            ? scenePath
            : throw new UserInputException($"Blender could not generate {scenePath} (exit code {process.ExitCode}).");
    }

    private static async Task<(HdrImage Image, CyclesRender Render)> CyclesTimedAsync(
        string blender, string scene, ImageSize size, int spp, int seed, int? threads, string folder, CancellationToken cancellationToken)
    {
        string png = Path.Combine(folder, F($"cycles-{spp}-{seed}.png"));
        string pfm = Path.ChangeExtension(png, ".pfm");
        string script = RepositoryFiles.Find(CyclesReference.ScriptPath);
        CyclesRender render = await CyclesReference.RenderAsync(
            blender, script, Path.GetFullPath(scene), 1, size, spp, threads, png, [], cancellationToken, pfm, seed).ConfigureAwait(false);
        return (PfmFile.Read(pfm), render);
    }

    // Samples per pixel at the target error (log-log interpolation), then the CPU and wall time of that many (fixed +
    // per-sample cost, each its own line).
    private static (double Cpu, double Wall) TimesToError(List<Rung> points, double target)
    {
        double spp = NoiseMetrics.SamplesToError(points.Select(p => ((double)p.Spp, p.Error)).ToArray(), target);
        return (
            NoiseMetrics.TimeAt(points.Select(p => ((double)p.Spp, p.Cpu)).ToArray(), spp),
            NoiseMetrics.TimeAt(points.Select(p => ((double)p.Spp, p.Wall)).ToArray(), spp));
    }

    private static string Ratio(double ours, double theirs) => double.IsFinite(ours / theirs) ? F($"{ours / theirs:F2}x") : "n/a";

    private static double Mean(HdrImage image) => image.Pixels.Average(v => (double)v);

    // NaN: the error did not fall over the ladder (a reference too noisy for it, or fireflies), so no time follows.
    private static string Time(double cpu, double wall) => double.IsFinite(wall) ? F($"{cpu:F2} s ({wall:F2} s)") : "n/a (error does not fall)";

    private static string Row(SceneAsset scene, string renderer, List<Rung> points, string toTarget, string ratio)
    {
        var line = new StringBuilder(F($"| {scene.Name} | {scene.TriangleCount:N0} | {renderer} | "));
        foreach (Rung p in points)
        {
            line.Append(F($"{p.Cpu:F2} s ({p.Wall:F2} s), {p.Error:F4} | "));
        }

        line.Append(F($"{toTarget} | {ratio} |"));
        return line.ToString();
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));
}
