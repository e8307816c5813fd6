using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Benchmarks;

/// <summary>
/// Lease throughput: P simulated providers (own key, own connection pool, no GPU work) run the
/// provider loop (lease → PUT a small PNG per frame → complete) until every task succeeded.
/// </summary>
internal static class LeaseBenchmark
{
    private static readonly string[] s_queues = ["render"];

    public static async Task<int> RunAsync(BenchOptions options)
    {
        int providers = options.Int("providers", 16);
        int tasks = options.Int("tasks", 400);
        int jobSize = options.Int("job-size", 100);
        int wait = options.Int("wait", 20, min: 0);
        int wakeups = options.Int("wakeups", 5, min: 0);
        int idle = options.Int("idle", 0, min: 0);
        int split = options.Int("split", 0, min: 0);
        int chaos = options.Int("chaos", 0, min: 0);
        string backend = options.String("backend", "both");
        bool profile = options.Bool("profile", false);
        bool providersProcess = options.Bool("providers-process", false);
        if (chaos > 0)
        {
            return await ChaosBenchmark.RunAsync(options, providers, tasks, jobSize, chaos);
        }

        string[] backends = backend == "both" ? ["memory", "postgres"] : [backend];

        Console.WriteLine(Stats.Machine());
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"leases: {providers} providers ({(providersProcess ? "in a process of their own" : "in the bench's process")}), {tasks} tasks (chunk size 1) in jobs of {jobSize}, lease wait {wait} s, backends {string.Join(", ", backends)}"));

        var results = new List<Result>();
        foreach (string name in backends)
        {
            results.Add(await RunOneAsync(name, providers, tasks, jobSize, wait, wakeups, idle, split, profile, providersProcess));
        }

        Console.WriteLine();
        Console.WriteLine("| backend | providers | tasks | tasks/s | lease p50 | lease p90 | lease p99 | lease max | complete p50 | complete p99 | upload p50 | bench process CPU (coordinator only with --providers-process) | idle wake-up p50 |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (Result r in results)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {r.Backend} | {providers} | {tasks} | {r.TasksPerSecond:0.0} | {Stats.Ms(r.Lease.Percentile(50))} ms | {Stats.Ms(r.Lease.Percentile(90))} ms | {Stats.Ms(r.Lease.Percentile(99))} ms | {Stats.Ms(r.Lease.Max)} ms | {Stats.Ms(r.Complete.Percentile(50))} ms | {Stats.Ms(r.Complete.Percentile(99))} ms | {Stats.Ms(r.Upload.Percentile(50))} ms | {r.CpuCores:0.00} cores | {(r.WakeUp is null ? "-" : Stats.Ms(r.WakeUp.Percentile(50)) + " ms")} |"));
        }

        if (idle > 0 || split > 0)
        {
            Console.WriteLine();
            Console.WriteLine("| backend | answers by status (providers) | /health p99 under load | DB connections open (running) under load | idle pollers | their errors | /health p99 idle | DB connections open idle | wake-up p50 | wake-up max | split |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (Result r in results)
            {
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {r.Backend} | {r.Answers} | {Stats.Ms(r.Health?.Percentile(99) ?? double.NaN)} ms | {r.Connections} | {idle} | {r.Idle?.Errors.ToString(CultureInfo.InvariantCulture) ?? "-"} | {Stats.Ms(r.Idle?.Health.Percentile(99) ?? double.NaN)} ms | {r.Idle?.Connections ?? "-"} | {Stats.Ms(r.Idle?.WakeUp.Percentile(50) ?? double.NaN)} ms | {Stats.Ms(r.Idle?.WakeUp.Max ?? double.NaN)} ms | {(r.SplitSeconds is { } sec ? sec.ToString("0.00", CultureInfo.InvariantCulture) + $" s for {split} tasks" : "-")} |"));
            }
        }

        if (results.Count == 2)
        {
            Result memory = results[0];
            Result postgres = results[1];
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"postgres / memory: throughput {postgres.TasksPerSecond / memory.TasksPerSecond:0.00}×, lease p50 {postgres.Lease.Percentile(50) / memory.Lease.Percentile(50):0.0}×, lease p99 {postgres.Lease.Percentile(99) / memory.Lease.Percentile(99):0.0}×, complete p50 {postgres.Complete.Percentile(50) / memory.Complete.Percentile(50):0.0}×"));
        }

        Console.WriteLine(Stats.Machine());
        return results.All(r => r.Verified) ? 0 : 1;
    }

    private static async Task<Result> RunOneAsync(string backend, int providerCount, int tasks, int jobSize, int wait, int wakeups, int idle, int split, bool profile, bool providersProcess)
    {
        Console.WriteLine();
        Console.WriteLine($"== backend {backend} ==");
        long setup = Stopwatch.GetTimestamp();
        await using BenchFarm farm = await BenchFarm.StartAsync(backend, postgresSettings: profile ? LeaseProfile.PostgresSettings : "");
        Console.WriteLine($"coordinator at {farm.Host.Address} ({(backend == "postgres" ? "Hangfire.PostgreSql + PostgreSQL farm store" : "Hangfire.InMemory + in-memory farm store")}), started in {Stats.Ms(Stats.Since(setup))} ms");

        (string pngPath, string pngSha256, long pngSize) = WritePng(farm.Directory);

        // Jobs first, and wait until every task sits in a provider queue, so the lease figures are
        // the lease path alone; the split is timed separately.
        SceneUploaded scene = await farm.UploadSceneAsync();
        long submit = Stopwatch.GetTimestamp();
        var jobIds = new List<Guid>();
        for (int left = tasks; left > 0; left -= jobSize)
        {
            int count = Math.Min(jobSize, left);
            JobSummary job = await farm.SubmitAsync(new SubmitJobRequest(scene.Sha256, $"1-{count}", ChunkSize: 1, Size: "16x16", SamplesPerPixel: 1));
            jobIds.Add(job.Id);
        }

        double submitMs = Stats.Since(submit);
        while (farm.EnqueuedRenderTasks() < tasks)
        {
            if (Stopwatch.GetElapsedTime(submit) > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"Only {farm.EnqueuedRenderTasks()} of {tasks} tasks were queued after 2 minutes.");
            }

            await Task.Delay(10);
        }

        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{jobIds.Count} jobs submitted in {submitMs:0} ms; all {tasks} tasks queued {Stats.Since(submit):0} ms after the first submit"));

        string keys = Path.Combine(farm.Directory, "keys");
        var answers = new StatusCounter();
        LeaseProviders.Provider[] providers = providersProcess ? [] : await LeaseProviders.SignInAsync(farm.Host.Address, keys, providerCount, answers);
        var health = new HealthProbe(farm.Host.Address, TimeSpan.FromMilliseconds(100));
        var sampler = new ConnectionSampler(farm.ConnectionString);
        using LeaseProfile? profiler = profile ? await LeaseProfile.StartAsync(farm.ConnectionString) : null;
        LeaseProviders.Outcome outcome;
        double coordinatorCores = double.NaN;
        if (providersProcess)
        {
            (outcome, coordinatorCores) = await LeaseProviders.RunInChildAsync(farm.Host.Address, keys, providerCount, tasks, wait, (pngPath, pngSha256, pngSize));
        }
        else
        {
            outcome = await LeaseProviders.RunAsync(providers, tasks, wait, (pngPath, pngSha256, pngSize), answers);
        }

        int completed = outcome.Completed;
        TimeSpan elapsed = TimeSpan.FromSeconds(outcome.Seconds);
        if (profiler is not null)
        {
            await profiler.PrintAsync(completed);
        }

        await health.DisposeAsync();
        await sampler.DisposeAsync();
        double cpuCores = providersProcess ? coordinatorCores : outcome.CpuCores;

        bool verified = completed == tasks;
        int succeeded = 0;
        foreach (Guid id in jobIds)
        {
            JobDetails details = await farm.GetJobAsync(id);
            succeeded += details.Tasks.Count(t => t.State == FarmTaskState.Succeeded);
            verified &= details.Job.State == JobState.Completed;
        }

        verified &= succeeded == tasks;
        Result result = new(
            backend,
            completed / elapsed.TotalSeconds,
            new Stats(outcome.Lease),
            new Stats(outcome.Complete),
            new Stats(outcome.Upload),
            cpuCores,
            verified);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"backend {backend}: {completed} tasks in {elapsed.TotalSeconds:0.00} s = {result.TasksPerSecond:0.0} tasks/s; {succeeded} tasks Succeeded, {jobIds.Count} jobs {(verified ? "all Completed" : "NOT all Completed")}; {outcome.Empty} empty lease answers, {outcome.Conflicts} completes answered 409 although the task had Succeeded"));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  lease (grants only, n={result.Lease.Count}): p50 {Stats.Ms(result.Lease.Percentile(50))} ms, p90 {Stats.Ms(result.Lease.Percentile(90))} ms, p99 {Stats.Ms(result.Lease.Percentile(99))} ms, max {Stats.Ms(result.Lease.Max)} ms, mean {Stats.Ms(result.Lease.Mean)} ms"));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  complete: p50 {Stats.Ms(result.Complete.Percentile(50))} ms, p99 {Stats.Ms(result.Complete.Percentile(99))} ms, max {Stats.Ms(result.Complete.Max)} ms; upload p50 {Stats.Ms(result.Upload.Percentile(50))} ms, p99 {Stats.Ms(result.Upload.Percentile(99))} ms"));
        Console.WriteLine(providersProcess
            ? string.Create(CultureInfo.InvariantCulture, $"  this process (the coordinator) used {cpuCores:0.00} cores on average, the providers' process {outcome.CpuCores:0.00} (PostgreSQL runs in its own processes)")
            : string.Create(CultureInfo.InvariantCulture, $"  this process used {cpuCores:0.00} cores on average (coordinator + providers; PostgreSQL runs in its own processes)"));
        Console.WriteLine($"  answers to the providers by status: {outcome.Answers}");
        Console.WriteLine($"  {health.Summary()}");
        Console.WriteLine($"  {sampler.Summary()}");
        result = result with { Answers = answers.ToString(), Health = health.Latencies(), Connections = ConnectionsCell(sampler) };

        if (wakeups > 0)
        {
            if (providersProcess)
            {
                // The wake-up stage uses providers of this process; signed in now, with the same keys.
                providers = await LeaseProviders.SignInAsync(farm.Host.Address, keys, providerCount, new StatusCounter());
            }

            result = result with { WakeUp = await MeasureWakeUpsAsync(farm, scene, providers, wakeups, pngPath, pngSha256, pngSize) };
        }

        foreach (LeaseProviders.Provider provider in providers)
        {
            provider.Http.Dispose();
        }

        if (idle > 0)
        {
            result = result with { Idle = await MeasureIdleAsync(farm, scene, idle, (pngPath, pngSha256, pngSize), Math.Max(wakeups, 1)) };
        }

        if (split > 0)
        {
            result = result with { SplitSeconds = await MeasureSplitAsync(farm, scene, split) };
        }

        return result;
    }

    private static string ConnectionsCell(ConnectionSampler sampler) => sampler.Enabled ? sampler.Summary().Split(": ", 2)[1].Split(';')[0] : "-";

    // N providers signed in and long-polling an idle farm: errors, /health latency and database connections while they
    // wait, then submit → grant of one-task jobs (the wake-up of one of N waiting polls).
    private static async Task<IdleResult> MeasureIdleAsync(BenchFarm farm, SceneUploaded scene, int count, (string Path, string Sha256, long Size) png, int rounds)
    {
        long setup = Stopwatch.GetTimestamp();
        await using var sampler = new ConnectionSampler(farm.ConnectionString);
        await using IdlePollers pollers = await IdlePollers.StartAsync(farm.Host.Address, Path.Combine(farm.Directory, "keys"), count, 20, png);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  idle: {count} providers signed in and long-polling ({Stats.Ms(Stats.Since(setup))} ms to sign in)"));

        // Every poll gets past its first look and waits; then /health is probed while they wait.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var health = new HealthProbe(farm.Host.Address, TimeSpan.FromMilliseconds(50));
        await Task.Delay(TimeSpan.FromSeconds(5));
        var latencies = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            Task<long> granted = pollers.NextGrantAsync();
            long submit = Stopwatch.GetTimestamp();
            await farm.SubmitAsync(new SubmitJobRequest(scene.Sha256, "1", ChunkSize: 1, Size: "16x16", SamplesPerPixel: 1));
            long at = await granted.WaitAsync(TimeSpan.FromSeconds(60));
            latencies.Add(Stopwatch.GetElapsedTime(submit, at).TotalMilliseconds);
            await Task.Delay(500);
        }

        await health.DisposeAsync();
        var wake = new Stats(latencies);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  idle wake-up (submit of a 1-task job → grant to one of {count} waiting providers), ms: {string.Join(" ", latencies.Select(l => l.ToString("0", CultureInfo.InvariantCulture)))}; median {Stats.Ms(wake.Percentile(50))} ms"));
        Console.WriteLine($"  idle: {health.Summary()}");
        Console.WriteLine($"  idle: {sampler.Summary()}");
        Console.WriteLine($"  idle: answers to the {count} providers by status: {pollers.Answers}; {pollers.Failures} failed calls{(pollers.FirstFailure is { } first ? $", e.g. {first}" : "")}");
        return new IdleResult(pollers.Answers.Errors + pollers.Failures, health.Latencies(), ConnectionsCell(sampler), wake);
    }

    // Submit of one job of N tasks → all N in the provider queues: the split alone, after the submit's own insert.
    private static async Task<double> MeasureSplitAsync(BenchFarm farm, SceneUploaded scene, int tasks)
    {
        long before = farm.EnqueuedRenderTasks();
        long submit = Stopwatch.GetTimestamp();
        await farm.SubmitAsync(new SubmitJobRequest(scene.Sha256, $"1-{tasks}", ChunkSize: 1, Size: "16x16", SamplesPerPixel: 1));
        double submitted = Stats.Since(submit);
        while (farm.EnqueuedRenderTasks() < before + tasks)
        {
            if (Stopwatch.GetElapsedTime(submit) > TimeSpan.FromMinutes(5))
            {
                throw new TimeoutException($"Only {farm.EnqueuedRenderTasks() - before} of {tasks} tasks were queued after 5 minutes.");
            }

            await Task.Delay(10);
        }

        double seconds = Stopwatch.GetElapsedTime(submit).TotalSeconds;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  split: a job of {tasks} tasks submitted in {submitted:0} ms (task records written), all {tasks} queued {seconds:0.00} s after the submit ({seconds * 1000 / tasks:0.000} ms per task)"));
        return seconds;
    }

    private sealed record IdleResult(long Errors, Stats Health, string Connections, Stats WakeUp);

    // A real PNG of the jobs' frame size (16×16): the coordinator checks the signature and the dimensions.
    private static (string Path, string Sha256, long Size) WritePng(string directory)
    {
        string path = Path.Combine(directory, "frame.png");
        using (var image = new Image<Rgba32>(16, 16, new Rgba32(200, 120, 40, 255)))
        {
            image.SaveAsPng(path);
        }

        byte[] bytes = File.ReadAllBytes(path);
        return (path, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length);
    }

    // An idle farm: every provider is blocked in a lease long-poll on empty queues when a one-task job
    // arrives. Submit → grant is what an idle provider waits for new work: the split job's pickup by the
    // coordinator's Hangfire server, then the wake-up of a lease long-poll.
    private static async Task<Stats> MeasureWakeUpsAsync(
        BenchFarm farm, SceneUploaded scene, LeaseProviders.Provider[] providers, int rounds, string pngPath, string pngSha256, long pngSize)
    {
        var latencies = new List<double>();
        var line = new System.Text.StringBuilder();
        for (int round = 0; round < rounds; round++)
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var polls = providers.Select(p => Task.Run(async () =>
            {
                try
                {
                    LeaseGrant? grant = await p.Client.LeaseAsync(s_queues, 30, cancel.Token);
                    return (p, grant);
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    return (p, (LeaseGrant?)null);
                }
            })).ToList();

            // Let every long-poll get past its first empty fetch and block.
            await Task.Delay(750);
            long submit = Stopwatch.GetTimestamp();
            await farm.SubmitAsync(new SubmitJobRequest(scene.Sha256, "1", ChunkSize: 1, Size: "16x16", SamplesPerPixel: 1));
            (LeaseProviders.Provider provider, LeaseGrant? grant) = (null!, null);
            while (grant is null && polls.Count > 0)
            {
                Task<(LeaseProviders.Provider, LeaseGrant?)> first = await Task.WhenAny(polls);
                polls.Remove(first);
                (provider, grant) = await first;
            }

            double ms = Stats.Since(submit);
            await cancel.CancelAsync();
            await Task.WhenAll(polls);
            if (grant is null)
            {
                throw new InvalidOperationException("No provider got the wake-up task within 60 s.");
            }

            latencies.Add(ms);
            line.Append(string.Create(CultureInfo.InvariantCulture, $" {ms:0}"));
            await provider.Client.UploadAsync(grant.Uploads[0].Upload.Url, pngPath, "image/png");
            await provider.Client.CompleteAsync(grant.LeaseId, new CompleteRequest([new CompletedFrame(grant.FirstFrame, pngSha256, pngSize, 0)]));
        }

        var stats = new Stats(latencies);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  idle wake-up (submit of a 1-task job → grant to one of {providers.Length} long-polling providers), ms:{line}; median {Stats.Ms(stats.Percentile(50))} ms"));
        return stats;
    }

    private sealed record Result(string Backend, double TasksPerSecond, Stats Lease, Stats Complete, Stats Upload, double CpuCores, bool Verified)
    {
        public Stats? WakeUp { get; init; }

        public string Answers { get; init; } = "-";

        public Stats? Health { get; init; }

        public string Connections { get; init; } = "-";

        public IdleResult? Idle { get; init; }

        public double? SplitSeconds { get; init; }
    }
}
