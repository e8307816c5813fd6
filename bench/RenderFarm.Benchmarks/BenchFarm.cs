using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Nethereum.Signer;
using RenderFarm.Client;
using RenderFarm.Coordinator;
using RenderFarm.Core.Farm;
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
        EthECKey artist = EthECKey.GenerateKey();
        Client = new HttpClient(CoordinatorSignIn.WithKey(host.Address, artist.GetPublicAddress(), message => new EthereumMessageSigner().EncodeUTF8AndSign(message, artist)))
        {
            BaseAddress = host.Address,
            Timeout = TimeSpan.FromMinutes(2),
        };
    }

    public string Backend { get; }

    public string Directory { get; }

    /// <summary>The PostgreSQL database's connection string; null on the in-memory backend.</summary>
    public string? ConnectionString { get; private init; }

    public CoordinatorBackends Backends { get; }

    public CoordinatorHost Host { get; }

    /// <summary>The artist's side of the API, signed in as one client account.</summary>
    public HttpClient Client { get; }

    /// <param name="backend">"memory" or "postgres".</param>
    /// <param name="spotChecks">
    /// Off unless asked: the lease benchmark uploads placeholder PNGs and measures leasing alone, and spot checks
    /// would re-render and reject them. On leaves every verification option at the coordinator's default.
    /// </param>
    /// <param name="postgresSettings">More PostgreSQL server settings (<c>-c name=value</c>), e.g. to preload pg_stat_statements.</param>
    public static async Task<BenchFarm> StartAsync(string backend, bool spotChecks = false, string postgresSettings = "")
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("renderfarm-bench-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Directory"] = Path.Combine(directory, "objects"),

            // Every simulated provider signs in from loopback; the per-address login limit is not what is measured.
            ["Coordinator:Providers:MaxLoginsPerAddressPerMinute"] = "0",
        };
        if (!spotChecks)
        {
            // Whole-frame samples need spot checks, so this turns every check off.
            settings["Coordinator:SpotChecks"] = "false";
        }

        // A production coordinator refuses to start without its secrets; this farm lives for one run.
        foreach ((string key, string? value) in CoordinatorSecrets.Generate())
        {
            settings[key] = value;
        }

        PostgresServer? postgres = null;
        try
        {
            if (backend == "postgres")
            {
                postgres = await PostgresServer.StartAsync(postgresSettings);
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

                    // One line per split, with where its time went.
                    builder.Logging.AddFilter("RenderFarm.Coordinator.Jobs.JobSplitter", LogLevel.Information);
                });
            return new BenchFarm(backend, directory, postgres, backends, host) { ConnectionString = settings.GetValueOrDefault("ConnectionStrings:Postgres") };
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

    /// <summary>
    /// Uploads the Cornell box, submits frames 1–<paramref name="frames"/> at one frame per task and polls the job
    /// until it has ended.
    /// </summary>
    /// <exception cref="InvalidOperationException">The job ended Failed or Cancelled.</exception>
    public async Task<FinishedJob> RunFramesAsync(int frames, string size, int spp)
    {
        SceneUploaded scene = await UploadSceneAsync();
        var request = new SubmitJobRequest(scene.Sha256, $"1-{frames}", ChunkSize: 1, Size: size, SamplesPerPixel: spp);
        DateTimeOffset submittedAt = DateTimeOffset.UtcNow;
        long submit = Stopwatch.GetTimestamp();
        JobSummary job = await SubmitAsync(request);
        JobDetails details;
        while (true)
        {
            details = await GetJobAsync(job.Id);
            if (details.Job.State is JobState.Completed or JobState.Failed or JobState.Cancelled)
            {
                break;
            }

            await Task.Delay(20);
        }

        if (details.Job.State != JobState.Completed)
        {
            throw new InvalidOperationException($"The job ended {details.Job.State}: {details.Job.Error}");
        }

        // The job's FinishedAt is the coordinator's own record of the moment the last task completed.
        double wall = details.Job.FinishedAt is { } finished ? (finished - submittedAt).TotalSeconds : Stopwatch.GetElapsedTime(submit).TotalSeconds;
        return new FinishedJob(details, submittedAt, wall);
    }

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

/// <summary>A job that ended Completed.</summary>
/// <param name="Details">The job as the client API shows it at the end.</param>
/// <param name="SubmittedAt">This process's clock just before the submit request.</param>
/// <param name="WallSeconds">From submit to the coordinator's FinishedAt.</param>
internal sealed record FinishedJob(JobDetails Details, DateTimeOffset SubmittedAt, double WallSeconds);
