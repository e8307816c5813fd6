using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Benchmarks;

/// <summary>
/// How the honest difference between this device and the simulated other conforming device changes with the sample
/// count: one render per device with snapshots at the given counts (bit for bit renders at those counts), and per count
/// the distribution of per-pixel differences of the delivered 8-bit frames in linear light (the verification's view),
/// plus the raw linear HDR differences and per-sample increments (to tell independent per-sample divergence from a
/// bias that persists as samples accumulate).
/// </summary>
internal static class DivergenceProfileBenchmark
{
    public static Task<int> RunAsync(BenchOptions options)
    {
        string sceneName = options.String("scene", "cornell");
        int size = options.Int("size", 32, min: 8);
        int[] counts = [.. options.String("counts", "16,64,256,1024").Split(',').Select(int.Parse)];
        float tolerance = 0.02f;
        string path = sceneName switch
        {
            "cornell" => "samples/cornell-box/cornell-box.glb",
            "cube" => "samples/textured-cube/textured-cube.glb",
            _ => throw new ArgumentException($"Unknown scene '{sceneName}'; use cornell or cube."),
        };

        Console.WriteLine(Stats.Machine());
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine(path));
        var settings = new RenderSettings { Size = new ImageSize(size, size), SamplesPerPixel = counts[^1], Seed = 1 };
        using ComputeDevice device = ComputeDevice.Open();
        using var tracer = new PathTracer(device);
        using var other = new PathTracer(device, PathTracerArithmetic.OtherConformingDevice);
        (int, int, int, int)[] whole = [(0, 0, size, size)];
        var watch = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<IReadOnlyList<HdrImage>> mine = tracer.RenderTileSnapshots(scene, 1, settings, whole, counts);
        IReadOnlyList<IReadOnlyList<HdrImage>> theirs = other.RenderTileSnapshots(scene, 1, settings, whole, counts);
        Stats.Print($"divergence-profile: {sceneName}, {size}x{size}, counts {string.Join(",", counts)}, render {watch.Elapsed.TotalSeconds:0} s");
        Console.WriteLine();
        Console.WriteLine("| spp | beyond 0.02 | isolated share of beyond | beyond per 8x8 block: mean / max | 8-bit rms | 8-bit mean | q50 / q90 / q99 / q99.9 / max of max-channel abs diff | HDR rms | HDR pixels differing | cheat spp/4: beyond 0.02, max per block, rms |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (int k = 0; k < counts.Length; k++)
        {
            float[] a = Linear(mine[k][0], settings), b = Linear(theirs[k][0], settings);
            (double beyond, double isolated, double rms, double mean, double[] q, int maxBlock) = Profile(a, b, size, tolerance);
            double hdrSquares = 0;
            int differing = 0;
            float[] ha = mine[k][0].Pixels, hb = theirs[k][0].Pixels;
            for (int i = 0; i < ha.Length; i += 3)
            {
                bool diff = false;
                for (int c = 0; c < 3; c++)
                {
                    double d = ha[i + c] - hb[i + c];
                    hdrSquares += d * d;
                    diff |= d != 0;
                }

                differing += diff ? 1 : 0;
            }

            string cheat = "—";
            int quarterIndex = Array.IndexOf(counts, counts[k] / 4);
            if (quarterIndex >= 0)
            {
                (double cb, _, double crms, _, _, int cmax) = Profile(Linear(mine[quarterIndex][0], settings), b, size, tolerance);
                cheat = $"{cb:0.0000}, {cmax}, {crms:0.00000}";
            }

            Stats.Print($"| {counts[k]} | {beyond:0.0000} | {isolated:0.00} | {beyond * 64:0.00} / {maxBlock} | {rms:0.00000} | {mean:+0.000000;-0.000000} | {string.Join(" / ", q.Select(v => v.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture)))} | {Math.Sqrt(hdrSquares / ha.Length):0.00000} | {(double)differing / (ha.Length / 3):0.000} | {cheat} |");
        }

        // Per-sample increments: the mean of samples (a, b] on each device, from the running means at a and b. If the
        // devices' samples diverge independently with a chance that does not depend on the index, the increments'
        // difference times √(b − a) stays constant; a persistent per-pixel bias would make it grow as √(b − a).
        Console.WriteLine();
        Console.WriteLine("| samples | HDR rms of increment difference | × √samples | pixels whose increment differs | correlation with previous increment's difference |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        double[]? previous = null;
        for (int k = 0; k < counts.Length; k++)
        {
            int from = k == 0 ? 0 : counts[k - 1], to = counts[k];
            double[] inc = Increment(mine, theirs, k, from, to);
            double rms = Math.Sqrt(inc.Sum(v => v * v) / inc.Length);
            int differ = 0;
            for (int i = 0; i < inc.Length; i += 3)
            {
                differ += inc[i] != 0 || inc[i + 1] != 0 || inc[i + 2] != 0 ? 1 : 0;
            }

            string correlation = previous is null ? "—" : Correlation(previous, inc).ToString("+0.000;-0.000", System.Globalization.CultureInfo.InvariantCulture);
            Stats.Print($"| ({from}, {to}] | {rms:0.00000} | {rms * Math.Sqrt(to - from):0.0000} | {(double)differ / (inc.Length / 3):0.000} | {correlation} |");
            previous = inc;
        }

        return Task.FromResult(0);
    }

    private static double[] Increment(IReadOnlyList<IReadOnlyList<HdrImage>> mine, IReadOnlyList<IReadOnlyList<HdrImage>> theirs, int k, int from, int to)
    {
        float[] ma = mine[k][0].Pixels, ta = theirs[k][0].Pixels;
        float[]? mb = k == 0 ? null : mine[k - 1][0].Pixels, tb = k == 0 ? null : theirs[k - 1][0].Pixels;
        var result = new double[ma.Length];
        for (int i = 0; i < ma.Length; i++)
        {
            double m = ((to * (double)ma[i]) - (from * (double)(mb?[i] ?? 0))) / (to - from);
            double t = ((to * (double)ta[i]) - (from * (double)(tb?[i] ?? 0))) / (to - from);
            result[i] = m - t;
        }

        return result;
    }

    private static double Correlation(double[] x, double[] y)
    {
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sxy += x[i] * y[i];
            sxx += x[i] * x[i];
            syy += y[i] * y[i];
        }

        return sxx > 0 && syy > 0 ? sxy / Math.Sqrt(sxx * syy) : 0;
    }

