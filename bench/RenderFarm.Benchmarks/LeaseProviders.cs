using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;

namespace RenderFarm.Benchmarks;

/// <summary>
/// The lease bench's simulated providers: each with its own key and connection pool, no GPU work, running lease → PUT a
/// small PNG per frame → complete until the run's tasks are done. They run in the bench's process, or with
/// <c>leases --providers-process true</c> in a child process of their own, so that the coordinator's CPU is measured
/// apart from theirs (the child reports its own).
/// </summary>
internal static class LeaseProviders
{
    /// <summary>The bench command a child process of providers runs.</summary>
    public const string ChildCommand = "lease-providers";

    private static readonly string[] s_queues = ["render"];

    /// <summary>What the providers measured: samples in ms, counts, and the CPU of the process they ran in.</summary>
    public sealed record Outcome(
        List<double> Lease, List<double> Complete, List<double> Upload, int Completed, int Empty, int Conflicts, string Answers, double Seconds, double CpuCores);

    /// <summary>Signs <paramref name="count"/> providers in (keys provider-0.key … in <paramref name="keys"/>).</summary>
    public static async Task<Provider[]> SignInAsync(Uri coordinator, string keys, int count, StatusCounter answers)
    {
        var providers = new Provider[count];
        for (int i = 0; i < count; i++)
        {
            var http = new HttpClient(answers.Handler()) { BaseAddress = coordinator, Timeout = Timeout.InfiniteTimeSpan };
            var client = new FarmClient(http, ProviderKey.LoadOrCreate(Path.Combine(keys, $"provider-{i}.key")), "bench, no GPU");
            providers[i] = new Provider(http, client);
        }

        await Task.WhenAll(providers.Select(p => p.Client.LoginAsync()));
        return providers;
    }

    /// <summary>Runs the providers until <paramref name="tasks"/> tasks are completed (or 10 minutes pass).</summary>
    public static async Task<Outcome> RunAsync(Provider[] providers, int tasks, int wait, (string Path, string Sha256, long Size) png, StatusCounter answers)
    {
        using var done = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        int completed = 0;
        int nextReport = 1;
        var progressLock = new Lock();
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        long start = Stopwatch.GetTimestamp();

        async Task LoopAsync(Provider provider)
        {
            while (!done.IsCancellationRequested)
            {
                long leaseStart = Stopwatch.GetTimestamp();
                LeaseGrant? grant;
                try
                {
                    grant = await provider.Client.LeaseAsync(s_queues, wait, done.Token);
                }
                catch (OperationCanceledException) when (done.IsCancellationRequested)
                {
                    return;
                }

                if (grant is null)
                {
                    provider.Empty++;
                    continue;
                }

                provider.Lease.Add(Stats.Since(leaseStart));
                var frames = new List<CompletedFrame>(grant.Uploads.Count);
                foreach (FrameUpload upload in grant.Uploads)
                {
                    long put = Stopwatch.GetTimestamp();
                    await provider.Client.UploadAsync(upload.Upload.Url, png.Path, "image/png", done.Token);
                    provider.Upload.Add(Stats.Since(put));
                    frames.Add(new CompletedFrame(upload.Frame, png.Sha256, png.Size, 0));
                }

                long complete = Stopwatch.GetTimestamp();
                try
                {
                    await provider.Client.CompleteAsync(grant.LeaseId, new CompleteRequest(frames), done.Token);
                }
                catch (LeaseLostException ex) when (ex.Message.Contains("the task is Succeeded", StringComparison.Ordinal))
                {
                    // A retried complete (after a timeout or 5xx) whose first attempt went through: the
                    // coordinator answers 409 instead of 200. Counted, and the task is done.
                    provider.SucceededConflicts++;
                }

                provider.Complete.Add(Stats.Since(complete));

                int now = Interlocked.Increment(ref completed);
                lock (progressLock)
                {
                    while (nextReport <= 10 && now * 10 >= nextReport * tasks)
                    {
                        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                        Console.WriteLine(string.Create(
                            CultureInfo.InvariantCulture,
                            $"  {now,6}/{tasks} ({nextReport * 10,3}%) at {seconds,7:0.00} s, {now / seconds,7:0.0} tasks/s"));
                        nextReport++;
                    }
                }

                if (now == tasks)
                {
                    await done.CancelAsync();
                }
            }
        }

        await Task.WhenAll(providers.Select(p => Task.Run(() => LoopAsync(p))));
        double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / elapsed;
        return new Outcome(
            [.. providers.SelectMany(p => p.Lease)],
            [.. providers.SelectMany(p => p.Complete)],
            [.. providers.SelectMany(p => p.Upload)],
            completed,
            providers.Sum(p => p.Empty),
            providers.Sum(p => p.SucceededConflicts),
            answers.ToString(),
            elapsed,
            cpu);
    }

