using RenderFarm.Coordinator;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;

namespace RenderFarm.Benchmarks;

/// <summary>
/// Verification overhead: the same job on the embedded farm with in-process Vulkan workers, once with every check
/// off and once with the coordinator's defaults (a tile spot check of every frame, whole-frame samples at their
/// rates), every renderer call timed and put down as a render, a tile spot check, a whole-frame check or a known-answer
/// canary (which needs a provider that neither rendered nor checked the frame, so none runs with 2 workers).
/// </summary>
/// <remarks>
/// A tile spot check is a lease with <see cref="LeaseGrant.Validation"/> tiles, and the worker calls
/// <see cref="ITileRenderer.RenderTilesAsync"/> for it alone. A whole-frame check is granted exactly like a
/// one-frame render task (sealed lease id, no queue, no flag) and rendered with <see cref="IFrameRenderer.RenderAsync"/>,
/// so the worker cannot tell the two apart, nor a canary (granted on the render queue); a frame call is attributed
/// afterwards from the coordinator's records: a whole-frame check or a canary when the job records one of that frame
/// taken by that worker, a render when that worker holds the frame's task. A call that matches more than one, or
/// none, is shown as unattributed.
/// </remarks>
internal static class CheckCostBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        int workers = options.Int("workers", 2, min: 2);
        int frames = options.Int("frames", 24);
        string size = options.String("size", "128x128");
        int spp = options.Int("spp", 8);
        var defaults = new CoordinatorOptions();
        string job = $"{frames} frames, {size}, {spp} spp, {workers} workers";

        Console.WriteLine(Stats.Machine());
        Console.WriteLine($"check-cost: {job}, chunk size 1, embedded farm (Hangfire.InMemory), Vulkan workers in this process; GPU time = wall time of each renderer call (render, read-back, PNG)");

        // Untimed: JIT of the coordinator, worker and check paths, Vulkan pipeline caches. One frame with checks on
        // gets a tile check and a whole-frame check (every provider's first frame of a job is sampled).
        Console.WriteLine();
        Console.WriteLine($"warm-up: 1 frame with checks on, {workers} workers (not counted)");
        await RunOneAsync("warm-up", spotChecks: true, workers, 1, size, spp, quiet: true);

        Phase off = await RunOneAsync("checks off (Coordinator:SpotChecks=false)", spotChecks: false, workers, frames, size, spp, quiet: false);
        Phase on = await RunOneAsync(
            FormattableString.Invariant($"farm defaults (tile check per frame; whole frames: first per provider, {defaults.NewProviderSampleRate:0%} new, {defaults.WholeFrameSampleRate:0%} established)"),
            spotChecks: true,
            workers,
            frames,
            size,
            spp,
            quiet: false);
        if (off.Tiles.Count + off.Whole.Count != 0 || on.Tiles.Count == 0 || on.Whole.Count == 0)
        {
            throw new InvalidOperationException(
                $"Expected no checks with checks off and both kinds with the defaults; got {off.Tiles.Count} + {off.Whole.Count} and {on.Tiles.Count} + {on.Whole.Count}.");
        }

        Console.WriteLine();
        Console.WriteLine("| verification | job | renders | Σ render GPU | tile checks | Σ tile-check GPU | whole-frame checks | Σ whole-frame-check GPU | checks / render | job wall (submit → Completed) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach ((string name, Phase phase) in new[] { ("off", off), ("farm defaults", on) })
        {
            Stats.Print($"| {name} | {job} | {phase.Render.Count} | {phase.Render.Seconds:0.00} s | {phase.Tiles.Count} | {phase.Tiles.Seconds:0.00} s | {phase.Whole.Count} | {phase.Whole.Seconds:0.00} s | {(phase.Tiles.Seconds + phase.Whole.Seconds) / phase.Render.Seconds:0.0%} | {phase.Job.WallSeconds:0.00} s |");
        }

        Console.WriteLine();
        Stats.Print($"farm defaults, per call: render {on.Render.Mean:0.000} s, tile check {on.Tiles.Mean:0.000} s (tiles per check: {on.TilesPerCheck:0.#}, {on.TilePixelShare:0.0%} of the frame's pixels), whole-frame check {on.Whole.Mean:0.000} s");
        Stats.Print($"split: tile checks {on.Tiles.Seconds / on.Render.Seconds:0.0%} of render, whole-frame checks {on.Whole.Seconds / on.Render.Seconds:0.0%}; job wall with checks {on.Job.WallSeconds / off.Job.WallSeconds:0.00}× the wall without");
        double drift = on.Render.Mean / off.Render.Mean;
        if (drift is < 0.8 or > 1.25)
        {
            Stats.Print($"note: a render took {drift:0.00}× as long with checks on as with them off; the machine's load changed between the runs, so compare shares within a run rather than walls across runs");
        }

        if (on.Canaries.Count > 0)
        {
            Stats.Print($"known-answer canaries (not in the table): {on.Canaries.Count} taking {on.Canaries.Seconds:0.00} s, {on.Canaries.Seconds / on.Render.Seconds:0.0%} of render");
        }

        Stats.Print($"coordinator records (farm defaults): {on.RecordedTiles} tile checks, {on.RecordedWhole} whole-frame checks and {on.RecordedCanaries} canaries finished; renderer calls not attributed: {on.Unattributed.Count} ({on.Unattributed.Seconds:0.00} s); calls that threw (cancelled at job end or worker stop, e.g. a canary still open when the job ended): {on.Abandoned}");

        // Every frame here is from providers with fewer than NewProviderVerifiedFrames verified frames (a fresh farm
        // per run), so the measured share is the new-provider rate's.
        double framesEach = (double)frames / workers;
        double tileShare = on.Tiles.Seconds / frames / on.Render.Mean;
        double wholeRatio = on.Whole.Mean / on.Render.Mean;
        Console.WriteLine();
        Stats.Print($"expected whole-frame checks for new providers (first frame each + {defaults.NewProviderSampleRate:0%} of the rest, ≈{framesEach:0.#} frames each): {workers * (1 + (defaults.NewProviderSampleRate * (framesEach - 1))):0.0}; measured {on.Whole.Count}");
        Stats.Print($"DERIVED, not measured: established provider (≥ {defaults.NewProviderVerifiedFrames} verified frames), long jobs: tile {tileShare:0.0%} + {defaults.WholeFrameSampleRate:0%} × {wholeRatio:0.00} (whole-frame check / render per frame) = {tileShare + (defaults.WholeFrameSampleRate * wholeRatio):0.0%} of render");
        Stats.Print($"DERIVED, not measured: with 3 or more providers, known-answer canaries (rate {defaults.CanaryRate:0%} of frames that passed a whole-frame check) would add {defaults.CanaryRate:0%} × {defaults.WholeFrameSampleRate:0%} × {wholeRatio:0.00} = {defaults.CanaryRate * defaults.WholeFrameSampleRate * wholeRatio:0.0%} to that");
        double firstFrameRule = (1 + (defaults.WholeFrameSampleRate * (framesEach - 1))) / framesEach;
        Stats.Print($"DERIVED, not measured: established provider on a job like this one (first frame always sampled, so {firstFrameRule:0.0%} of ≈{framesEach:0.#} frames): tile {tileShare:0.0%} + {firstFrameRule:0.0%} × {wholeRatio:0.00} = {tileShare + (firstFrameRule * wholeRatio):0.0%} of render");
        Console.WriteLine(Stats.Machine());
        return 0;
    }

    private static async Task<Phase> RunOneAsync(string name, bool spotChecks, int workerCount, int frames, string size, int spp, bool quiet)
    {
        if (!quiet)
        {
            Console.WriteLine();
            Console.WriteLine($"== {name} ==");
        }

        var log = new GpuCallLog();
        await using BenchFarm farm = await BenchFarm.StartAsync("memory", spotChecks);
        FinishedJob job;
        IReadOnlyList<string> addresses;
        await using (BenchWorkers workers = await BenchWorkers.StartAsync(farm, workerCount, quiet, (i, renderer) => new TimedRenderer(i, renderer, log)))
        {
            addresses = workers.Addresses;
            job = await farm.RunFramesAsync(frames, size, spp);
        }

        // The workers have stopped, so the log is complete.
        Phase phase = Attribute(job, addresses, log);
        if (!quiet)
        {
            Stats.Print($"done: {name}: job wall {job.WallSeconds:0.00} s; {phase.Render.Count} renders {phase.Render.Seconds:0.00} s, {phase.Tiles.Count} tile checks {phase.Tiles.Seconds:0.00} s, {phase.Whole.Count} whole-frame checks {phase.Whole.Seconds:0.00} s");
        }

        return phase;
    }

    private static Phase Attribute(FinishedJob job, IReadOnlyList<string> addresses, GpuCallLog log)
    {
        JobDetails details = job.Details;
        SpotCheckRecord[] checks = [.. details.Tasks.SelectMany(t => t.Checks ?? [])];
        SpotCheckRecord[] finished = [.. checks.Where(c => c.State is SpotCheckState.Passed or SpotCheckState.Failed)];
        var render = new List<double>();
        var tiles = new List<double>();
        var whole = new List<double>();
        var canaries = new List<double>();
        var unattributed = new List<double>();
        foreach (GpuCall call in log.Calls)
        {
            string address = addresses[call.Worker];
            bool check = checks.Any(c => c.WholeFrame && !c.Canary && c.Frame == call.Frame && Same(c.Validator, address));
            bool canary = checks.Any(c => c.Canary && c.Frame == call.Frame && Same(c.Validator, address));
            bool task = details.Tasks.Any(t => t.FirstFrame <= call.Frame && call.Frame <= t.LastFrame && Same(t.Provider, address));
            List<double> kind = call.Kind == GpuCallKind.Tiles ? tiles
                : (check, canary, task) switch
                {
                    (true, false, false) => whole,
                    (false, true, false) => canaries,
                    (false, false, true) => render,
                    _ => unattributed,
                };
            kind.Add(call.Seconds);
        }

        SpotCheckRecord[] tileChecks = [.. finished.Where(c => !c.WholeFrame)];
        double framePixels = (double)details.Settings.Size.Width * details.Settings.Size.Height;
        return new Phase(
            job,
            new Sum(render),
            new Sum(tiles),
            new Sum(whole),
            new Sum(canaries),
            new Sum(unattributed),
            tileChecks.Length,
            finished.Count(c => c.WholeFrame && !c.Canary),
            finished.Count(c => c.Canary),
            tileChecks.Length == 0 ? 0 : tileChecks.Average(c => c.Tiles.Count),
            tileChecks.Length == 0 ? 0 : tileChecks.Average(c => c.Tiles.Sum(t => (double)t.Width * t.Height)) / framePixels,
            log.Abandoned);
    }

    private static bool Same(string? a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    /// <summary>Count and total of one kind of renderer call.</summary>
    private readonly record struct Sum(int Count, double Seconds)
    {
        public Sum(List<double> seconds)
            : this(seconds.Count, seconds.Sum())
        {
        }

        public double Mean => Count == 0 ? double.NaN : Seconds / Count;
    }

    private sealed record Phase(
        FinishedJob Job,
        Sum Render,
        Sum Tiles,
        Sum Whole,
        Sum Canaries,
        Sum Unattributed,
        int RecordedTiles,
        int RecordedWhole,
        int RecordedCanaries,
        double TilesPerCheck,
        double TilePixelShare,
        int Abandoned);
}
