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
        CancellationToken cancellationToken)
    {
        if (ladder.Count < 2 || ladder.Any(spp => spp < 1 || spp >= referenceSpp))
        {
            throw new UserInputException($"--ladder needs at least two sample counts, each between 1 and --reference-spp ({referenceSpp}) - 1.");
        }

        Directory.CreateDirectory(outputFolder);
        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        using var tracer = new PathTracer(device);
        Print($"device {device.Info}; {size}, reference {referenceSpp} spp, ladder {string.Join(",", ladder)} spp, 8 bounces, {bsdf} BSDF; relMSE = mean (x-ref)^2/(ref^2+{NoiseMetrics.Epsilon}) against each renderer's own reference");
        var rows = new List<string>();
        foreach (string scenePath in scenePaths)
        {
            string path = await EnsureSceneAsync(scenePath, blender, cancellationToken).ConfigureAwait(false);
            SceneAsset scene = SceneAsset.Load(path);
            var settings = new RenderSettings { Size = size, ToneMapping = ToneMapping.Clamp, Bsdf = bsdf };
            tracer.Render(scene, 1, settings with { SamplesPerPixel = 1 }, cancellationToken: cancellationToken);

            Console.Error.WriteLine($"{scene.Name}: renderfarm reference, {referenceSpp} spp...");
            HdrImage ourReference = tracer.Render(scene, 1, settings with { SamplesPerPixel = referenceSpp, Seed = ReferenceSeed }, cancellationToken: cancellationToken).Image;
            // Our linear images beside Cycles' (PFM), so an error can be looked at pixel by pixel.
            string folder = Path.Combine(outputFolder, Path.GetFileNameWithoutExtension(path));
            Directory.CreateDirectory(folder);
            PfmFile.Write(ourReference, Path.Combine(folder, F($"renderfarm-{referenceSpp}-{ReferenceSeed}.pfm")));
            var ours = new List<(int Spp, double Seconds, double Error)>();
            HdrImage? last = null;
            foreach (int spp in ladder)
            {
                FrameRender render = tracer.Render(scene, 1, settings with { SamplesPerPixel = spp, Seed = LadderSeed }, cancellationToken: cancellationToken);
                ours.Add((spp, render.WallTime.TotalSeconds, NoiseMetrics.RelativeMse(render.Image, ourReference)));
                PfmFile.Write(render.Image, Path.Combine(folder, F($"renderfarm-{spp}-{LadderSeed}.pfm")));
                last = render.Image;
            }

            // Near 1: a few fireflies make the error (rare paths), not noise spread over the image.
            Print($"{scene.Name}: the worst 1 % of pixel channels hold {NoiseMetrics.WorstShare(last!, ourReference, 0.01):P0} of our {ladder[^1]} spp error; images in {folder}");

            List<(int Spp, double Seconds, double Error)>? cycles = null;
            if (blender is not null)
            {
                cycles = [];
                Console.Error.WriteLine($"{scene.Name}: Cycles reference, {referenceSpp} spp...");
                HdrImage cyclesReference = await CyclesLinearAsync(blender, path, size, referenceSpp, (int)ReferenceSeed, threads, folder, cancellationToken).ConfigureAwait(false);
                foreach (int spp in ladder)
                {
                    (HdrImage image, TimeSpan time) = await CyclesTimedAsync(blender, path, size, spp, (int)LadderSeed, threads, folder, cancellationToken).ConfigureAwait(false);
                    cycles.Add((spp, time.TotalSeconds, NoiseMetrics.RelativeMse(image, cyclesReference)));
                }
            }

            // The lowest error both curves reach, so neither time is extrapolated far.
            double target = cycles is null ? ours.Min(p => p.Error) : Math.Max(ours.Min(p => p.Error), cycles.Min(p => p.Error));
            double ourTime = TimeToError(ours, target);
            double cyclesTime = cycles is null ? double.NaN : TimeToError(cycles, target);
            string ratio = cycles is null ? "" : double.IsFinite(ourTime / cyclesTime) ? F($"{ourTime / cyclesTime:F2}x") : "n/a";
            rows.Add(Row(scene, "RenderFarm", ours, target, ourTime, ratio));
            if (cycles is not null)
            {
                rows.Add(Row(scene, "Cycles CPU", cycles, target, cyclesTime, "1.00x"));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| scene | triangles | renderer | {string.Join(" | ", ladder.Select(spp => F($"{spp} spp: s, relMSE")))} | time to relMSE target | vs Cycles |");
        Console.WriteLine($"| --- | --- | --- | {string.Join(" | ", ladder.Select(_ => "---"))} | --- | --- |");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

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

        using System.Diagnostics.Process process = System.Diagnostics.Process.Start(start)
            ?? throw new UserInputException("Could not start Blender to generate the dense sample.");
        await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return process.ExitCode == 0 && File.Exists(scenePath)
            ? scenePath
            : throw new UserInputException($"Blender could not generate {scenePath} (exit code {process.ExitCode}).");
    }

    private static async Task<HdrImage> CyclesLinearAsync(
        string blender, string scene, ImageSize size, int spp, int seed, int? threads, string folder, CancellationToken cancellationToken) =>
        (await CyclesTimedAsync(blender, scene, size, spp, seed, threads, folder, cancellationToken).ConfigureAwait(false)).Image;

    private static async Task<(HdrImage Image, TimeSpan Time)> CyclesTimedAsync(
        string blender, string scene, ImageSize size, int spp, int seed, int? threads, string folder, CancellationToken cancellationToken)
    {
        string png = Path.Combine(folder, F($"cycles-{spp}-{seed}.png"));
        string pfm = Path.ChangeExtension(png, ".pfm");
        string script = RepositoryFiles.Find(CyclesReference.ScriptPath);
        CyclesRender render = await CyclesReference.RenderAsync(
            blender, script, Path.GetFullPath(scene), 1, size, spp, threads, png, [], cancellationToken, pfm, seed).ConfigureAwait(false);
        return (PfmFile.Read(pfm), render.RenderTime);
    }

    // Samples per pixel at the target error (log-log interpolation), then the time of that many (fixed + per-sample cost).
    private static double TimeToError(List<(int Spp, double Seconds, double Error)> points, double target) =>
        NoiseMetrics.TimeAt(
            points.Select(p => ((double)p.Spp, p.Seconds)).ToArray(),
            NoiseMetrics.SamplesToError(points.Select(p => ((double)p.Spp, p.Error)).ToArray(), target));

    private static string Row(SceneAsset scene, string renderer, List<(int Spp, double Seconds, double Error)> points, double target, double time, string ratio)
    {
        var line = new StringBuilder(F($"| {scene.Name} | {scene.TriangleCount:N0} | {renderer} | "));
        foreach ((int _, double seconds, double error) in points)
        {
            line.Append(F($"{seconds:F2} s, {error:F4} | "));
        }

        // NaN: the error did not fall over the ladder (a reference too noisy for it, or fireflies), so no time follows.
        line.Append(double.IsFinite(time) ? F($"{time:F2} s at {target:F4} | {ratio} |") : F($"n/a (error does not fall) at {target:F4} | {ratio} |"));
        return line.ToString();
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));
}