    /// <summary>
    /// Runs the providers in a child process and waits for it; also returns the CPU this process (the coordinator) used
    /// meanwhile, in cores.
    /// </summary>
    public static async Task<(Outcome Providers, double CoordinatorCores)> RunInChildAsync(
        Uri coordinator, string keys, int count, int tasks, int wait, (string Path, string Sha256, long Size) png)
    {
        string output = Path.Combine(Path.GetDirectoryName(png.Path)!, "providers.json");
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };

        // Run through the dotnet host (dotnet RenderFarm.Benchmarks.dll) or as the app host itself.
        if (Path.GetFileName(Environment.ProcessPath!) is "dotnet" or "dotnet.exe")
        {
            start.ArgumentList.Add(typeof(LeaseProviders).Assembly.Location);
        }

        foreach (string argument in (string[])[
            ChildCommand, "--url", coordinator.AbsoluteUri, "--keys", keys, "--providers", Text(count), "--tasks", Text(tasks), "--wait", Text(wait),
            "--png", png.Path, "--sha", png.Sha256, "--size", png.Size.ToString(CultureInfo.InvariantCulture), "--out", output])
        {
            start.ArgumentList.Add(argument);
        }

        using Process child = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(12));
        string? line;
        while ((line = await child.StandardOutput.ReadLineAsync(timeout.Token)) is not null && line != "ready")
        {
            Console.WriteLine(line);
        }

        if (line is null)
        {
            throw new InvalidOperationException("The providers' process ended before it was ready.");
        }

        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        long go = Stopwatch.GetTimestamp();
        await child.StandardInput.WriteLineAsync("go");
        await child.StandardInput.FlushAsync();
        while ((line = await child.StandardOutput.ReadLineAsync(timeout.Token)) is not null)
        {
            Console.WriteLine(line);
        }

        await child.WaitForExitAsync(timeout.Token);
        double coordinatorCores = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / Stopwatch.GetElapsedTime(go).TotalSeconds;
        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"The providers' process exited with {child.ExitCode}.");
        }

        await using FileStream file = File.OpenRead(output);
        Outcome outcome = await JsonSerializer.DeserializeAsync<Outcome>(file) ?? throw new InvalidOperationException("The providers' process wrote no outcome.");
        return (outcome, coordinatorCores);
    }

    /// <summary>The child's side: sign in, say "ready", wait for "go" on standard input, run, write the outcome.</summary>
    public static async Task<int> RunChildAsync(BenchOptions options)
    {
        var answers = new StatusCounter();
        var coordinator = new Uri(options.String("url", "http://127.0.0.1/"));
        Provider[] providers = await SignInAsync(coordinator, options.String("keys", "keys"), options.Int("providers", 16), answers);
        Console.WriteLine("ready");
        if (await Console.In.ReadLineAsync() != "go")
        {
            return 2;
        }

        Outcome outcome = await RunAsync(
            providers,
            options.Int("tasks", 400),
            options.Int("wait", 20, min: 0),
            (options.String("png", "frame.png"), options.String("sha", ""), long.Parse(options.String("size", "0"), CultureInfo.InvariantCulture)),
            answers);
        foreach (Provider provider in providers)
        {
            provider.Http.Dispose();
        }

        await File.WriteAllTextAsync(options.String("out", "providers.json"), JsonSerializer.Serialize(outcome));
        return 0;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>One simulated provider and what it measured.</summary>
    internal sealed class Provider(HttpClient http, FarmClient client)
    {
        public HttpClient Http { get; } = http;

        public FarmClient Client { get; } = client;

        public List<double> Lease { get; } = [];

        public List<double> Complete { get; } = [];

        public List<double> Upload { get; } = [];

        public int Empty { get; set; }

        public int SucceededConflicts { get; set; }
    }
}
