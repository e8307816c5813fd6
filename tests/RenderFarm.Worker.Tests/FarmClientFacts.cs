using System.Net;
using System.Security.Cryptography;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Worker.Tests;

public sealed class FarmClientFacts : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("renderfarm-client-").FullName;
    private readonly List<WorkerEvent> _events = [];
    private FakeCoordinator _coordinator = null!;
    private HttpClient _http = null!;
    private FarmClient _client = null!;

    public async Task InitializeAsync()
    {
        _coordinator = await FakeCoordinator.StartAsync();
        _http = new HttpClient { BaseAddress = _coordinator.BaseAddress };
        ProviderKey key = ProviderKey.LoadOrCreate(Path.Combine(_folder, "provider.key"));
        _client = new FarmClient(_http, key, "Test device", new SynchronousProgress(_events))
        {
            FirstRetryDelay = TimeSpan.FromMilliseconds(20),
            MaxRetryDelay = TimeSpan.FromMilliseconds(100),
        };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _coordinator.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Logs_in_with_a_verified_signature_and_again_after_a_401()
    {
        await _client.LoginAsync();
        _coordinator.RevokeTokens();

        Assert.Null(await _client.LeaseAsync(["render"], waitSeconds: 0));

        Assert.Equal(2, _coordinator.Logins);
        Assert.Equal(1, _coordinator.Unauthorized);
        Assert.Equal(1, _coordinator.LeaseRequests);
    }

    [Fact]
    public async Task Logs_in_again_before_the_token_expires()
    {
        _coordinator.TokenLifetime = TimeSpan.FromSeconds(1);
        await _client.LoginAsync();
        await Task.Delay(TimeSpan.FromSeconds(0.9));

        Assert.Null(await _client.LeaseAsync(["render"], waitSeconds: 0));

        Assert.Equal(2, _coordinator.Logins);
        Assert.Equal(0, _coordinator.Unauthorized);
    }

    [Fact]
    public async Task A_refused_login_carries_the_problem_detail()
    {
        _coordinator.Ban(_client.Address);

        var error = await Assert.ThrowsAsync<FarmRequestException>(() => _client.LoginAsync());

        Assert.Equal(HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Equal($"Provider {_client.Address} is banned.", error.Detail);
        Assert.Contains("is banned", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, _coordinator.Challenges);
    }

    [Fact]
    public async Task Lease_requests_advertise_the_device_and_a_reason_for_no_task_is_shown_once()
    {
        using var http = new HttpClient { BaseAddress = _coordinator.BaseAddress };
        var events = new List<WorkerEvent>();
        var client = new FarmClient(http, ProviderKey.LoadOrCreate(Path.Combine(_folder, "device.key")), "Small device", new SynchronousProgress(events))
        {
            Device = new LeaseDevice(128L << 20, 2L << 30),
        };
        _coordinator.NotLeasedReason = "Scene city.glb needs a 640.0 MiB triangles buffer; this provider's device binds at most 128.0 MiB per buffer (maxStorageBufferRange).";

        Assert.Null(await client.LeaseAsync(["render"], waitSeconds: 0));
        Assert.Null(await client.LeaseAsync(["render"], waitSeconds: 0));

        Assert.Equal(new LeaseDevice(128L << 20, 2L << 30), _coordinator.LastDevice);
        WorkerEvent shown = Assert.Single(events, e => e.Kind == WorkerEventKind.NotLeased);
        Assert.Equal($"Not leased: {_coordinator.NotLeasedReason}", shown.Message);

        // The default client advertises nothing.
        _coordinator.NotLeasedReason = null;
        Assert.Null(await _client.LeaseAsync(["render"], waitSeconds: 0));
        Assert.Null(_coordinator.LastDevice);
    }

    [Fact]
    public async Task Client_errors_are_not_retried()
    {
        var error = await Assert.ThrowsAsync<FarmRequestException>(() => _client.LeaseAsync([], waitSeconds: 0));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Equal("Name at least one queue.", error.Detail);
        Assert.Equal(1, _coordinator.LeaseRequests);
        Assert.DoesNotContain(_events, e => e.Kind == WorkerEventKind.Retrying);
    }

    [Fact]
    public async Task Server_errors_are_retried()
    {
        await _client.LoginAsync();
        _coordinator.FailNextRequests(3);

        Assert.Null(await _client.LeaseAsync(["render"], waitSeconds: 0));

        Assert.Equal(3, _events.Count(e => e.Kind == WorkerEventKind.Retrying && e.Message.Contains("503", StringComparison.Ordinal)));
        Assert.Equal(1, _coordinator.LeaseRequests);
    }

    [Fact]
    public async Task A_heartbeat_on_a_lost_lease_throws_LeaseLostException()
    {
        FakeTask task = _coordinator.Enqueue(RandomNumberGenerator.GetBytes(64), 1, 1);
        LeaseGrant grant = (await _client.LeaseAsync(["render"], waitSeconds: 0))!;
        await _client.HeartbeatAsync(grant.LeaseId);
        _coordinator.LoseLease(grant.LeaseId);

        var error = await Assert.ThrowsAsync<LeaseLostException>(() => _client.HeartbeatAsync(grant.LeaseId));

        Assert.Equal(HttpStatusCode.Conflict, error.StatusCode);
        Assert.Equal($"Lease {grant.LeaseId} is Lost.", error.Detail);
        Assert.Equal(1, _coordinator.LeaseOf(task)!.Heartbeats);
    }

    [Fact]
    public async Task Download_checks_the_hash_and_leaves_nothing_behind_on_a_mismatch()
    {
        byte[] content = RandomNumberGenerator.GetBytes(200_000);
        _coordinator.Enqueue(content, 1, 1, advertisedSha256: new string('a', 64));
        LeaseGrant grant = (await _client.LeaseAsync(["render"], waitSeconds: 0))!;
        string destination = Path.Combine(_folder, "scene.glb");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => _client.DownloadAsync(grant.Scene, destination));
        string sha256 = await _client.DownloadAsync(grant.Scene with { Sha256 = null }, destination);

        Assert.Contains(new string('a', 64), error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Amz-Signature", error.Message, StringComparison.Ordinal);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
        Assert.Equal(["provider.key", "scene.glb"], Directory.GetFiles(_folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Upload_streams_the_file_with_its_length_and_no_token()
    {
        _coordinator.Enqueue(RandomNumberGenerator.GetBytes(64), 1, 1);
        LeaseGrant grant = (await _client.LeaseAsync(["render"], waitSeconds: 0))!;
        byte[] content = RandomNumberGenerator.GetBytes(300_000);
        string path = Path.Combine(_folder, "frame.png");
        File.WriteAllBytes(path, content);

        await _client.UploadAsync(grant.Uploads[0].Upload.Url, path, "image/png");

        Assert.Equal(content, _coordinator.Uploaded(grant.LeaseId, 1));
    }

    private sealed class SynchronousProgress(List<WorkerEvent> events) : IProgress<WorkerEvent>
    {
        public void Report(WorkerEvent value)
        {
            lock (events)
            {
                events.Add(value);
            }
        }
    }
}
