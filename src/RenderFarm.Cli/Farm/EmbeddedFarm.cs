using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using RenderFarm.Client;
using RenderFarm.Coordinator;
using RenderFarm.Ledger;
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
    private readonly ProviderKey _client;

    private EmbeddedFarm(
        CoordinatorHost host, DirectoryInfo dataDirectory, List<WorkerAgent> agents, OfflineLedger ledger, IReadOnlyList<string> providers, ProviderKey client)
    {
        _host = host;
        _dataDirectory = dataDirectory;
        _agents = agents;
        Ledger = ledger;
        ProviderAddresses = providers;
        _client = client;
        _runs = agents.ConvertAll(agent => agent.RunAsync(_stopWorkers.Token));
    }

    /// <summary>The coordinator's address.</summary>
    public Uri Address => _host.Address;

    /// <summary>The farm's offline ledger file, which settlements pay through.</summary>
    public OfflineLedger Ledger { get; }

    /// <summary>The workers' provider addresses, in worker order.</summary>
    public IReadOnlyList<string> ProviderAddresses { get; }

    /// <summary>The local client account this farm's jobs are submitted (and paid) from.</summary>
    public string ClientAddress => _client.Address;

    /// <summary>
    /// A link that signs a browser in to the farm's web app as the local client account: an API key issued for it, in the
    /// link's fragment, which the browser never sends to the server (the sign-in page reads it and posts it).
    /// </summary>
    public async Task<Uri> CreateWebLinkAsync(CancellationToken cancellationToken)
    {
        using HttpClient http = CreateHttpClient(TimeSpan.FromSeconds(30));
        using HttpResponseMessage response = await http.PostAsync(new Uri("api/keys", UriKind.Relative), System.Net.Http.Json.JsonContent.Create(new { }), cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        using var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        return new Uri(Address, $"signin#key={body.RootElement.GetProperty("key").GetString()}");
    }

    /// <summary>A client of the farm's coordinator, signed in with the local client key.</summary>
    public HttpClient CreateHttpClient(TimeSpan timeout) =>
        new(CoordinatorSignIn.WithKey(Address, _client.Address, _client.Sign)) { BaseAddress = Address, Timeout = timeout };

    /// <summary>Starts the coordinator and <paramref name="workers"/> workers on the Vulkan device <paramref name="deviceIndex"/>.</summary>
    /// <param name="workers">How many in-process workers.</param>
    /// <param name="deviceIndex">The Vulkan device; null picks the best.</param>
    /// <param name="verify">
    /// Spot-check every frame on another worker, as a public farm does. Off for plain renders: every worker here is
    /// this machine's own device, and a single worker could never have its frames checked by another provider.
    /// </param>
    /// <param name="events">What the workers do.</param>
    /// <param name="cancellationToken">Stops the start-up.</param>
    public static async Task<EmbeddedFarm> StartAsync(int workers, int? deviceIndex, bool verify, IProgress<WorkerEvent> events, CancellationToken cancellationToken)
    {
        DirectoryInfo data = Directory.CreateTempSubdirectory("renderfarm-embedded-");
        CoordinatorHost? host = null;
        var agents = new List<WorkerAgent>();
        try
        {
            CoordinatorBackends backends = CoordinatorBackends.CreateEmbedded(Path.Combine(data.FullName, "objects"));
            host = await CoordinatorHost.StartAsync(
                "http://127.0.0.1:0",
                backends,
                configuration: new ConfigurationBuilder()
                    .AddInMemoryCollection(new Dictionary<string, string?> { ["Coordinator:SpotChecks"] = verify ? "true" : "false" })

                    // The farm's records live only as long as this process, so fresh secrets per run lose nothing.
                    .AddInMemoryCollection(CoordinatorSecrets.Generate())
                    .Build(),
                configure: builder => builder.Logging.SetMinimumLevel(LogLevel.Warning),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < workers; i++)
            {
                agents.Add(WorkerAgent.Create(
                    new WorkerOptions
                    {
                        Coordinator = host.Address,
                        KeyFile = KeyFile(data, i + 1),
                        DeviceIndex = deviceIndex,
                        CacheDirectory = Path.Combine(data.FullName, $"worker-{i + 1}"),
                        Name = $"local-{i + 1}",
                        // Jobs arrive right after start-up; short polls keep shutdown quick.
                        LeaseWaitSeconds = 2,
                    },
                    events));
            }

            string[] providers = [.. Enumerable.Range(1, workers).Select(i => ProviderKey.LoadOrCreate(KeyFile(data, i)).Address)];
            // Zero-config sign-in: a client key made here, next to the workers' provider keys.
            ProviderKey client = ProviderKey.LoadOrCreate(Path.Combine(data.FullName, "client.key"));
            return new EmbeddedFarm(host, data, agents, (OfflineLedger)backends.Ledger!, providers, client);
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

    private static string KeyFile(DirectoryInfo data, int worker) => Path.Combine(data.FullName, $"worker-{worker}.key");

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
