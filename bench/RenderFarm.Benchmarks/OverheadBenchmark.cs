using System.Diagnostics;
using System.Globalization;
using RenderFarm.Core.Farm;
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
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {r.Workers} | {frames} | {size}, {spp} | {r.Wall:0.00} s | {r.RenderSum:0.00} s | {r.Ideal:0.00} s | {r.Wall / r.Ideal:0.00}× | {r.FirstLease:0.00} s |"));
        }

        if (results.Count == 2)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{workers} workers vs 1: wall {results[0].Wall / results[1].Wall:0.00}× faster, Σ render {results[1].RenderSum / results[0].RenderSum:0.00}× (workers share the same {Environment.ProcessorCount} CPU cores under lavapipe)"));
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
        var renderers = new List<VulkanFrameRenderer>();
        var https = new List<HttpClient>();
        var agents = new List<WorkerAgent>();
        var events = new EventSink(quiet);
        using var stop = new CancellationTokenSource();
        var runs = new List<Task>();
        try
        {
            for (int i = 0; i < workerCount; i++)
            {
                var renderer = new VulkanFrameRenderer();
                renderers.Add(renderer);
                var http = new HttpClient(new SocketsHttpHandler()) { BaseAddress = farm.Host.Address, Timeout = Timeout.InfiniteTimeSpan };
                https.Add(http);
                var key = ProviderKey.LoadOrCreate(Path.Combine(farm.Directory, "keys", $"worker-{i}.key"));
                var client = new FarmClient(http, key, renderer.DeviceName, events);
                var workerOptions = new WorkerOptions
                {
                    Coordinator = farm.Host.Address,
                    KeyFile = key.Path,
                    CacheDirectory = Path.Combine(farm.Directory, $"worker-{i}"),
                    Name = $"bench-{i}",
                };
                agents.Add(new WorkerAgent(client, renderer, workerOptions, events));
            }

            if (!quiet)
            {
                Console.WriteLine($"device: {renderers[0].DeviceName}");
            }

            runs.AddRange(agents.Select(a => Task.Run(() => a.RunAsync(stop.Token))));
            await events.WaitForLoginsAsync(workerCount);

            SceneUploaded scene = await farm.UploadSceneAsync();
            var request = new SubmitJobRequest(scene.Sha256, $"1-{frames}", ChunkSize: 1, Size: size, SamplesPerPixel: spp);
            DateTimeOffset submittedAt = DateTimeOffset.UtcNow;
            long submit = Stopwatch.GetTimestamp();
            JobSummary job = await farm.SubmitAsync(request);
            JobDetails details;
            while (true)
            {
                details = await farm.GetJobAsync(job.Id);
                if (details.Job.State is JobState.Completed or JobState.Failed or JobState.Cancelled)
                {
                    break;
                }

                await Task.Delay(20);
            }

            // The job's FinishedAt is the coordinator's own record of the moment the last task completed.
            double wall = details.Job.FinishedAt is { } finished ? (finished - submittedAt).TotalSeconds : Stopwatch.GetElapsedTime(submit).TotalSeconds;
            if (details.Job.State != JobState.Completed)
            {
                throw new InvalidOperationException($"The job ended {details.Job.State}: {details.Job.Error}");
            }

            double[] renders = [.. details.Tasks.SelectMany(t => t.Frames).Select(f => f.RenderSeconds)];
            double sum = renders.Sum();
            double firstLease = details.Tasks.Min(t => t.StartedAt!.Value - submittedAt).TotalSeconds;
            double held = details.Tasks.Sum(t => (t.FinishedAt!.Value - t.StartedAt!.Value).TotalSeconds);
            var result = new Result(workerCount, wall, sum, sum / workerCount, firstLease);
            if (!quiet)
            {
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"wall {wall:0.00} s (submit → Completed), Σ render {sum:0.00} s over {renders.Length} frames (min {renders.Min():0.000}, median {renders.Order().ElementAt(renders.Length / 2):0.000}, max {renders.Max():0.000} s)"));
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"ideal {result.Ideal:0.00} s, overhead {wall / result.Ideal:0.00}×; Σ lease held {held:0.00} s (render + scene load + PNG + upload + complete), first lease {firstLease:0.00} s after submit"));
            }

            return result;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(runs);
            foreach (WorkerAgent agent in agents)
            {
                agent.Dispose();
            }

            foreach (HttpClient http in https)
            {
                http.Dispose();
            }

            foreach (VulkanFrameRenderer renderer in renderers)
            {
                renderer.Dispose();
            }
        }
    }

    private sealed record Result(int Workers, double Wall, double RenderSum, double Ideal, double FirstLease);

    /// <summary>Prints worker events as they happen (synchronously, unlike <see cref="Progress{T}"/>).</summary>
    private sealed class EventSink(bool quiet) : IProgress<WorkerEvent>
    {
        private readonly TaskCompletionSource _allLoggedIn = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly long _start = Stopwatch.GetTimestamp();
        private int _logins;
        private int _expected = int.MaxValue;

        public Task WaitForLoginsAsync(int count)
        {
            _expected = count;
            if (Volatile.Read(ref _logins) >= count)
            {
                _allLoggedIn.TrySetResult();
            }

            return _allLoggedIn.Task.WaitAsync(TimeSpan.FromMinutes(1));
        }

        public void Report(WorkerEvent value)
        {
            if (value.Kind == WorkerEventKind.LoggedIn && Interlocked.Increment(ref _logins) >= _expected)
            {
                _allLoggedIn.TrySetResult();
            }

            if (!quiet && value.Kind is WorkerEventKind.FrameRendered or WorkerEventKind.Failed or WorkerEventKind.LeaseLost or WorkerEventKind.Retrying)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{Stopwatch.GetElapsedTime(_start).TotalSeconds,7:0.00} s] {value.Message}"));
            }
        }
    }
}
