using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Nethereum.Signer;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Worker.Tests;

/// <summary>
/// The provider API over real HTTP on loopback, with in-memory state: challenge/login with real EIP-191
/// verification, long-poll leases, heartbeats, reports, and a presigned-style object store that
/// refuses bearer tokens and uploads without a length, as S3 does.
/// </summary>
internal sealed class FakeCoordinator : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly WebApplication _app;
    private readonly Queue<FakeTask> _queue = new();
    private readonly Dictionary<string, string> _challenges = [];
    private readonly Dictionary<string, (string Address, DateTimeOffset ExpiresAt)> _tokens = [];
    private readonly Dictionary<string, FakeLease> _leases = [];
    private readonly Dictionary<string, byte[]> _objects = [];
    private readonly Dictionary<string, int> _downloads = [];
    private readonly HashSet<string> _bannedAddresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly Queue<(string PathSuffix, string Body)> _malformedAnswers = new();
    private int _failNextRequests;
    private int _leaseCount;

    private FakeCoordinator(WebApplication app)
    {
        _app = app;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    public int HeartbeatSeconds { get; set; } = 1;

    public int Logins { get; private set; }

    public int Challenges { get; private set; }

    public int Unauthorized { get; private set; }

    public int LeaseRequests { get; private set; }

    /// <summary>The device limits the last lease request advertised.</summary>
    public LeaseDevice? LastDevice { get; private set; }

    /// <summary>When set, an answer without a task names this reason in <see cref="LeaseDevice.RefusalHeader"/>.</summary>
    public string? NotLeasedReason { get; set; }


    public static async Task<FakeCoordinator> StartAsync(int port = 0)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        WebApplication app = builder.Build();
        var coordinator = new FakeCoordinator(app);
        coordinator.Map(app);
        await app.StartAsync();
        coordinator.BaseAddress = new Uri(app.Urls.Single() + "/");
        return coordinator;
    }

    public FakeTask Enqueue(byte[] scene, int firstFrame, int lastFrame, RenderSettings? settings = null, string sceneFileName = "scene.glb", string? advertisedSha256 = null, byte[]? environment = null)
    {
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(scene));
        // The link names the hash the settings give; the bytes served are what the test hands in.
        string? environmentKey = environment is null ? null : $"environments/{Guid.NewGuid():N}";
        var task = new FakeTask(
            Guid.NewGuid(), firstFrame, lastFrame, settings ?? new RenderSettings { Size = new ImageSize(8, 8), SamplesPerPixel = 1 }, sceneFileName, $"scenes/{sha256}", advertisedSha256 ?? sha256, environmentKey);
        lock (_gate)
        {
            if (environmentKey is not null)
            {
                _objects[environmentKey] = environment!;
            }

            _objects[task.SceneKey] = scene;
            _queue.Enqueue(task);
        }

        return task;
    }

    public void RevokeTokens()
    {
        lock (_gate)
        {
            _tokens.Clear();
        }
    }

    public void Ban(string address)
    {
        lock (_gate)
        {
            _bannedAddresses.Add(address);
        }
    }

    /// <summary>Answers the next <paramref name="count"/> requests with 503, as a restarting coordinator behind a proxy would.</summary>
    public void FailNextRequests(int count)
    {
        lock (_gate)
        {
            _failNextRequests = count;
        }
    }

    /// <summary>
    /// Answers the next requests whose path ends with <paramref name="pathSuffix"/> with 200 and each of
    /// <paramref name="bodies"/> in turn (as HTML when a body starts with '&lt;', as JSON otherwise), as a broken or
    /// hostile coordinator, or a proxy in front of one, would.
    /// </summary>
    public void AnswerNextWith(string pathSuffix, params string[] bodies)
    {
        lock (_gate)
        {
            foreach (string body in bodies)
            {
                _malformedAnswers.Enqueue((pathSuffix, body));
            }
        }
    }

    public void LoseLease(string leaseId)
    {
        lock (_gate)
        {
            _leases[leaseId].State = LeaseState.Lost;
        }
    }

    public int SceneDownloads(FakeTask task)
    {
        lock (_gate)
        {
            return _downloads.GetValueOrDefault(task.SceneKey);
        }
    }

    public byte[]? Uploaded(string leaseId, int frame)
    {
        lock (_gate)
        {
            return _objects.GetValueOrDefault($"frames/{leaseId}/{frame}.png");
        }
    }

    public FakeLease[] Leases()
    {
        lock (_gate)
        {
            return [.. _leases.Values];
        }
    }

    public FakeLease? LeaseOf(FakeTask task)
    {
        lock (_gate)
        {
            return _leases.Values.SingleOrDefault(l => l.Task == task);
        }
    }

    public async Task<FakeLease> WaitForLeaseAsync(FakeTask task, LeaseState state, TimeSpan? timeout = null)
    {
        FakeLease? lease = null;
        await WaitUntilAsync(() => (lease = LeaseOf(task)) is not null && lease.State == state, timeout);
        return lease!;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            bool fail;
            lock (_gate)
            {
                fail = _failNextRequests > 0;
                _failNextRequests -= fail ? 1 : 0;
            }

            if (fail)
            {
                await Results.Problem(detail: "Coordinator restarting.", statusCode: 503).ExecuteAsync(context);
                return;
            }

            string? malformed = null;
            lock (_gate)
            {
                if (_malformedAnswers.TryPeek(out var queued) && context.Request.Path.Value!.EndsWith(queued.PathSuffix, StringComparison.Ordinal))
                {
                    malformed = _malformedAnswers.Dequeue().Body;
                }
            }

            if (malformed is not null)
            {
                context.Response.ContentType = malformed.StartsWith('<') ? "text/html" : "application/json";
                await context.Response.WriteAsync(malformed);
                return;
            }

            await next(context);
        });

        app.MapPost("/api/providers/challenge", (ChallengeRequest request) =>
        {
            string challenge = $"RenderFarm login {Guid.NewGuid():N} for {request.Address}";
            lock (_gate)
            {
                Challenges++;
                _challenges[challenge] = request.Address;
            }

            return Results.Ok(new ChallengeResponse(challenge, DateTimeOffset.UtcNow.AddMinutes(5)));
        });

        app.MapPost("/api/providers/login", (LoginRequest request) =>
        {
            string recovered = new EthereumMessageSigner().EncodeUTF8AndEcRecover(request.Challenge, request.Signature);
            lock (_gate)
            {
                if (!_challenges.Remove(request.Challenge, out string? address)
                    || !string.Equals(address, request.Address, StringComparison.OrdinalIgnoreCase))
                {
                    return Results.Problem(detail: "Unknown or used challenge.", statusCode: 400);
                }

                if (!string.Equals(recovered, request.Address, StringComparison.OrdinalIgnoreCase))
                {
                    return Results.Problem(detail: "The signature is not the address's.", statusCode: 401);
                }

                if (_bannedAddresses.Contains(request.Address))
                {
                    return Results.Problem(detail: $"Provider {request.Address} is banned.", statusCode: 403);
                }

                Logins++;
                string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
                DateTimeOffset expiresAt = DateTimeOffset.UtcNow + TokenLifetime;
                _tokens[token] = (request.Address, expiresAt);
                return Results.Ok(new LoginResponse(token, expiresAt));
            }
        });

        app.MapPost("/api/leases", async (LeaseRequest request, HttpContext context) =>
        {
            if (Authenticate(context) is not { } address)
            {
                return Results.Unauthorized();
            }

            lock (_gate)
            {
                LeaseRequests++;
                LastDevice = request.Device;
            }

            if (request.Queues.Count == 0)
            {
                return Results.Problem(detail: "Name at least one queue.", statusCode: 400);
            }

            DateTime deadline = DateTime.UtcNow.AddSeconds(Math.Clamp(request.WaitSeconds, 0, 30));
            CancellationToken stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
            while (true)
            {
                lock (_gate)
                {
                    if (_queue.TryDequeue(out FakeTask? task))
                    {
                        return Results.Ok(Grant(task, address, context));
                    }
                }

                if (DateTime.UtcNow >= deadline || wait.IsCancellationRequested)
                {
                    if (NotLeasedReason is { } reason)
                    {
                        context.Response.Headers[LeaseDevice.RefusalHeader] = reason;
                    }

                    return Results.NoContent();
                }

                await Task.Delay(20, CancellationToken.None);
            }
        });

        app.MapPost("/api/leases/{leaseId}/heartbeat", (string leaseId, HttpContext context) =>
            WithLease(context, leaseId, lease =>
            {
                lease.Heartbeats++;
                return Results.Ok(new HeartbeatResponse(DateTimeOffset.UtcNow.AddSeconds(30)));
            }));

        app.MapPost("/api/leases/{leaseId}/complete", (string leaseId, CompleteRequest request, HttpContext context) =>
            WithLease(context, leaseId, lease =>
            {
                foreach (CompletedFrame frame in request.Frames)
                {
                    byte[]? png = _objects.GetValueOrDefault($"frames/{leaseId}/{frame.Frame}.png");
                    if (png is null || Convert.ToHexStringLower(SHA256.HashData(png)) != frame.Sha256 || png.Length != frame.Size)
                    {
                        return Results.Problem(detail: $"Frame {frame.Frame} does not match its upload.", statusCode: 422);
                    }
                }

                lease.State = LeaseState.Completed;
                lease.Completion = request;
                return Results.Ok();
            }));

        app.MapPost("/api/leases/{leaseId}/fail", (string leaseId, FailRequest request, HttpContext context) =>
            WithLease(context, leaseId, lease =>
            {
                lease.State = LeaseState.Failed;
                lease.FailureReason = request.Reason;
                return Results.Ok();
            }));

        app.MapDelete("/api/leases/{leaseId}", (string leaseId, HttpContext context) =>
            WithLease(context, leaseId, lease =>
            {
                lease.State = LeaseState.HandedBack;
                return Results.Ok();
            }));

        app.MapGet("/objects/{**key}", (string key, HttpContext context) =>
        {
            if (context.Request.Headers.Authorization.Count > 0)
            {
                return Results.Problem(detail: "Presigned URLs take no Authorization header.", statusCode: 400);
            }

            lock (_gate)
            {
                if (!_objects.TryGetValue(key, out byte[]? content))
                {
                    return Results.NotFound();
                }

                _downloads[key] = _downloads.GetValueOrDefault(key) + 1;
                return Results.Bytes(content, "application/octet-stream");
            }
        });

        app.MapPut("/objects/{**key}", async (string key, HttpContext context) =>
        {
            if (context.Request.Headers.Authorization.Count > 0)
            {
                return Results.Problem(detail: "Presigned URLs take no Authorization header.", statusCode: 400);
            }

            if (context.Request.ContentLength is not { } length)
            {
                return Results.StatusCode(StatusCodes.Status411LengthRequired);
            }

            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            if (body.Length != length)
            {
                return Results.Problem(detail: "Body shorter than Content-Length.", statusCode: 400);
            }

            lock (_gate)
            {
                _objects[key] = body.ToArray();
            }

            return Results.Ok();
        });
    }

    private LeaseGrant Grant(FakeTask task, string address, HttpContext context)
    {
        string leaseId = $"lease-{++_leaseCount}";
        string origin = $"{context.Request.Scheme}://{context.Request.Host}";
        var lease = new FakeLease(leaseId, task, address);
        _leases[leaseId] = lease;
        FrameUpload[] uploads = [.. Enumerable.Range(task.FirstFrame, task.LastFrame - task.FirstFrame + 1)
            .Select(f => new FrameUpload(f, new ObjectLink(new Uri($"{origin}/objects/frames/{leaseId}/{f}.png?X-Amz-Signature=put"), null)))];
        return new LeaseGrant(
            leaseId,
            task.JobId,
            TaskIndex: 0,
            task.FirstFrame,
            task.LastFrame,
            task.Settings,
            task.SceneFileName,
            new ObjectLink(new Uri($"{origin}/objects/{task.SceneKey}?X-Amz-Signature=get"), task.AdvertisedSha256),
            uploads,
            DateTimeOffset.UtcNow.AddSeconds(30),
            HeartbeatSeconds,
            Environment: task.EnvironmentKey is null ? null : new ObjectLink(new Uri($"{origin}/objects/{task.EnvironmentKey}?X-Amz-Signature=get"), task.Settings.Environment?.Sha256));
    }

    private IResult WithLease(HttpContext context, string leaseId, Func<FakeLease, IResult> action)
    {
        if (Authenticate(context) is not { } address)
        {
            return Results.Unauthorized();
        }

        lock (_gate)
        {
            if (!_leases.TryGetValue(leaseId, out FakeLease? lease) || !string.Equals(lease.Address, address, StringComparison.OrdinalIgnoreCase))
            {
                return Results.Problem(detail: $"No lease {leaseId} of yours.", statusCode: 404);
            }

            if (lease.State != LeaseState.Active)
            {
                return Results.Problem(detail: $"Lease {leaseId} is {lease.State}.", statusCode: 409);
            }

            return action(lease);
        }
    }

    private string? Authenticate(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        lock (_gate)
        {
            if (header.StartsWith("Bearer ", StringComparison.Ordinal)
                && _tokens.TryGetValue(header["Bearer ".Length..], out var session)
                && session.ExpiresAt > DateTimeOffset.UtcNow)
            {
                return session.Address;
            }

            Unauthorized++;
            return null;
        }
    }
}

internal sealed record FakeTask(
    Guid JobId, int FirstFrame, int LastFrame, RenderSettings Settings, string SceneFileName, string SceneKey, string AdvertisedSha256, string? EnvironmentKey = null);

internal enum LeaseState
{
    Active,
    Completed,
    Failed,
    HandedBack,
    Lost,
}

internal sealed class FakeLease(string id, FakeTask task, string address)
{
    public string Id { get; } = id;

    public FakeTask Task { get; } = task;

    public string Address { get; } = address;

    public LeaseState State { get; set; }

    public int Heartbeats { get; set; }

    public CompleteRequest? Completion { get; set; }

    public string? FailureReason { get; set; }
}
