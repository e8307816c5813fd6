using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;

namespace RenderFarm.Benchmarks;

/// <summary>
/// Farm overhead: a real job on the embedded farm rendered by in-process <see cref="WorkerAgent"/>s
/// with the Vulkan renderer; wall time from submit to Completed over the ideal time, the sum of the
/// per-frame render times the workers reported divided by the number of workers.
/// </summary>
internal static class OverheadBenchmark
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        int workers = options.Int("workers", 2);
        int frames = options.Int("frames", 8);
        string size = options.String("size", "64x64");
        int spp = options.Int("spp", 4);
        bool compareSingle = options.Bool("compare-single", true);

        Console.WriteLine(Stats.Machine());
        Console.WriteLine($"overhead: frames 1-{frames} at {size}, {spp} spp, chunk size 1, embedded farm (Hangfire.InMemory), Vulkan workers in this process");

        // Untimed: JIT of the coordinator and worker paths, Vulkan pipeline caches, the scene import code.
        Console.WriteLine();
        Console.WriteLine("warm-up: 1 worker, 1 frame (not counted)");
        await RunOneAsync(1, 1, size, spp, quiet: true);

        var results = new List<Result>();
        if (compareSingle && workers != 1)
        {
            results.Add(await RunOneAsync(1, frames, size, spp, quiet: false));
        }

        results.Add(await RunOneAsync(workers, frames, size, spp, quiet: false));

        Console.WriteLine();
        Console.WriteLine("| workers | frames | size, spp | wall (submit → Completed) | Σ render | ideal = Σ / workers | overhead = wall / ideal | first lease after submit |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (Result r in results)
        {
            Stats.Print($"| {r.Workers} | {frames} | {size}, {spp} | {r.Wall:0.00} s | {r.RenderSum:0.00} s | {r.Ideal:0.00} s | {r.Wall / r.Ideal:0.00}× | {r.FirstLease:0.00} s |");
        }

        if (results.Count == 2)
        {
            Stats.Print($"{workers} workers vs 1: wall {results[0].Wall / results[1].Wall:0.00}× faster, Σ render {results[1].RenderSum / results[0].RenderSum:0.00}× (workers share the same {Environment.ProcessorCount} CPU cores under lavapipe)");
        }

        Console.WriteLine(Stats.Machine());
        return 0;
    }

    private static async Task<Result> RunOneAsync(int workerCount, int frames, string size, int spp, bool quiet)
    {
        if (!quiet)
        {
            Console.WriteLine();
            Console.WriteLine($"== {workerCount} worker{(workerCount == 1 ? "" : "s")} ==");
        }

        await using BenchFarm farm = await BenchFarm.StartAsync("memory");
        await using BenchWorkers workers = await BenchWorkers.StartAsync(farm, workerCount, quiet);
        if (!quiet)
        {
            Console.WriteLine($"device: {workers.DeviceName}");
        }

        FinishedJob job = await farm.RunFramesAsync(frames, size, spp);
        JobDetails details = job.Details;
        double wall = job.WallSeconds;
        double[] renders = [.. details.Tasks.SelectMany(t => t.Frames).Select(f => f.RenderSeconds)];
        double sum = renders.Sum();
        double firstLease = details.Tasks.Min(t => t.StartedAt!.Value - job.SubmittedAt).TotalSeconds;
        double held = details.Tasks.Sum(t => (t.FinishedAt!.Value - t.StartedAt!.Value).TotalSeconds);
        var result = new Result(workerCount, wall, sum, sum / workerCount, firstLease);
        if (!quiet)
        {
            Stats.Print($"wall {wall:0.00} s (submit → Completed), Σ render {sum:0.00} s over {renders.Length} frames (min {renders.Min():0.000}, median {renders.Order().ElementAt(renders.Length / 2):0.000}, max {renders.Max():0.000} s)");
            Stats.Print($"ideal {result.Ideal:0.00} s, overhead {wall / result.Ideal:0.00}×; Σ lease held {held:0.00} s (render + scene load + PNG + upload + complete), first lease {firstLease:0.00} s after submit");
        }

        return result;
    }

    private sealed record Result(int Workers, double Wall, double RenderSum, double Ideal, double FirstLease);
}
