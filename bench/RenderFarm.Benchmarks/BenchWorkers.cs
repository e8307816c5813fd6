using System.Diagnostics;
using System.Globalization;
using RenderFarm.Worker;

namespace RenderFarm.Benchmarks;

/// <summary>
/// In-process <see cref="WorkerAgent"/>s on a <see cref="BenchFarm"/>, each with its own Vulkan renderer, provider
/// key, HTTP client and cache folder, signed in and leasing until disposed.
/// </summary>
internal sealed class BenchWorkers : IAsyncDisposable
{
    private readonly List<VulkanFrameRenderer> _renderers = [];
    private readonly List<HttpClient> _https = [];
    private readonly List<WorkerAgent> _agents = [];
    private readonly List<string> _addresses = [];
    private readonly List<Task> _runs = [];
    private readonly CancellationTokenSource _stop = new();

    private BenchWorkers()
    {
    }

    /// <summary>The Vulkan device of the first worker, for display.</summary>
    public string DeviceName => _renderers[0].DeviceName;

    /// <summary>Each worker's provider address, by worker index.</summary>
    public IReadOnlyList<string> Addresses => _addresses;

    /// <summary>Starts <paramref name="count"/> workers and returns once all of them have signed in.</summary>
    /// <param name="farm">The coordinator they work for.</param>
    /// <param name="count">How many workers.</param>
    /// <param name="quiet">Whether to keep the workers' per-frame events off the console.</param>
    /// <param name="wrap">
    /// What worker i hands its tasks to, given its Vulkan renderer (which stays owned here); the renderer itself when
    /// null. Implement <see cref="ITileRenderer"/> too, or the worker will not take spot checks.
    /// </param>
    public static async Task<BenchWorkers> StartAsync(BenchFarm farm, int count, bool quiet, Func<int, VulkanFrameRenderer, IFrameRenderer>? wrap = null)
    {
        var workers = new BenchWorkers();
        var events = new EventSink(quiet);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var renderer = new VulkanFrameRenderer();
                workers._renderers.Add(renderer);
                var http = new HttpClient(new SocketsHttpHandler()) { BaseAddress = farm.Host.Address, Timeout = Timeout.InfiniteTimeSpan };
                workers._https.Add(http);
                var key = ProviderKey.LoadOrCreate(Path.Combine(farm.Directory, "keys", $"worker-{i}.key"));
                workers._addresses.Add(key.Address);
                var client = new FarmClient(http, key, renderer.DeviceName, events);
                var workerOptions = new WorkerOptions
                {
                    Coordinator = farm.Host.Address,
                    KeyFile = key.Path,
                    CacheDirectory = Path.Combine(farm.Directory, $"worker-{i}"),
                    Name = $"bench-{i}",
                };
                workers._agents.Add(new WorkerAgent(client, wrap?.Invoke(i, renderer) ?? renderer, workerOptions, events));
            }

            workers._runs.AddRange(workers._agents.Select(a => Task.Run(() => a.RunAsync(workers._stop.Token))));
            await events.WaitForLoginsAsync(count);
            return workers;
        }
        catch
        {
            await workers.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops the workers (each hands back its current lease) and releases their devices and clients.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_runs);
        }
        finally
        {
            foreach (WorkerAgent agent in _agents)
            {
                agent.Dispose();
            }

            foreach (HttpClient http in _https)
            {
                http.Dispose();
            }

            foreach (VulkanFrameRenderer renderer in _renderers)
            {
                renderer.Dispose();
            }

            _stop.Dispose();
        }
    }

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
