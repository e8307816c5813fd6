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
        bool generous = options.Bool("generous", false);
        bool bounces = options.Bool("bounces", true);
        SpotCheckDecision decision = SpotCheckDecision.ForSamples(64);

        Console.WriteLine(Stats.Machine());
        Stats.Print($"divergence: {size}x{size} frames, {frames} frames per scene and spp, {plans} keyed plans per frame and cost share ({string.Join(", ", shares)}; at least {SpotCheckPlan.MinTiles} tiles); validator on the simulated other device, provider on this one");
        Stats.Print($"jobs: {jobFrames} checked frames each (frame i of a job is frame i mod {frames} with its own plan); caught when a frame is rejected or the provider's bias evidence crosses {ProviderEvidence.Threshold} (CUSUM, allowance {ProviderEvidence.Allowance})");
        Stats.Print($"decision: tolerance {decision.Tolerance}, honest beyond-tolerance rate by spp {string.Join(", ", sppList.Split(',').Select(v => $"{v}: {SpotCheckDecision.HonestBeyondRateFor(int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)):0.###}"))}, tile/share false-alarm {decision.FalseAlarm:0.#e0}, |bias z| > {decision.MaxBiasZ}, |sample-count z| > {decision.MaxSampleZ} (snapshots at {string.Join(", ", SampleCountTest.SnapshotCounts(64))} of 64 samples and likewise)");
        Console.WriteLine();
        Console.WriteLine("| scene | spp | share | delivered | tiles checked | tiles failed | frames (plans) | frames rejected | by tiles | by share | by bias | by sample count | max tile share | mean bias z | max abs bias z | mean / max abs sample z | jobs caught |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");

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
                var tallies = new SortedDictionary<(double Share, int Order), (string Name, Tally Tally)>();
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
                    IReadOnlyList<IReadOnlyList<HdrImage>> validatorSnaps = other.RenderTileSnapshots(scene, frame, settings, whole, [.. counts, spp]);
                    IReadOnlyList<IReadOnlyList<HdrImage>> providerSnaps = tracer.RenderTileSnapshots(scene, frame, settings, whole, providerList);
                    HdrImage At(int count) => providerSnaps[Array.IndexOf(providerList, count)][0];
                    HdrImage honestHdr = At(spp);
                    HdrImage cheap = At(quarter);
                    using Image<Rgb24> validator = Encode(validatorSnaps[^1][0], settings);
                    Image[] validatorDeep = [.. validatorSnaps.Select(images => (Image)Encode16(images[0], settings))];
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

                    // The whole-frame check of each delivered frame against the validator's whole frame (8×8 blocks).
                    foreach ((string name, Image<Rgb24> image) in delivered)
                    {
                        WholeFrameDifference wf = wholeFrame.Compare(name == "honest, same device" ? sameDevice : validator, image, decision);
                        SpotCheckOutcome px = wf.Pixels;
                        wholeFrameRows.Add(FormattableString.Invariant($"| {sceneName} | {spp} | frame {frame} | {name} | {wf.Blocks} blocks | {(wf.IsMatch ? "pass" : "FAIL")} | blocks failed {wf.BlocksFailed}, share {(px.ShareExceeded ? "exceeded" : "ok")} ({px.Statistics.PixelsBeyondTolerance} of {px.Statistics.Pixels} px, limit {decision.MaxBeyond(px.Statistics.Pixels)}), bias {(px.BiasExceeded ? "exceeded" : "ok")} (z {px.Statistics.BiasZ:0.0}), max block share {wf.MaxShareBeyondTolerance:0.000}, pHash {wf.PHashDistance} |"));
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
                                SpotCheckOutcome outcome = decision.Judge(
                                    DifferenceStatistics.Measure(expected, plan.Tiles, image, plan.Tiles, decision.Tolerance), samples);
                                if (!tallies.TryGetValue((share, d), out (string Name, Tally Tally) entry))
                                {
                                    tallies[(share, d)] = entry = (name, new Tally());
                                }

                                entry.Tally.Add(outcome, frame - 1, p);
                            }
                        }
                    }

                    delivered.ForEach(d => d.Image.Dispose());
                    Array.ForEach(validatorDeep, i => i.Dispose());
                    Array.ForEach(providerDeep, i => i.Dispose());
                }

                foreach (((double share, _), (string name, Tally t)) in tallies)
                {
                    (int jobs, int caught) = t.Jobs(frames, plans, jobFrames);
                    Stats.Print($"| {sceneName} | {spp} | {share:0.###} | {name} | {t.Tiles} | {t.TilesFailed} ({(double)t.TilesFailed / t.Tiles:0.0%}) | {t.Frames} | {t.Rejected} ({(double)t.Rejected / t.Frames:0.0%}) | {t.ByTiles} | {t.ByShare} | {t.ByBias} | {t.BySamples} | {t.MaxTileShare:0.000} | {t.SumZ / t.Frames:0.00} | {t.MaxAbsZ:0.00} | {t.SumSampleZ / t.Frames:0.00} / {t.MaxAbsSampleZ:0.00} | {caught}/{jobs} |");
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

        private readonly Dictionary<(int Frame, int Plan), (bool Pass, double Z)> _outcomes = [];

        // Jobs of `length` checked frames: frame k of job j is frame k mod frames, judged by plan (j·length + k) mod plans.
        public (int Jobs, int Caught) Jobs(int frames, int plans, int length)
        {
            int jobs = frames * plans / length, caught = 0;
            for (int j = 0; j < jobs; j++)
            {
                ProviderEvidence evidence = ProviderEvidence.None;
                bool rejected = false;
                for (int k = 0; k < length; k++)
                {
                    (bool pass, double z) = _outcomes[(k % frames, ((j * length) + k) % plans)];
                    rejected |= !pass;
                    evidence = ProviderEvidence.Update(evidence, z);
                }

                caught += rejected || evidence.IsBiased ? 1 : 0;
            }

            return (jobs, caught);
        }

        public void Add(SpotCheckOutcome outcome, int frame, int plan)
        {
            _outcomes[(frame, plan)] = (outcome.Pass, outcome.EvidenceZ);
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
