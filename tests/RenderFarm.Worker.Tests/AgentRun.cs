using System.Collections.Concurrent;

namespace RenderFarm.Worker.Tests;

/// <summary>A <see cref="WorkerAgent"/> running in the background against a fake coordinator, with its events collected.</summary>
internal sealed class AgentRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http;
    private readonly string _folder;

    public AgentRun(Uri coordinator, IFrameRenderer renderer)
    {
        _folder = Directory.CreateTempSubdirectory("renderfarm-worker-").FullName;
        _http = new HttpClient { BaseAddress = coordinator };
        var progress = new Progress(Events);
        Key = ProviderKey.LoadOrCreate(Path.Combine(_folder, "provider.key"));
        Client = new FarmClient(_http, Key, renderer.DeviceName, progress)
        {
            FirstRetryDelay = TimeSpan.FromMilliseconds(50),
            MaxRetryDelay = TimeSpan.FromMilliseconds(400),
        };
        var options = new WorkerOptions
        {
            Coordinator = coordinator,
            KeyFile = Key.Path,
            CacheDirectory = CacheDirectory,
            LeaseWaitSeconds = 1,
        };
        Agent = new WorkerAgent(Client, renderer, options, progress);
        Running = Task.Run(() => Agent.RunAsync(_stop.Token));
    }

    public ProviderKey Key { get; }

    public FarmClient Client { get; }

    public WorkerAgent Agent { get; }

    public Task Running { get; }

    public string CacheDirectory => Path.Combine(_folder, "cache");

    public ConcurrentQueue<WorkerEvent> Events { get; } = new();

    public IEnumerable<WorkerEvent> EventsOf(WorkerEventKind kind) => Events.Where(e => e.Kind == kind);

    /// <summary>Cancels the agent as Ctrl-C would and waits for it to return.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Running.WaitAsync(TimeSpan.FromSeconds(15));
    }

    public async ValueTask DisposeAsync()
    {
        if (!Running.IsCompleted)
        {
            await _stop.CancelAsync();
            await Running.WaitAsync(TimeSpan.FromSeconds(15));
        }

        Agent.Dispose();
        _http.Dispose();
        _stop.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private sealed class Progress(ConcurrentQueue<WorkerEvent> events) : IProgress<WorkerEvent>
    {
        public void Report(WorkerEvent value) => events.Enqueue(value);
    }
}
