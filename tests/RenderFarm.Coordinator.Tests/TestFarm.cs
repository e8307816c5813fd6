using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Nethereum.Signer;
using RenderFarm.Client;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// A real coordinator on a loopback port (Kestrel, Hangfire.InMemory, in-memory farm store,
/// local-directory objects in a temp folder) with a fake clock, plus helpers that speak its API.
/// <see cref="Client"/> is signed in as one client account (<see cref="ClientKey"/>).
/// </summary>
internal sealed class TestFarm : IAsyncDisposable
{
    public const string OperatorKey = "operator-key-for-the-coordinator-tests";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly string _directory;
    private readonly List<HttpClient> _clients = [];

    private TestFarm(CoordinatorHost host, FakeTimeProvider time, string directory)
    {
        Host = host;
        Time = time;
        _directory = directory;
        ClientKey = EthECKey.GenerateKey();
        Client = NewClient(ClientKey);
        Anonymous = Track(new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(60) });
        Operator = Track(new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(60) });
        Operator.DefaultRequestHeaders.Add("X-Operator-Key", OperatorKey);
    }

    public CoordinatorHost Host { get; }

    public FakeTimeProvider Time { get; }

    /// <summary>The key of the account <see cref="Client"/> signs in as.</summary>
    public EthECKey ClientKey { get; }

    /// <summary>The address of the account <see cref="Client"/> signs in as.</summary>
    public string ClientAddress => ClientKey.GetPublicAddress();

    /// <summary>Signed in as the test's client account; provider calls and presigned URLs pass untouched.</summary>
    public HttpClient Client { get; }

    /// <summary>No credentials at all.</summary>
    public HttpClient Anonymous { get; }

    /// <summary>Sends the operator key.</summary>
    public HttpClient Operator { get; }

    /// <summary>A client signed in as the account of <paramref name="key"/> (a fresh account when null).</summary>
    public HttpClient NewClient(EthECKey? key = null)
    {
        key ??= EthECKey.GenerateKey();
        var signIn = CoordinatorSignIn.WithKey(Host.Address, key.GetPublicAddress(), message => new EthereumMessageSigner().EncodeUTF8AndSign(message, key), Time);
        return Track(new HttpClient(signIn) { BaseAddress = Host.Address, Timeout = TimeSpan.FromSeconds(60) });
    }

    /// <summary>A client that sends <paramref name="apiKey"/>.</summary>
    public HttpClient NewApiKeyClient(string apiKey) =>
        Track(new HttpClient(CoordinatorSignIn.WithApiKey(Host.Address, apiKey)) { BaseAddress = Host.Address, Timeout = TimeSpan.FromSeconds(60) });

    public static byte[] SceneBytes => File.ReadAllBytes(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));

    public static async Task<TestFarm> StartAsync(Dictionary<string, string?>? settings = null, string environment = "Development", bool fromConfiguration = false, FakeTimeProvider? time = null)
    {
        time ??= new FakeTimeProvider(DateTimeOffset.UtcNow);
        string directory = Path.Combine(Path.GetTempPath(), "renderfarm-coordinator-tests-" + Guid.NewGuid().ToString("N"));
        // Most tests deliver fake PNGs; spot checks are switched on by the tests that are about them.
        settings = new Dictionary<string, string?>(settings ?? []);
        settings.TryAdd("Coordinator:SpotChecks", "false");
        // Canaries would interleave with the checks and tasks other tests lease by hand; CanaryFacts switch them on.
        settings.TryAdd("Coordinator:CanaryRate", "0");
        settings.TryAdd("Coordinator:OperatorKey", OperatorKey);
        if (environment != "Development")
        {
            // Outside Development the coordinator refuses to start without its secrets.
            foreach ((string key, string? value) in CoordinatorSecrets.Generate())
            {
                settings.TryAdd(key, value);
            }
        }

        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        CoordinatorHost host = await CoordinatorHost.StartAsync(
            "http://127.0.0.1:0",
            fromConfiguration ? CoordinatorBackends.FromConfiguration(configuration, time) : CoordinatorBackends.CreateEmbedded(directory, time),
            configuration,
            builder =>
            {
                builder.Environment.EnvironmentName = environment;
                builder.Services.AddSingleton<TimeProvider>(time);
                if (Environment.GetEnvironmentVariable("RENDERFARM_TEST_LOGS") is null)
                {
                    builder.Logging.ClearProviders();
                }
            });
        return new TestFarm(host, time, directory);
    }

    public Task<SceneUploaded> UploadSceneAsync(byte[]? bytes = null, string name = "cornell-box.glb", HttpClient? client = null) =>
        UploadAsync<SceneUploaded>("scenes", name, bytes ?? SceneBytes, client);

    /// <summary>Posts a file to an upload endpoint (<c>scenes</c>, <c>models</c>, <c>inputs</c>) and returns the raw answer.</summary>
    public async Task<HttpResponseMessage> PostUploadAsync(string kind, string name, byte[] bytes, HttpClient? client = null)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await (client ?? Client).PostAsync($"api/{kind}?name={Uri.EscapeDataString(name)}", content);
    }

    /// <summary>Uploads a file that must be accepted (201) and returns the answer's body.</summary>
    public async Task<T> UploadAsync<T>(string kind, string name, byte[] bytes, HttpClient? client = null)
    {
        using HttpResponseMessage response = await PostUploadAsync(kind, name, bytes, client);
        await ExpectAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<T>(Json))!;
    }

    public async Task<JobSummary> SubmitAsync(string frames = "1-3", int chunkSize = 1, int priority = 0, long budget = 0, HttpClient? client = null)
    {
        client ??= Client;
        SceneUploaded scene = await UploadSceneAsync(client: client);
        using HttpResponseMessage response = await client.PostAsJsonAsync(
            "api/jobs", new { sceneSha256 = scene.Sha256, frames, chunkSize, size = "32x32", samplesPerPixel = 4, priority, budget });
        await ExpectAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(Json))!;
    }

    public async Task<JobDetails> GetJobAsync(Guid id, HttpClient? client = null) =>
        (await (client ?? Client).GetFromJsonAsync<JobDetails>($"api/jobs/{id}", Json))!;

    /// <summary>
    /// Polls the job until <paramref name="done"/> holds; fails, listing its tasks, after <paramref name="within"/>
    /// (3 minutes unless given): a deadline for the farm to render and verify small frames, not a timing, so a slow
    /// machine only waits longer.
    /// </summary>
    public async Task<JobDetails> WaitForJobAsync(Guid jobId, Func<JobDetails, bool> done, TimeSpan? within = null)
    {
        DateTime deadline = DateTime.UtcNow + (within ?? TimeSpan.FromMinutes(3));
        while (true)
        {
            JobDetails details = await GetJobAsync(jobId);
            if (done(details))
            {
                return details;
            }

            Assert.True(
                DateTime.UtcNow < deadline,
                $"Timed out; job is {details.Job.State}: {string.Join("; ", details.Tasks.Select(t => $"{t.Index} {t.State} {t.Provider} {t.Failures?.Count} failures {t.Error}"))}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until the job has completed or failed (<see cref="WaitForJobAsync"/>).</summary>
    public Task<JobDetails> WaitForJobEndAsync(Guid jobId, TimeSpan? within = null) =>
        WaitForJobAsync(jobId, d => d.Job.State is JobState.Completed or JobState.Failed, within);

    public async Task<IReadOnlyList<JobSummary>> ListJobsAsync(HttpClient? client = null) =>
        (await (client ?? Client).GetFromJsonAsync<List<JobSummary>>("api/jobs", Json))!;

    /// <summary>
    /// Waits until the render queues hold at least <paramref name="count"/> tasks. A job is Running before its split has
    /// enqueued its tasks, so its state alone does not say they can be leased in priority order yet.
    /// </summary>
    public async Task WaitForQueuedRenderTasksAsync(int count)
    {
        Hangfire.Storage.IMonitoringApi monitoring = Host.Services.GetRequiredService<Hangfire.JobStorage>().GetMonitoringApi();
        for (int i = 0; i < 200; i++)
        {
            long queued = new[] { FarmQueues.RenderHigh, FarmQueues.RenderNormal, FarmQueues.RenderLow }.Sum(monitoring.EnqueuedCount);
            if (queued >= count)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"The render queues did not hold {count} tasks within 10 s.");
    }

    public Task<int> RunMaintenanceAsync() =>
        Host.Services.GetRequiredService<FarmMaintenance>().RunAsync(CancellationToken.None);

    public async Task<TestProvider> LoginAsync()
    {
        var provider = new TestProvider(this, EthECKey.GenerateKey());
        await provider.LoginAsync();
        return provider;
    }

    /// <summary>
    /// Signs in a new provider whose lease calls come from <paramref name="localAddress"/> (any 127.x.y.z on Linux
    /// loopback), as a provider on another machine would.
    /// </summary>
    public async Task<TestProvider> LoginFromAsync(IPAddress localAddress)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(localAddress, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var provider = new TestProvider(this, EthECKey.GenerateKey(), new HttpClient(handler) { BaseAddress = Host.Address });
        await provider.LoginAsync();
        return provider;
    }

    /// <summary>Reads a problem-details response and checks its status and one-line detail.</summary>
    public static async Task<string> ExpectProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        using JsonDocument problem = JsonDocument.Parse(body);
        string detail = problem.RootElement.GetProperty("detail").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(detail));
        Assert.DoesNotContain('\n', detail);
        Assert.Equal((int)status, problem.RootElement.GetProperty("status").GetInt32());
        return detail;
    }

    public static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        if (response.StatusCode != status)
        {
            Assert.Fail($"Expected {(int)status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>A 32x32 8-bit RGB noise PNG (the size <see cref="SubmitAsync"/> asks for), different for each seed.</summary>
    public static byte[] FakePng(int seed) => NoisePng(32, 32, sixteenBit: false, seed);

    /// <summary>An RGB noise PNG of the given size and depth: it decodes, and does not compress.</summary>
    public static byte[] NoisePng(int width, int height, bool sixteenBit, int seed)
    {
        var random = new Random(seed);
        using var stream = new MemoryStream();
        var encoder = new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = sixteenBit ? PngBitDepth.Bit16 : PngBitDepth.Bit8 };
        if (sixteenBit)
        {
            using var image = new Image<Rgb48>(width, height);
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    foreach (ref Rgb48 pixel in rows.GetRowSpan(y))
                    {
                        pixel = new Rgb48((ushort)random.Next(65536), (ushort)random.Next(65536), (ushort)random.Next(65536));
                    }
                }
            });
            image.SaveAsPng(stream, encoder);
        }
        else
        {
            using var image = new Image<Rgb24>(width, height);
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.GetRowSpan(y)));
                }
            });
            image.SaveAsPng(stream, encoder);
        }

        return stream.ToArray();
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private HttpClient Track(HttpClient client)
    {
        _clients.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        _clients.ForEach(client => client.Dispose());
        await Host.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a late request; the temp folder is cleaned by the OS.
        }
    }
}