    private static (double Beyond, double Isolated, double Rms, double Mean, double[] Quantiles, int MaxBlock) Profile(float[] a, float[] b, int size, float tolerance)
    {
        int pixels = size * size, beyond = 0, isolated = 0;
        var maxChannel = new double[pixels];
        var isBeyond = new bool[pixels];
        double squares = 0, sum = 0;
        for (int p = 0; p < pixels; p++)
        {
            double largest = 0, signed = 0;
            for (int c = 0; c < 3; c++)
            {
                double d = (double)a[(3 * p) + c] - b[(3 * p) + c];
                largest = Math.Max(largest, Math.Abs(d));
                squares += d * d;
                signed += d / 3;
            }

            sum += signed;
            maxChannel[p] = largest;
            isBeyond[p] = largest > tolerance;
            beyond += isBeyond[p] ? 1 : 0;
        }

        for (int p = 0; p < pixels; p++)
        {
            if (!isBeyond[p])
            {
                continue;
            }

            int x = p % size, y = p / size;
            bool neighbour = false;
            for (int dy = -1; dy <= 1; dy++)
            {
                for (int dx = -1; dx <= 1; dx++)
                {
                    int nx = x + dx, ny = y + dy;
                    neighbour |= (dx != 0 || dy != 0) && nx >= 0 && ny >= 0 && nx < size && ny < size && isBeyond[(ny * size) + nx];
                }
            }

            isolated += neighbour ? 0 : 1;
        }

        int maxBlock = 0;
        for (int by = 0; by < size; by += 8)
        {
            for (int bx = 0; bx < size; bx += 8)
            {
                int count = 0;
                for (int y = by; y < Math.Min(size, by + 8); y++)
                {
                    for (int x = bx; x < Math.Min(size, bx + 8); x++)
                    {
                        count += isBeyond[(y * size) + x] ? 1 : 0;
                    }
                }

                maxBlock = Math.Max(maxBlock, count);
            }
        }

        Array.Sort(maxChannel);
        double Q(double f) => maxChannel[Math.Min(pixels - 1, (int)(f * pixels))];
        return ((double)beyond / pixels, beyond == 0 ? 0 : (double)isolated / beyond, Math.Sqrt(squares / (3.0 * pixels)), sum / pixels,
            [Q(0.5), Q(0.9), Q(0.99), Q(0.999), maxChannel[^1]], maxBlock);
    }

    // The frame as the verification sees it: tone mapped, 8-bit PNG, decoded back to linear light.
    private static float[] Linear(HdrImage image, RenderSettings settings)
    {
        using var png = new MemoryStream();
        PngFrameWriter.Write(image, png, settings.ToneMapping, settings.ExposureStops, sixteenBit: false);
        png.Position = 0;
        using Image<Rgb24> decoded = Image.Load<Rgb24>(png);
        var result = new float[image.Width * image.Height * 3];
        for (int y = 0; y < decoded.Height; y++)
        {
            for (int x = 0; x < decoded.Width; x++)
            {
                Rgb24 p = decoded[x, y];
                int i = 3 * ((y * decoded.Width) + x);
                result[i] = ToneMapper.SrgbToLinear(p.R / 255f);
                result[i + 1] = ToneMapper.SrgbToLinear(p.G / 255f);
                result[i + 2] = ToneMapper.SrgbToLinear(p.B / 255f);
            }
        }

        return result;
    }
}
