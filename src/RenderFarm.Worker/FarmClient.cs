using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Worker;

/// <summary>
/// The provider API of the coordinator, as a typed <see cref="HttpClient"/> wrapper. It signs in with
/// the provider key and keeps the bearer token fresh, and retries failures that may pass (connection
/// refused, 5xx, timeouts) with capped exponential back-off so a worker outlives coordinator restarts.
/// An answer that is not the JSON expected (<c>null</c>, wrong types, truncated, an HTML page from a proxy) counts
/// as such a failure too. Refusals (4xx) are not retried; they surface as <see cref="FarmRequestException"/>.
/// </summary>
/// <remarks>
/// The <see cref="HttpClient"/> needs a <see cref="HttpClient.BaseAddress"/> ending in '/'. Presigned
/// object URLs are absolute and are sent without the bearer token. Calls may run concurrently.
/// </remarks>
public sealed partial class FarmClient
{
    private const int CopyBufferSize = 1 << 16;

    private const int MaxReasonLength = 300;

    // Strict, so that a null or missing member of an answer is a malformed answer here rather than a null later.
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    private static readonly string[] s_detailProperties = ["detail", "title"];

    private readonly HttpClient _http;
    private readonly ProviderKey _key;
    private readonly string? _device;
    private readonly IProgress<WorkerEvent>? _events;
    private readonly SemaphoreSlim _loginLock = new(1, 1);
    private volatile Session? _session;
    private string? _lastNotLeased;

    /// <summary>Creates a client; nothing is sent until the first call.</summary>
    /// <param name="http">Sends the requests; its base address is the coordinator's URL.</param>
    /// <param name="key">The provider's identity.</param>
    /// <param name="device">The device shown by the coordinator, e.g. "NVIDIA H100 [DiscreteGpu]".</param>
    /// <param name="events">Receives <see cref="WorkerEventKind.LoggedIn"/> and <see cref="WorkerEventKind.Retrying"/> events.</param>
    public FarmClient(HttpClient http, ProviderKey key, string? device = null, IProgress<WorkerEvent>? events = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(key);
        if (http.BaseAddress is null)
        {
            throw new ArgumentException("The HttpClient needs the coordinator's URL as its BaseAddress.", nameof(http));
        }

        _http = http;
        _key = key;
        _device = device;
        _events = events;
    }

    /// <summary>The provider's address.</summary>
    public string Address => _key.Address;

    /// <summary>
    /// The device limits sent with every lease request, so that the coordinator leases no scene too large for the device;
    /// null sends none (every task may come, and one too large is refused when it is loaded).
    /// </summary>
    public LeaseDevice? Device { get; init; }

    /// <summary>The delay before the first retry; later ones double up to <see cref="MaxRetryDelay"/>.</summary>
    internal TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between retries.</summary>
    internal TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one API call may take, on top of a lease request's long-poll wait.</summary>
    internal TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Signs in now: asks for a challenge, signs it and exchanges it for a token.</summary>
    /// <exception cref="FarmRequestException">The coordinator refused the login.</exception>
    public async Task LoginAsync(CancellationToken cancellationToken = default)
    {
        await RenewSessionAsync(_session, force: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Asks for a task, waiting up to <paramref name="waitSeconds"/> for one.</summary>
    /// <returns>The lease, or null when no task came within the wait.</returns>
    /// <exception cref="FarmRequestException">The coordinator refused the request.</exception>
    public async Task<LeaseGrant?> LeaseAsync(IReadOnlyList<string> queues, int waitSeconds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queues);
        return await ReadAnswerAsync<LeaseGrant>(
            "POST /api/leases",
            async ct => ReportNotLeased(await SendApiAsync(
                HttpMethod.Post,
                "api/leases",
                new LeaseRequest(queues, waitSeconds, Device),
                RequestTimeout + TimeSpan.FromSeconds(Math.Max(0, waitSeconds)),
                leaseScoped: false,
                ct).ConfigureAwait(false)),
            cancellationToken).ConfigureAwait(false);
    }

    // An answer without a task may say that one was held back because its scene is too large for this device: shown once
    // per distinct reason, not on every poll.
    private HttpResponseMessage ReportNotLeased(HttpResponseMessage response)
    {
        if (response.StatusCode == HttpStatusCode.NoContent
            && response.Headers.TryGetValues(LeaseDevice.RefusalHeader, out IEnumerable<string>? values)
            && OneLine(string.Join(" ", values)) is { Length: > 0 } reason
            && Interlocked.Exchange(ref _lastNotLeased, reason) != reason)
        {
            _events?.Report(new WorkerEvent(WorkerEventKind.NotLeased, $"Not leased: {reason}"));
        }

        return response;
    }

    /// <summary>Extends a lease.</summary>
    /// <exception cref="LeaseLostException">The lease is no longer this provider's.</exception>
    /// <exception cref="FarmRequestException">The coordinator refused the request.</exception>
    public async Task<HeartbeatResponse> HeartbeatAsync(string leaseId, CancellationToken cancellationToken = default)
    {
        return (await ReadAnswerAsync<HeartbeatResponse>(
            "POST /api/leases/{lease}/heartbeat",
            ct => SendLeaseCallAsync(HttpMethod.Post, leaseId, "/heartbeat", null, ct),
            cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Reports a task done; every frame must have been uploaded first.</summary>
    /// <exception cref="LeaseLostException">The lease is no longer this provider's.</exception>
    /// <exception cref="FarmRequestException">The coordinator rejected the report (e.g. an upload does not match).</exception>
    public async Task CompleteAsync(string leaseId, CompleteRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using HttpResponseMessage response = await SendLeaseCallAsync(HttpMethod.Post, leaseId, "/complete", request, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Reports that this provider could not do the task.</summary>
    /// <exception cref="LeaseLostException">The lease is no longer this provider's.</exception>
    /// <exception cref="FarmRequestException">The coordinator refused the request.</exception>
    public async Task FailAsync(string leaseId, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reason);
        using HttpResponseMessage response = await SendLeaseCallAsync(HttpMethod.Post, leaseId, "/fail", new FailRequest(reason), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Gives a lease back unfinished so the task is queued again; not counted as a failure.</summary>
    /// <exception cref="LeaseLostException">The lease is no longer this provider's.</exception>
    /// <exception cref="FarmRequestException">The coordinator refused the request.</exception>
    public async Task HandBackAsync(string leaseId, CancellationToken cancellationToken = default)
    {
        using HttpResponseMessage response = await SendLeaseCallAsync(HttpMethod.Delete, leaseId, string.Empty, null, cancellationToken)
            .ConfigureAwait(false);
    }

    private sealed record Session(string Token, DateTimeOffset RefreshAt);

    private sealed class TransientFailureException(string message) : Exception(message);
}