/// <summary>A provider with its own Ethereum key and token.</summary>
internal sealed class TestProvider(TestFarm farm, EthECKey key, HttpClient? via = null)
{
    private string? _token;

    public string Address { get; } = key.GetPublicAddress();

    public EthECKey Key { get; } = key;

    public async Task<ChallengeResponse> ChallengeAsync()
    {
        using HttpResponseMessage response = await (via ?? farm.Client).PostAsJsonAsync("api/providers/challenge", new ChallengeRequest(Address));
        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<ChallengeResponse>(TestFarm.Json))!;
    }

    public string Sign(string message, EthECKey? signer = null) => new EthereumMessageSigner().EncodeUTF8AndSign(message, signer ?? Key);

    public async Task<HttpResponseMessage> PostLoginAsync(string challenge, string signature) =>
        await (via ?? farm.Client).PostAsJsonAsync("api/providers/login", new LoginRequest(Address, challenge, signature, "Test device [Cpu]"));

    public async Task LoginAsync()
    {
        ChallengeResponse challenge = await ChallengeAsync();
        using HttpResponseMessage response = await PostLoginAsync(challenge.Challenge, Sign(challenge.Challenge));
        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        _token = (await response.Content.ReadFromJsonAsync<LoginResponse>(TestFarm.Json))!.Token;
    }

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null, string? token = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? _token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: TestFarm.Json);
        }

        return (via ?? farm.Client).SendAsync(request);
    }

    public async Task<LeaseGrant?> LeaseAsync(int waitSeconds = 5, params string[] queues)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(queues.Length > 0 ? queues : ["render"], waitSeconds));
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync<LeaseGrant>(TestFarm.Json);
    }

    public async Task<LeaseGrant> LeaseRequiredAsync()
    {
        LeaseGrant? grant = await LeaseAsync();
        Assert.NotNull(grant);
        return grant;
    }

    /// <summary>Uploads a fake frame to every presigned PUT and returns the report to send.</summary>
    public async Task<CompleteRequest> UploadFramesAsync(LeaseGrant grant)
    {
        var frames = new List<CompletedFrame>();
        foreach (FrameUpload upload in grant.Uploads)
        {
            byte[] png = TestFarm.FakePng(upload.Frame);
            using HttpResponseMessage put = await farm.Client.PutAsync(upload.Upload.Url, new ByteArrayContent(png));
            await TestFarm.ExpectAsync(put, HttpStatusCode.OK);
            frames.Add(new CompletedFrame(upload.Frame, TestFarm.Sha256(png), png.Length, 0.5));
        }

        return new CompleteRequest(frames);
    }

    public Task<HttpResponseMessage> CompleteAsync(string leaseId, CompleteRequest report) =>
        SendAsync(HttpMethod.Post, $"api/leases/{leaseId}/complete", report);

    public Task<HttpResponseMessage> FailAsync(string leaseId, string reason = "Vulkan device lost") =>
        SendAsync(HttpMethod.Post, $"api/leases/{leaseId}/fail", new FailRequest(reason));

    public Task<HttpResponseMessage> HeartbeatAsync(string leaseId) =>
        SendAsync(HttpMethod.Post, $"api/leases/{leaseId}/heartbeat");

    public Task<HttpResponseMessage> HandBackAsync(string leaseId) =>
        SendAsync(HttpMethod.Delete, $"api/leases/{leaseId}");
}
