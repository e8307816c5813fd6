using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator;
using RenderFarm.Worker;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// The whole farm in this process — the embedded default: a coordinator on a loopback port with
/// Hangfire.InMemory, the in-memory farm store and a local-directory object store, and in-process
/// workers that lease tasks from it over HTTP exactly as remote providers do.
/// </summary>
internal sealed class EmbeddedFarm : IAsyncDisposable
{
    private readonly CoordinatorHost _host;
    private readonly DirectoryInfo _dataDirectory;
    private readonly List<WorkerAgent> _agents;
    private readonly List<Task> _runs;
    private readonly CancellationTokenSource _stopWorkers = new();

    private EmbeddedFarm(CoordinatorHost host, DirectoryInfo dataDirectory, List<WorkerAgent> agents)
    {
        _host = host;
        _dataDirectory = dataDirectory;
        _agents = agents;
        _runs = agents.ConvertAll(agent => agent.RunAsync(_stopWorkers.Token));
    }

    /// <summary>The coordinator's address.</summary>
    public Uri Address => _host.Address;

    /// <summary>Starts the coordinator and <paramref name="workers"/> workers on the Vulkan device <paramref name="deviceIndex"/>.</summary>
    public static async Task<EmbeddedFarm> StartAsync(int workers, int? deviceIndex, IProgress<WorkerEvent> events, CancellationToken cancellationToken)
    {
        DirectoryInfo data = Directory.CreateTempSubdirectory("renderfarm-embedded-");
        CoordinatorHost? host = null;
        var agents = new List<WorkerAgent>();
        try
        {
            host = await CoordinatorHost.StartAsync(
                "http://127.0.0.1:0",
                CoordinatorBackends.CreateEmbedded(Path.Combine(data.FullName, "objects")),
                // Every worker here is this machine's own device: nobody untrusted to spot-check, and a
                // single worker could never get its frames checked by another provider.
                configuration: new ConfigurationBuilder()
                    .AddInMemoryCollection(new Dictionary<string, string?> { ["Coordinator:SpotChecks"] = "false" })
                    .Build(),
                configure: builder => builder.Logging.SetMinimumLevel(LogLevel.Warning),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < workers; i++)
            {
                agents.Add(WorkerAgent.Create(
                    new WorkerOptions
                    {
                        Coordinator = host.Address,
                        KeyFile = Path.Combine(data.FullName, $"worker-{i + 1}.key"),
                        DeviceIndex = deviceIndex,
                        CacheDirectory = Path.Combine(data.FullName, $"worker-{i + 1}"),
                        Name = $"local-{i + 1}",
                        // Jobs arrive right after start-up; short polls keep shutdown quick.
                        LeaseWaitSeconds = 2,
                    },
                    events));
            }

            return new EmbeddedFarm(host, data, agents);
        }
        catch
        {
            agents.ForEach(agent => agent.Dispose());
            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }

            data.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>Stops the workers (handing back any lease), then the coordinator, and deletes the farm's files.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopWorkers.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_runs).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or FarmRequestException)
        {
            // Stopping: a worker refused or cancelled mid-request has nothing left to do.
        }

        _agents.ForEach(agent => agent.Dispose());
        await _host.DisposeAsync().ConfigureAwait(false);
        _stopWorkers.Dispose();
        try
        {
            _dataDirectory.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; the OS cleans it.
        }
    }
}
