using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Benchmarks;

/// <summary>
/// A coordinator in this process on loopback: the embedded backends ("memory": Hangfire.InMemory, the
/// in-memory farm store) or a throwaway PostgreSQL 15 cluster ("postgres": Hangfire.PostgreSql with
/// the coordinator's own settings, the PostgreSQL farm store). Objects go to a local directory either way.
/// </summary>
internal sealed class BenchFarm : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly PostgresServer? _postgres;

    private BenchFarm(string backend, string directory, PostgresServer? postgres, CoordinatorBackends backends, CoordinatorHost host)
    {
        Backend = backend;
        Directory = directory;
        _postgres = postgres;
        Backends = backends;
        Host = host;
        Client = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromMinutes(2) };
    }

    public string Backend { get; }

    public string Directory { get; }

    public CoordinatorBackends Backends { get; }

    public CoordinatorHost Host { get; }

    /// <summary>The artist's side of the API.</summary>
    public HttpClient Client { get; }

    public static async Task<BenchFarm> StartAsync(string backend)
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("renderfarm-bench-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Directory"] = Path.Combine(directory, "objects"),
            // The lease benchmark uploads placeholder PNGs and measures leasing alone; spot checks
            // would re-render and reject them.
            ["Coordinator:SpotChecks"] = "false",
        };
        PostgresServer? postgres = null;
        try
        {
            if (backend == "postgres")
            {
                postgres = await PostgresServer.StartAsync();
                settings["ConnectionStrings:Postgres"] = await postgres.CreateDatabaseAsync();
            }
            else if (backend != "memory")
            {
                throw new ArgumentException($"--backend must be postgres, memory or both; got '{backend}'.");
            }

            IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            CoordinatorBackends backends = CoordinatorBackends.FromConfiguration(configuration);
            CoordinatorHost host = await CoordinatorHost.StartAsync(
                "http://127.0.0.1:0",
                backends,
                configuration,
                builder =>
                {
                    // Per-lease Information lines would cost more than the leases; keep warnings.
                    builder.Logging.ClearProviders();
                    builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
                    builder.Logging.SetMinimumLevel(LogLevel.Warning);
                });
            return new BenchFarm(backend, directory, postgres, backends, host);
        }
        catch
        {
            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }

            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public async Task<SceneUploaded> UploadSceneAsync()
    {
        string path = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");
        using var content = new StreamContent(File.OpenRead(path));
        content.Headers.ContentType = new MediaTypeHeaderValue("model/gltf-binary");
        using HttpResponseMessage response = await Client.PostAsync("api/scenes?name=cornell-box.glb", content);
        await EnsureAsync(response);
        return (await response.Content.ReadFromJsonAsync<SceneUploaded>(Json))!;
    }

    public async Task<JobSummary> SubmitAsync(SubmitJobRequest request)
    {
        using HttpResponseMessage response = await Client.PostAsJsonAsync("api/jobs", request, Json);
        await EnsureAsync(response);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(Json))!;
    }

    public async Task<JobDetails> GetJobAsync(Guid id) => (await Client.GetFromJsonAsync<JobDetails>($"api/jobs/{id}", Json))!;

    /// <summary>Tasks waiting in the provider queues, as Hangfire's monitoring API counts them.</summary>
    public long EnqueuedRenderTasks()
    {
        IMonitoringApi monitoring = Backends.JobStorage.GetMonitoringApi();
        return monitoring.Queues()
            .Where(q => q.Name.StartsWith("render", StringComparison.Ordinal))
            .Sum(q => monitoring.EnqueuedCount(q.Name));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a late request; the temp folder is cleaned by the OS.
        }
    }

    private static async Task EnsureAsync(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException(
                $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}
