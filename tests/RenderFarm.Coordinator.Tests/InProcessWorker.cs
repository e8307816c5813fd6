using RenderFarm.Worker;

namespace RenderFarm.Coordinator.Tests;

/// <summary>A real worker agent on its own key in this process, running until disposed.</summary>
internal sealed class InProcessWorker : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http;
    private readonly string _folder;
    private readonly IFrameRenderer _renderer;
    private readonly IInferenceRunner? _inference;
    private readonly WorkerAgent _agent;
    private readonly Task _run;

    /// <param name="farm">The farm to serve.</param>
    /// <param name="renderer">Renders frames and spot-check tiles; disposed with the worker.</param>
    /// <param name="inference">Runs inference items, or null for a worker that does not; disposed with the worker.</param>
    public InProcessWorker(TestFarm farm, IFrameRenderer renderer, IInferenceRunner? inference = null)
    {
        _renderer = renderer;
        _inference = inference;
        _folder = Directory.CreateTempSubdirectory("renderfarm-worker-").FullName;
        _http = new HttpClient { BaseAddress = farm.Host.Address };
        ProviderKey key = ProviderKey.LoadOrCreate(Path.Combine(_folder, "provider.key"));
        Address = key.Address;
        _agent = new WorkerAgent(
            new FarmClient(_http, key, renderer.DeviceName),
            renderer,
            new WorkerOptions { Coordinator = farm.Host.Address, KeyFile = key.Path, CacheDirectory = Path.Combine(_folder, "cache"), LeaseWaitSeconds = 1 },
            inference: inference);
        _run = Task.Run(() => _agent.RunAsync(_stop.Token));
    }

    /// <summary>The worker's provider address.</summary>
    public string Address { get; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run;
        _agent.Dispose();
        (_inference as IDisposable)?.Dispose();
        (_renderer as IDisposable)?.Dispose();
        _http.Dispose();
        _stop.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
