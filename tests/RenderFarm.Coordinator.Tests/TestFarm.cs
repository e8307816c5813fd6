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
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// A real coordinator on a loopback port (Kestrel, Hangfire.InMemory, in-memory farm store,
/// local-directory objects in a temp folder) with a fake clock, plus helpers that speak its API.
/// </summary>
internal sealed class TestFarm : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly string _directory;

    private TestFarm(CoordinatorHost host, FakeTimeProvider time, string directory)
    {
        Host = host;
        Time = time;
        _directory = directory;
        Client = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public CoordinatorHost Host { get; }

    public FakeTimeProvider Time { get; }

    public HttpClient Client { get; }

    public static byte[] SceneBytes => File.ReadAllBytes(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));

    public static async Task<TestFarm> StartAsync(Dictionary<string, string?>? settings = null, string environment = "Development", bool fromConfiguration = false)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        string directory = Path.Combine(Path.GetTempPath(), "renderfarm-coordinator-tests-" + Guid.NewGuid().ToString("N"));
        // Most tests deliver fake PNGs; spot checks are switched on by the tests that are about them.
        settings = new Dictionary<string, string?>(settings ?? []);
        settings.TryAdd("Coordinator:SpotChecks", "false");
        // Canaries would interleave with the checks and tasks other tests lease by hand; CanaryFacts switch them on.
        settings.TryAdd("Coordinator:CanaryRate", "0");
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

    public Task<SceneUploaded> UploadSceneAsync(byte[]? bytes = null, string name = "cornell-box.glb") =>
        UploadAsync<SceneUploaded>("scenes", name, bytes ?? SceneBytes);

    /// <summary>Posts a file to an upload endpoint (<c>scenes</c>, <c>models</c>, <c>inputs</c>) and returns the raw answer.</summary>
    public async Task<HttpResponseMessage> PostUploadAsync(string kind, string name, byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await Client.PostAsync($"api/{kind}?name={Uri.EscapeDataString(name)}", content);
    }

    /// <summary>Uploads a file that must be accepted (201) and returns the answer's body.</summary>
    public async Task<T> UploadAsync<T>(string kind, string name, byte[] bytes)
    {
        using HttpResponseMessage response = await PostUploadAsync(kind, name, bytes);
        await ExpectAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<T>(Json))!;
    }

    public async Task<JobSummary> SubmitAsync(string frames = "1-3", int chunkSize = 1, int priority = 0, long budget = 0)
    {
        SceneUploaded scene = await UploadSceneAsync();
        using HttpResponseMessage response = await Client.PostAsJsonAsync(
            "api/jobs", new { sceneSha256 = scene.Sha256, frames, chunkSize, size = "32x32", samplesPerPixel = 4, priority, budget, payer = CheckFrames.Client });
        await ExpectAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(Json))!;
    }

    public async Task<JobDetails> GetJobAsync(Guid id) =>
        (await Client.GetFromJsonAsync<JobDetails>($"api/jobs/{id}", Json))!;

    public async Task<IReadOnlyList<JobSummary>> ListJobsAsync() =>
        (await Client.GetFromJsonAsync<List<JobSummary>>("api/jobs", Json))!;

    public Task<int> RunMaintenanceAsync() =>
        Host.Services.GetRequiredService<FarmMaintenance>().RunAsync(CancellationToken.None);

    public async Task<TestProvider> LoginAsync()
    {
        var provider = new TestProvider(this, EthECKey.GenerateKey());
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

    /// <summary>A small file that passes the coordinator's PNG check.</summary>
    public static byte[] FakePng(int seed)
    {
        byte[] bytes = new byte[256];
        new Random(seed).NextBytes(bytes);
        ((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]).CopyTo(bytes);
        return bytes;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
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
internal sealed class TestProvider(TestFarm farm, EthECKey key)
{
    private string? _token;

    public string Address { get; } = key.GetPublicAddress();

    public EthECKey Key { get; } = key;

    public async Task<ChallengeResponse> ChallengeAsync()
    {
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync("api/providers/challenge", new ChallengeRequest(Address));
        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<ChallengeResponse>(TestFarm.Json))!;
    }

    public string Sign(string message, EthECKey? signer = null) => new EthereumMessageSigner().EncodeUTF8AndSign(message, signer ?? Key);

    public async Task<HttpResponseMessage> PostLoginAsync(string challenge, string signature) =>
        await farm.Client.PostAsJsonAsync("api/providers/login", new LoginRequest(Address, challenge, signature, "Test device [Cpu]"));

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

        return farm.Client.SendAsync(request);
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
