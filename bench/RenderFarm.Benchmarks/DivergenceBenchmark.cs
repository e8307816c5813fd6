using System.Diagnostics;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using RenderFarm.Verification;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Benchmarks;

/// <summary>
/// Honest divergence and catch rates of the spot checks. Each frame of a sample scene is rendered by the provider (the
/// device's arithmetic) and re-rendered by a validator on a simulated other conforming device
/// (<see cref="PathTracerArithmetic.OtherConformingDevice"/>); many keyed plans per frame check tiles of the honest frame
/// and of each cheat against the validator's render, and every decision of <see cref="SpotCheckDecision"/> is counted:
/// per tile, per frame (one plan), and for the sequential test per provider over a job of frames.
/// </summary>
internal static class DivergenceBenchmark
{
    private static readonly (string Name, string Scene)[] s_scenes =
    [
        ("cornell", "samples/cornell-box/cornell-box.glb"),
        ("cube", "samples/textured-cube/textured-cube.glb"),
    ];

    public static Task<int> RunAsync(BenchOptions options)
    {
        string sceneNames = options.String("scenes", "cornell,cube");
        string sppList = options.String("spp", "64,256");
        int size = options.Int("size", 64, min: 16);
        int frames = options.Int("frames", 4);
        int plans = options.Int("plans", 200);
        bool raw = options.Bool("raw", false);
        double[] shares = [.. options.String("shares", "0.03").Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture))];
        int jobFrames = options.Int("job", 24);

        // Simulated jobs per row for the job columns: beyond frames × plans ÷ job frames, a job's plans are drawn (seeded)
        // from the row's plans, so jobs share plans (a plan is one check of one render, judged once).
        int jobCount = options.Int("jobs", 0);
        bool generous = options.Bool("generous", false);
        bool bounces = options.Bool("bounces", true);
        string cache = options.String("cache", "");

        // Device factors K of the predicted honest rate (HonestRateEstimate) to judge with; 0 judges with the fixed rate
        // for the sample count alone.
        double[] factors = [.. options.String("factors", $"0,{HonestRateEstimate.DefaultDeviceFactor.ToString(System.Globalization.CultureInfo.InvariantCulture)}").Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture))];
        SpotCheckDecision decision = SpotCheckDecision.ForSamples(64);

        Console.WriteLine(Stats.Machine());
        Stats.Print($"divergence: {size}x{size} frames, {frames} frames per scene and spp, {plans} keyed plans per frame and cost share ({string.Join(", ", shares)}; at least {SpotCheckPlan.MinTiles} tiles); validator on the simulated other device, provider on this one");
        Stats.Print($"jobs: {jobFrames} checked frames each (frame i of a job is frame i mod {frames} with its own plan; {(jobCount > 0 ? $"{jobCount} jobs per row, plans drawn with seed 1" : "disjoint plans")}); caught when a frame is rejected, the provider's bias evidence crosses {ProviderEvidence.Threshold} (CUSUM, allowance {ProviderEvidence.Allowance}) or its sample-count evidence crosses {SampleCountEvidence.Threshold} (one-sided CUSUM per snapshot count, allowance {SampleCountEvidence.Allowance}, step at most {SampleCountEvidence.MaxStep}); each job starts from no evidence");
        Stats.Print($"decision: tolerance {decision.Tolerance}, honest beyond-tolerance rate by spp {string.Join(", ", sppList.Split(',').Select(v => $"{v}: {SpotCheckDecision.HonestBeyondRateFor(int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)):0.###}"))}, tile/share false-alarm {decision.FalseAlarm:0.#e0}, |bias z| > {decision.MaxBiasZ}, |sample-count z| > {decision.MaxSampleZ} (snapshots at {string.Join(", ", SampleCountTest.SnapshotCounts(64))} of 64 samples and likewise)");
        Stats.Print($"predicted honest rate: device factors K {string.Join(", ", factors.Select(f => f == 0 ? "0 (fixed rate)" : f.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)))}, floor {HonestRateEstimate.Floor:0.#e0}, rounding allowance {HonestRateEstimate.RoundingAllowance}");
        Console.WriteLine();
        Console.WriteLine("| scene | spp | share | K | delivered | tiles checked | tiles failed | frames (plans) | frames rejected | by tiles | by share | by bias | by sample count | max tile share | mean bias z | max abs bias z | mean / max abs sample z | jobs caught | by sample evidence alone | sample evidence per job mean / max (all jobs in a row) | crossed at check (median) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");

        using ComputeDevice device = ComputeDevice.Open();
        using var tracer = new PathTracer(device);
        using var other = new PathTracer(device, PathTracerArithmetic.OtherConformingDevice);
        var renderWatch = new Stopwatch();
        var wholeFrame = new WholeFrameComparison();
        var wholeFrameRows = new List<string>();
        foreach (string sceneName in sceneNames.Split(','))
        {
            string path = s_scenes.FirstOrDefault(s => s.Name == sceneName).Scene
                ?? throw new ArgumentException($"Unknown scene '{sceneName}'; use cornell or cube.");
            SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine(path));
            foreach (int spp in sppList.Split(',').Select(int.Parse))
            {
                decision = SpotCheckDecision.ForSamples(spp);
                var settings = new RenderSettings { Size = new ImageSize(size, size), SamplesPerPixel = spp, Seed = 1 };
                var tallies = new SortedDictionary<(double Share, double Factor, int Order), (string Name, Tally Tally)>();
                IReadOnlyList<int> counts = SampleCountTest.SnapshotCounts(spp);
                int quarter = Math.Max(1, spp / 4), fewer = (int)Math.Round(spp * 0.94), cut = spp - fewer;
                int middle = spp / 2;
                var providerCounts = new SortedSet<int>(counts) { quarter, spp - 1, fewer, middle, middle + cut, spp };
                providerCounts.RemoveWhere(c => c < 1 || c > spp);
                int[] providerList = [.. providerCounts];
                (int, int, int, int)[] whole = [(0, 0, size, size)];
                for (int frame = 1; frame <= frames; frame++)
                {
                    renderWatch.Start();
                    // The validator on the simulated other device keeps its image at the snapshot counts; the provider's
                    // snapshots give its frames with fewer samples (bit for bit a render at that count).
                    IReadOnlyList<HdrImage> validatorSnaps = Cached(cache, $"{sceneName}-{size}-{spp}-{frame}-validator", [.. counts, spp], list => other.RenderTileSnapshots(scene, frame, settings, whole, list));
                    IReadOnlyList<HdrImage> providerSnaps = Cached(cache, $"{sceneName}-{size}-{spp}-{frame}-provider", providerList, list => tracer.RenderTileSnapshots(scene, frame, settings, whole, list));
                    HdrImage At(int count) => providerSnaps[Array.IndexOf(providerList, count)];
                    HdrImage honestHdr = At(spp);
                    HdrImage cheap = At(quarter);
                    using Image<Rgb24> validator = Encode(validatorSnaps[^1], settings);
                    Image[] validatorDeep = [.. validatorSnaps.Select(image => (Image)Encode16(image, settings))];
                    Image[] providerDeep = [.. counts.Append(spp).Select(c => (Image)Encode16(At(c), settings))];
                    var delivered = new List<(string Name, Image<Rgb24> Image)>
                    {
                        ("honest, same device", Encode(honestHdr, settings)),
                        ("honest, other device", Encode(honestHdr, settings)),
                        ("exposure +0.05 stop", Encode(honestHdr, settings with { ExposureStops = 0.05f })),
                        ("exposure -0.05 stop", Encode(honestHdr, settings with { ExposureStops = -0.05f })),
                        ($"{spp - 1} spp (N-1)", Encode(At(spp - 1), settings)),
                        ($"{fewer} spp (6% fewer)", Encode(At(fewer), settings)),
                        ($"6% fewer from the middle ({middle}..{middle + cut} skipped)", Encode(SkipBlock(At(middle), At(middle + cut), honestHdr, middle, middle + cut, spp), settings)),
                        ($"{quarter} spp (spp/4, whole frame)", Encode(cheap, settings)),
                        ("band 10% rows at spp/4", Encode(Composite(honestHdr, cheap, (x, y) => y >= size * 45 / 100 && y < size * 55 / 100), settings)),
                        ("2-px border at spp/4", Encode(Composite(honestHdr, cheap, (x, y) => x < 2 || y < 2 || x >= size - 2 || y >= size - 2), settings)),
                    };
                    if (bounces)
                    {
                        delivered.Add(("bounces 8 -> 4", Encode(tracer.Render(scene, frame, settings with { MaxBounces = 4 }).Image, settings)));
                        delivered.Add(("bounces 8 -> 1", Encode(tracer.Render(scene, frame, settings with { MaxBounces = 1 }).Image, settings)));
                    }

                    if (generous)
                    {
                        delivered.Add(($"{2 * spp} spp (generous 2x)", Encode(tracer.Render(scene, frame, settings with { SamplesPerPixel = 2 * spp }).Image, settings)));
                    }

                    renderWatch.Stop();

                    // The "same device" row compares the provider's honest frame with the provider's own render (the same
                    // bits a re-render gives, DispatchSplitFacts), snapshots included; every other row with the validator's
                    // render on the simulated other device.
                    using Image<Rgb24> sameDevice = Encode(honestHdr, settings);
                    int halfIndex = IndexOf(counts, spp / 2), quarterIndex = IndexOf(counts, spp / 4);
                    Calibrate(sceneName, spp, frame, validator, delivered[1].Image, validatorDeep, halfIndex, quarterIndex, size, decision.Tolerance);

                    // The whole-frame check of each delivered frame against the validator's whole frame (8×8 blocks).
                    foreach ((string name, Image<Rgb24> image) in delivered)
                    {
                        WholeFrameDifference wf = wholeFrame.Compare(name == "honest, same device" ? sameDevice : validator, image, decision);
                        SpotCheckOutcome px = wf.Pixels;

                        // What the whole-frame check would add if the validator kept its whole frame at the snapshot counts
                        // (whole-frame checks keep none): the sample-count statistic over every pixel.
                        Image[] wholeDeep = name == "honest, same device" ? providerDeep : validatorDeep;
                        SampleCountStatistic wholeSamples = SampleCountTest.Measure(image, [new Rectangle(0, 0, size, size)], wholeDeep[^1], wholeDeep[..^1], [new Rectangle(0, 0, size, size)], counts);
                        wholeFrameRows.Add(FormattableString.Invariant($"| {sceneName} | {spp} | frame {frame} | {name} | {wf.Blocks} blocks | {(wf.IsMatch ? "pass" : "FAIL")} | blocks failed {wf.BlocksFailed}, share {(px.ShareExceeded ? "exceeded" : "ok")} ({px.Statistics.PixelsBeyondTolerance} of {px.Statistics.Pixels} px, limit {decision.MaxBeyond(px.Statistics.Pixels)}), bias {(px.BiasExceeded ? "exceeded" : "ok")} (z {px.Statistics.BiasZ:0.0}), max block share {wf.MaxShareBeyondTolerance:0.000}, pHash {wf.PHashDistance}; with snapshots: sample-count |z| {wholeSamples.MaxAbsZ:0.0} at {wholeSamples.WorstCount} ({(wholeSamples.MaxAbsZ > decision.MaxSampleZ ? "FAIL" : "pass")}) |"));
                    }
                    foreach (double share in shares)
                    {
                        for (int p = 0; p < plans; p++)
                        {
                            SpotCheckPlan plan = SpotCheckPlan.Create(Secret(frame, p), s_job, frame, size, size, SpotCheckPlan.DefaultTileSize, share);
                            for (int d = 0; d < delivered.Count; d++)
                            {
                                (string name, Image<Rgb24> image) = delivered[d];
                                bool same = name == "honest, same device";
                                Image<Rgb24> expected = same ? sameDevice : validator;
                                Image[] deep = same ? providerDeep : validatorDeep;
                                SampleCountStatistic samples = SampleCountTest.Measure(image, plan.Tiles, deep[^1], deep[..^1], plan.Tiles, counts);
                                DifferenceStatistics statistics = DifferenceStatistics.Measure(expected, plan.Tiles, image, plan.Tiles, decision.Tolerance);
                                foreach (double factor in factors)
                                {
                                    HonestRates? rates = factor == 0 || halfIndex < 0 || quarterIndex < 0
                                        ? null
                                        : HonestRateEstimate.Predict(deep[^1], deep[halfIndex], deep[quarterIndex], plan.Tiles, decision.HonestBeyondRate, decision.Tolerance, factor);
                                    SpotCheckOutcome outcome = decision.Judge(statistics, samples, rates);
                                    if (!tallies.TryGetValue((share, factor, d), out (string Name, Tally Tally) entry))
                                    {
                                        tallies[(share, factor, d)] = entry = (name, new Tally());
                                    }

                                    entry.Tally.Add(outcome, frame - 1, p, rates?.Check ?? decision.HonestBeyondRate);
                                }
                            }
                        }
                    }

                    delivered.ForEach(d => d.Image.Dispose());
                    Array.ForEach(validatorDeep, i => i.Dispose());
                    Array.ForEach(providerDeep, i => i.Dispose());
                }

                foreach (((double share, double factor, _), (string name, Tally t)) in tallies)
                {
                    JobCatch j = t.Jobs(frames, plans, jobFrames, jobCount);
                    Stats.Print($"| {sceneName} | {spp} | {share:0.###} | {(factor == 0 ? "fixed" : factor.ToString("G3", System.Globalization.CultureInfo.InvariantCulture))} (rate {t.SumRate / t.Frames:0.#####}) | {name} | {t.Tiles} | {t.TilesFailed} ({(double)t.TilesFailed / t.Tiles:0.0%}) | {t.Frames} | {t.Rejected} ({(double)t.Rejected / t.Frames:0.0%}) | {t.ByTiles} | {t.ByShare} | {t.ByBias} | {t.BySamples} | {t.MaxTileShare:0.000} | {t.SumZ / t.Frames:0.00} | {t.MaxAbsZ:0.00} | {t.SumSampleZ / t.Frames:0.00} / {t.MaxAbsSampleZ:0.00} | {j.Caught}/{j.Jobs} | {j.BySampleEvidence}/{j.Jobs} | {j.MeanEvidence:0.0} / {j.MaxEvidence:0.0} ({j.LifetimeMax:0.0}) | {(j.CrossedAt.Count > 0 ? j.CrossedAt.Order().ElementAt(j.CrossedAt.Count / 2).ToString(System.Globalization.CultureInfo.InvariantCulture) : "—")} |");
                    if (raw)
                    {
                        Stats.Print($"|   raw | | | {name} | beyond {t.Beyond}/{t.Pixels} px ({(double)t.Beyond / t.Pixels:0.00000}), rms mean {t.SumRms / t.Frames:0.000000}, max {t.MaxRms:0.000000}, |mean| max {t.MaxAbsMean:0.000000} | | | | | | | | | |");
                    }
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine("| scene | spp | frame | delivered | whole-frame check | verdict | rules |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        wholeFrameRows.ForEach(Console.WriteLine);
        Console.WriteLine();
        Stats.Print($"render time {renderWatch.Elapsed.TotalSeconds:0.0} s");
        return Task.FromResult(0);
    }

    private static int IndexOf(IReadOnlyList<int> counts, int count)
    {
        for (int i = 0; i < counts.Count; i++)
        {
            if (counts[i] == count)
            {
                return i;
            }
        }

        return -1;
    }

    // What the predicted honest rate rests on, over the whole frame: the honest other-device difference against the
    // validator's per-pixel noise estimate v (HonestRateEstimate, K = 1). The K a pixel beyond the tolerance needs is
    // (tolerance − rounding)² ÷ v; the frame's honest beyond count against Σ min(1, v ÷ (tolerance − rounding)²).
    private static void Calibrate(
        string scene, int spp, int frame, Image validator, Image honest, Image[] deep, int half, int quarter, int size, float tolerance)
    {
        if (half < 0 || quarter < 0)
        {
            return;
        }

        var whole = new Rectangle(0, 0, size, size);
        int length = size * size * 3;
        float[] v8 = new float[length], h8 = new float[length], full = new float[length], halfPx = new float[length], quarterPx = new float[length];
        PixelComparison.ReadLinear(validator, whole, v8);
        PixelComparison.ReadLinear(honest, whole, h8);
        PixelComparison.ReadLinear(deep[^1], whole, full);
        PixelComparison.ReadLinear(deep[half], whole, halfPx);
        PixelComparison.ReadLinear(deep[quarter], whole, quarterPx);
        double allowed = tolerance - HonestRateEstimate.RoundingAllowance;
        int beyond = 0;
        double largestNeeded = 0;
        var needed = new List<double>();
        for (int p = 0; p < size * size; p++)
        {
            double d = 0;
            for (int c = 3 * p; c < (3 * p) + 3; c++)
            {
                d = Math.Max(d, Math.Abs((double)h8[c] - v8[c]));
            }

            if (d > tolerance)
            {
                beyond++;
                double v = NeighbourhoodNoise(full, halfPx, quarterPx, size, p);
                double k = v > 0 ? allowed * allowed / v : double.PositiveInfinity;
                needed.Add(k);
                largestNeeded = Math.Max(largestNeeded, k);
            }
        }

        double predicted = HonestRateEstimate.PredictRegion(full, halfPx, quarterPx, size, 0.999999, tolerance, 1.0) * size * size;
        needed.Sort();
        Stats.Print($"calibration {scene} {spp} spp frame {frame}: honest other-device pixels beyond {beyond} of {size * size}; predicted at K = 1: {predicted:0.0}; least K making each beyond pixel's own bound 1: median {(needed.Count > 0 ? needed[needed.Count / 2] : 0):0.###}, largest {largestNeeded:0.###}");
    }

    private static double NeighbourhoodNoise(float[] full, float[] half, float[] quarter, int size, int p)
    {
        int x0 = p % size, y0 = p / size;
        double v = 0;
        for (int y = Math.Max(0, y0 - 1); y <= Math.Min(size - 1, y0 + 1); y++)
        {
            for (int x = Math.Max(0, x0 - 1); x <= Math.Min(size - 1, x0 + 1); x++)
            {
                for (int c = 3 * ((y * size) + x); c < (3 * ((y * size) + x)) + 3; c++)
                {
                    double g2 = (double)half[c] - full[c], g4 = (double)quarter[c] - full[c];
                    v = Math.Max(v, Math.Max(g2 * g2, g4 * g4 / 3));
                }
            }
        }

        return v;
    }

    // Renders once per scene, size, count and frame when a cache folder is given: later runs (other factors, plans or
    // shares) read the same renders back.
    private static IReadOnlyList<HdrImage> Cached(string folder, string key, int[] counts, Func<int[], IReadOnlyList<IReadOnlyList<HdrImage>>> render)
    {
        string? path = folder.Length == 0 ? null : Path.Combine(folder, $"{key}-{string.Join('_', counts)}.bin");
        if (path is not null && File.Exists(path))
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            var images = new List<HdrImage>();
            int count = reader.ReadInt32();
            for (int i = 0; i < count; i++)
            {
                var image = new HdrImage(reader.ReadInt32(), reader.ReadInt32());
                for (int j = 0; j < image.Pixels.Length; j++)
                {
                    image.Pixels[j] = reader.ReadSingle();
                }

                images.Add(image);
            }

            return images;
        }

        List<HdrImage> rendered = [.. render(counts).Select(images => images[0])];
        if (path is not null)
        {
            Directory.CreateDirectory(folder);
            using var writer = new BinaryWriter(File.Create(path));
            writer.Write(rendered.Count);
            foreach (HdrImage image in rendered)
            {
                writer.Write(image.Width);
                writer.Write(image.Height);
                foreach (float value in image.Pixels)
                {
                    writer.Write(value);
                }
            }
        }

        return rendered;
    }

    private static readonly Guid s_job = Guid.Parse("5d0c1c52-6f3a-4d6e-9a55-0e1b8d7f2c11");

    private static byte[] Secret(int frame, int plan)
    {
        var secret = new byte[32];
        BitConverter.TryWriteBytes(secret, frame);
        BitConverter.TryWriteBytes(secret.AsSpan(4), plan);
        return secret;
    }

    private static HdrImage Composite(HdrImage honest, HdrImage cheat, Func<int, int, bool> cheated)
    {
        var result = new HdrImage(honest.Width, honest.Height);
        for (int y = 0; y < honest.Height; y++)
        {
            for (int x = 0; x < honest.Width; x++)
            {
                int i = 3 * ((y * honest.Width) + x);
                HdrImage source = cheated(x, y) ? cheat : honest;
                source.Pixels.AsSpan(i, 3).CopyTo(result.Pixels.AsSpan(i, 3));
            }
        }

        return result;
    }

    // Frame `total`'s samples without those from `from` to `to`: the running means at both counts give the block's sum.
    private static HdrImage SkipBlock(HdrImage atFrom, HdrImage atTo, HdrImage full, int from, int to, int total)
    {
        var result = new HdrImage(full.Width, full.Height);
        float kept = total - (to - from);
        for (int i = 0; i < full.Pixels.Length; i++)
        {
            result.Pixels[i] = ((from * atFrom.Pixels[i]) + (total * full.Pixels[i]) - (to * atTo.Pixels[i])) / kept;
        }

        return result;
    }

    private static Image<Rgb48> Encode16(HdrImage image, RenderSettings settings)
    {
        using var png = new MemoryStream();
        PngFrameWriter.Write(image, png, settings.ToneMapping, settings.ExposureStops, sixteenBit: true);
        png.Position = 0;
        return Image.Load<Rgb48>(png);
    }

    private static Image<Rgb24> Encode(HdrImage image, RenderSettings settings)
    {
        using var png = new MemoryStream();
        PngFrameWriter.Write(image, png, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
        png.Position = 0;
        return Image.Load<Rgb24>(png);
    }

    // A row's simulated jobs: caught by any rule, caught only by the sample-count evidence (no check rejected, no bias
    // alarm), the largest sample-count evidence within a job (mean and largest over jobs), the largest when one provider's
    // evidence runs through every job without a reset, and the check at which the evidence crossed in each job where it did.
    private sealed record JobCatch(int Jobs, int Caught, int BySampleEvidence, double MeanEvidence, double MaxEvidence, double LifetimeMax, IReadOnlyList<int> CrossedAt);

    private sealed class Tally
    {
        public int Tiles { get; private set; }

        public int TilesFailed { get; private set; }

        public int Frames { get; private set; }

        public int Rejected { get; private set; }

        public int ByTiles { get; private set; }

        public int ByShare { get; private set; }

        public int ByBias { get; private set; }

        public int BySamples { get; private set; }

        public double SumSampleZ { get; private set; }

        public double MaxAbsSampleZ { get; private set; }

        public double MaxTileShare { get; private set; }

        public double SumZ { get; private set; }

        public double MaxAbsZ { get; private set; }

        public long Beyond { get; private set; }

        public long Pixels { get; private set; }

        public double SumRms { get; private set; }

        public double MaxRms { get; private set; }

        public double MaxAbsMean { get; private set; }

        public double SumRate { get; private set; }

        private readonly Dictionary<(int Frame, int Plan), (bool Pass, double Z, IReadOnlyList<double> SampleZ)> _outcomes = [];

        // Jobs of `length` checked frames: frame k of job j is frame k mod frames, judged by plan (j·length + k) mod plans,
        // or, when `count` jobs are asked for, by a plan drawn with a seeded generator (the same draws for every row).
        public JobCatch Jobs(int frames, int plans, int length, int count)
        {
            int jobs = count > 0 ? count : frames * plans / length, caught = 0, bySamples = 0;
            var random = new Random(1);
            double sumEvidence = 0, maxEvidence = 0, lifetimeMax = 0;
            var crossedAt = new List<int>();

            // One provider doing every job in turn: its evidence carried from job to job, as the coordinator keeps it.
            SampleCountEvidence lifetime = SampleCountEvidence.None;
            for (int j = 0; j < jobs; j++)
            {
                ProviderEvidence evidence = ProviderEvidence.None;
                SampleCountEvidence samples = SampleCountEvidence.None;
                bool rejected = false;
                int crossed = 0;
                double largest = 0;
                for (int k = 0; k < length; k++)
                {
                    int plan = count > 0 ? random.Next(plans) : ((j * length) + k) % plans;
                    (bool pass, double z, IReadOnlyList<double> sampleZ) = _outcomes[(k % frames, plan)];
                    rejected |= !pass;
                    evidence = ProviderEvidence.Update(evidence, z);
                    samples = SampleCountEvidence.Update(samples, sampleZ);
                    lifetime = SampleCountEvidence.Update(lifetime, sampleZ);
                    lifetimeMax = Math.Max(lifetimeMax, lifetime.Largest);
                    largest = Math.Max(largest, samples.Largest);
                    crossed = crossed == 0 && samples.IsSuspect ? k + 1 : crossed;
                }

                caught += rejected || evidence.IsBiased || crossed > 0 ? 1 : 0;
                bySamples += !rejected && !evidence.IsBiased && crossed > 0 ? 1 : 0;
                sumEvidence += largest;
                maxEvidence = Math.Max(maxEvidence, largest);
                if (crossed > 0)
                {
                    crossedAt.Add(crossed);
                }
            }

            return new JobCatch(jobs, caught, bySamples, sumEvidence / Math.Max(1, jobs), maxEvidence, lifetimeMax, crossedAt);
        }

        public void Add(SpotCheckOutcome outcome, int frame, int plan, double rate)
        {
            SumRate += rate;
            _outcomes[(frame, plan)] = (outcome.Pass, outcome.EvidenceZ, outcome.Samples?.Z ?? []);
            DifferenceStatistics s = outcome.Statistics;
            Tiles += s.Regions;
            TilesFailed += outcome.TilesFailed;
            Frames++;
            Rejected += outcome.Pass ? 0 : 1;
            ByTiles += outcome.TilesFailed > 0 ? 1 : 0;
            ByShare += outcome.ShareExceeded ? 1 : 0;
            ByBias += outcome.BiasExceeded ? 1 : 0;
            BySamples += outcome.SamplesExceeded ? 1 : 0;
            double sampleZ = outcome.Samples?.MaxAbsZ ?? 0;
            SumSampleZ += sampleZ;
            MaxAbsSampleZ = Math.Max(MaxAbsSampleZ, sampleZ);
            MaxTileShare = Math.Max(MaxTileShare, s.MaxRegionShareBeyond);
            double z = double.IsFinite(s.BiasZ) ? s.BiasZ : Math.CopySign(1e9, s.BiasZ);
            SumZ += z;
            MaxAbsZ = Math.Max(MaxAbsZ, Math.Abs(z));
            Beyond += s.PixelsBeyondTolerance;
            Pixels += s.Pixels;
            SumRms += s.RootMeanSquare;
            MaxRms = Math.Max(MaxRms, s.RootMeanSquare);
            MaxAbsMean = Math.Max(MaxAbsMean, Math.Abs(s.MeanSignedDifference));
        }
    }
}
