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
public sealed class FarmClient
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

    /// <summary>
    /// Downloads a presigned object to <paramref name="destinationPath"/>, which appears only once the
    /// whole object arrived and, when <see cref="ObjectLink.Sha256"/> is given, matched it.
    /// </summary>
    /// <returns>The SHA-256 of the content, lowercase hex.</returns>
    /// <exception cref="InvalidDataException">The content does not match the expected SHA-256.</exception>
    /// <exception cref="FarmRequestException">The store refused the request (e.g. the URL expired).</exception>
    public async Task<string> DownloadAsync(ObjectLink link, string destinationPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(destinationPath);
        string operation = "GET " + Redact(link.Url);
        string partial = $"{destinationPath}.{Guid.NewGuid():N}.partial";
        try
        {
            string sha256 = await RetryAsync(
                operation,
                async ct =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, link.Url);
                    using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct)
                        .ConfigureAwait(false);
                    await ThrowIfFailedAsync(response, operation, leaseScoped: false, ct).ConfigureAwait(false);
                    Stream body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                    await using (body.ConfigureAwait(false))
                    {
                        return await CopyHashedAsync(body, partial, ct).ConfigureAwait(false);
                    }
                },
                timeout: null,
                cancellationToken).ConfigureAwait(false);
            if (link.Sha256 is not null && !string.Equals(sha256, link.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException(
                    $"{operation} delivered content with SHA-256 {sha256}, but {link.Sha256} was expected.");
            }

            File.Move(partial, destinationPath, overwrite: true);
            return sha256;
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>Uploads a file to a presigned PUT URL, streaming it with its length declared.</summary>
    /// <exception cref="FarmRequestException">The store refused the upload (e.g. the URL expired).</exception>
    public async Task UploadAsync(Uri url, string filePath, string contentType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(filePath);
        ArgumentNullException.ThrowIfNull(contentType);
        string operation = "PUT " + Redact(url);
        await RetryAsync(
            operation,
            async ct =>
            {
                var file = new FileStream(filePath, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, useAsync: true);
                await using (file.ConfigureAwait(false))
                {
                    using var content = new StreamContent(file, CopyBufferSize);
                    content.Headers.ContentLength = file.Length;
                    content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
                    using var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = content };
                    using HttpResponseMessage response = await _http.SendAsync(request, ct).ConfigureAwait(false);
                    await ThrowIfFailedAsync(response, operation, leaseScoped: false, ct).ConfigureAwait(false);
                    return true;
                }
            },
            timeout: null,
            cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendLeaseCallAsync(
        HttpMethod method, string leaseId, string suffix, object? body, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(leaseId);
        string path = "api/leases/" + Uri.EscapeDataString(leaseId) + suffix;
        return SendApiAsync(method, path, body, RequestTimeout, leaseScoped: true, cancellationToken);
    }

    // Sends an authorised API call. A 401 is answered by one fresh login and a resend: the token may
    // have been revoked, or the coordinator restarted and forgot it.
    private async Task<HttpResponseMessage> SendApiAsync(
        HttpMethod method, string path, object? body, TimeSpan timeout, bool leaseScoped, CancellationToken cancellationToken)
    {
        string operation = $"{method} /{path}";
        for (bool renewed = false; ; renewed = true)
        {
            Session session = await GetSessionAsync(cancellationToken).ConfigureAwait(false);
            HttpResponseMessage response = await SendWithRetryAsync(method, path, body, session.Token, operation, timeout, cancellationToken)
                .ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Unauthorized && !renewed)
            {
                response.Dispose();
                await RenewSessionAsync(session, force: false, cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                await ThrowIfFailedAsync(response, operation, leaseScoped, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                response.Dispose();
                throw;
            }

            return response;
        }
    }

    // Returns any response that is not transient, successful or not; the caller interprets it.
    private Task<HttpResponseMessage> SendWithRetryAsync(
        HttpMethod method, string path, object? body, string? token, string operation, TimeSpan timeout, CancellationToken cancellationToken)
    {
        return RetryAsync(
            operation,
            async ct =>
            {
                using var request = new HttpRequestMessage(method, path);
                if (body is not null)
                {
                    request.Content = JsonContent.Create(body, body.GetType(), options: s_json);
                }

                if (token is not null)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }

                HttpResponseMessage response = await _http.SendAsync(request, ct).ConfigureAwait(false);
                if (IsTransient(response.StatusCode))
                {
                    string message = await DescribeFailureAsync(response, operation, ct).ConfigureAwait(false);
                    response.Dispose();
                    throw new TransientFailureException(message);
                }

                return response;
            },
            timeout,
            cancellationToken);
    }

    private async Task<Session> GetSessionAsync(CancellationToken cancellationToken)
    {
        Session? session = _session;
        if (session is not null && DateTimeOffset.UtcNow < session.RefreshAt)
        {
            return session;
        }

        return await RenewSessionAsync(session, force: false, cancellationToken).ConfigureAwait(false);
    }

    // Logs in unless another caller already replaced the stale session while this one waited for the lock.
    private async Task<Session> RenewSessionAsync(Session? stale, bool force, CancellationToken cancellationToken)
    {
        await _loginLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Session? current = _session;
            if (!force && current is not null && current != stale && DateTimeOffset.UtcNow < current.RefreshAt)
            {
                return current;
            }

            Session session = await LoginCoreAsync(cancellationToken).ConfigureAwait(false);
            _session = session;
            return session;
        }
        finally
        {
            _loginLock.Release();
        }
    }

    private async Task<Session> LoginCoreAsync(CancellationToken cancellationToken)
    {
        // Challenges are single-use: if a login was processed but its answer lost, the resend is
        // refused, so one refusal earns one more try with a fresh challenge.
        for (int attempt = 1; ; attempt++)
        {
            ChallengeResponse challenge = await PostAnonymousAsync<ChallengeResponse>(
                "api/providers/challenge", new ChallengeRequest(Address), cancellationToken).ConfigureAwait(false);
            var login = new LoginRequest(Address, challenge.Challenge, _key.Sign(challenge.Challenge), _device);
            LoginResponse response;
            try
            {
                response = await PostAnonymousAsync<LoginResponse>("api/providers/login", login, cancellationToken).ConfigureAwait(false);
            }
            catch (FarmRequestException) when (attempt == 1)
            {
                continue;
            }

            DateTimeOffset now = DateTimeOffset.UtcNow;
            TimeSpan lifetime = response.ExpiresAt - now;
            // Renew a fifth of the lifetime (at most a minute) early; against a skewed clock, fall back on the 401 path.
            TimeSpan margin = lifetime > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Min(lifetime.Ticks / 5, TimeSpan.TicksPerMinute)) : TimeSpan.Zero;
            DateTimeOffset refreshAt = lifetime > TimeSpan.Zero ? response.ExpiresAt - margin : now + TimeSpan.FromMinutes(1);
            _events?.Report(new WorkerEvent(
                WorkerEventKind.LoggedIn,
                $"Logged in to {_http.BaseAddress} as {Address}{(_device is null ? string.Empty : $" ({_device})")}."));
            return new Session(response.Token, refreshAt);
        }
    }

    private async Task<T> PostAnonymousAsync<T>(string path, object body, CancellationToken cancellationToken)
        where T : class
    {
        string operation = $"POST /{path}";
        return (await ReadAnswerAsync<T>(
            operation,
            async ct =>
            {
                HttpResponseMessage response = await SendWithRetryAsync(
                    HttpMethod.Post, path, body, token: null, operation, RequestTimeout, ct).ConfigureAwait(false);
                try
                {
                    await ThrowIfFailedAsync(response, operation, leaseScoped: false, ct).ConfigureAwait(false);
                }
                catch
                {
                    response.Dispose();
                    throw;
                }

                return response;
            },
            cancellationToken).ConfigureAwait(false))!;
    }

    // Sends a call (send retries transport failures and 5xx itself) and reads its JSON answer; a 204 reads as null.
    // A success whose body is not the JSON expected is a failed call like a 502: one line, back off, send again.
    private async Task<T?> ReadAnswerAsync<T>(string operation, Func<CancellationToken, Task<HttpResponseMessage>> send, CancellationToken cancellationToken)
        where T : class
    {
        for (int failures = 0; ; failures++)
        {
            string reason;
            using (HttpResponseMessage response = await send(cancellationToken).ConfigureAwait(false))
            {
                if (response.StatusCode == HttpStatusCode.NoContent)
                {
                    return null;
                }

                try
                {
                    return await response.Content.ReadFromJsonAsync<T>(s_json, cancellationToken).ConfigureAwait(false)
                        ?? throw new JsonException("The answer is JSON null.");
                }
                catch (Exception ex) when (ex is JsonException or NotSupportedException or HttpRequestException or IOException
                    || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    reason = $"{operation} answered {(int)response.StatusCode} with a body that is not the expected JSON: {OneLine(ex.Message)}";
                }
            }

            await BackOffAsync(reason, failures, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string OneLine(string text)
    {
        string line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= MaxReasonLength ? line : line[..MaxReasonLength] + "…";
    }

    private async Task<T> RetryAsync<T>(string operation, Func<CancellationToken, Task<T>> attempt, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        for (int failures = 0; ; failures++)
        {
            string reason;
            using (var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (timeout is { } limit)
                {
                    attemptCts.CancelAfter(limit);
                }

                try
                {
                    return await attempt(attemptCts.Token).ConfigureAwait(false);
                }
                catch (TransientFailureException ex)
                {
                    reason = ex.Message;
                }
                catch (HttpRequestException ex) when (IsTransient(ex.HttpRequestError))
                {
                    reason = $"{operation} failed: {ex.Message}";
                }
                catch (HttpIOException ex)
                {
                    reason = $"{operation} broke off: {ex.Message}";
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    reason = $"{operation} timed out.";
                }
            }

            await BackOffAsync(reason, failures, cancellationToken).ConfigureAwait(false);
        }
    }

    // One line per failed attempt, then the back-off delay.
    private async Task BackOffAsync(string reason, int failures, CancellationToken cancellationToken)
    {
        TimeSpan delay = RetryDelay(failures);
        _events?.Report(new WorkerEvent(
            WorkerEventKind.Retrying,
            string.Create(CultureInfo.InvariantCulture, $"{reason} Retrying in {delay.TotalSeconds:0.0} s.")));
        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
    }

    // Exponential back-off with "equal jitter": half the step fixed, half random, so workers that
    // lost the coordinator together do not all come back in the same instant.
    private TimeSpan RetryDelay(int failures)
    {
        double step = Math.Min(MaxRetryDelay.TotalMilliseconds, FirstRetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures, 30)));
        return TimeSpan.FromMilliseconds(step / 2 + Random.Shared.NextDouble() * step / 2);
    }

    private static bool IsTransient(HttpStatusCode status)
        => (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    private static bool IsTransient(HttpRequestError error) => error is HttpRequestError.ConnectionError
        or HttpRequestError.NameResolutionError
        or HttpRequestError.ResponseEnded
        or HttpRequestError.HttpProtocolError
        or HttpRequestError.InvalidResponse
        or HttpRequestError.Unknown;

    private static async Task ThrowIfFailedAsync(HttpResponseMessage response, string operation, bool leaseScoped, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        if (IsTransient(response.StatusCode))
        {
            throw new TransientFailureException(await DescribeFailureAsync(response, operation, cancellationToken).ConfigureAwait(false));
        }

        string? detail = await ReadDetailAsync(response, cancellationToken).ConfigureAwait(false);
        string message = Describe(response, operation, detail);
        if (leaseScoped && response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound or HttpStatusCode.Forbidden)
        {
            throw new LeaseLostException(message, response.StatusCode, detail);
        }

        throw new FarmRequestException(message, response.StatusCode, detail);
    }

    private static async Task<string> DescribeFailureAsync(HttpResponseMessage response, string operation, CancellationToken cancellationToken)
        => Describe(response, operation, await ReadDetailAsync(response, cancellationToken).ConfigureAwait(false));

    private static string Describe(HttpResponseMessage response, string operation, string? detail)
    {
        string status = string.Create(CultureInfo.InvariantCulture, $"{(int)response.StatusCode} {response.ReasonPhrase}");
        return detail is null ? $"{operation} failed: {status}." : $"{operation} failed: {status}: {detail}";
    }

    // The problem details' detail (or title); for other bodies (e.g. an S3 XML error) the first line.
    private static async Task<string?> ReadDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (string name in s_detailProperties)
                {
                    if (document.RootElement.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String)
                    {
                        return value.GetString();
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON; fall through to the raw text.
        }

        string line = text.Trim().Split('\n', 2)[0].Trim();
        return line.Length <= 300 ? line : line[..300] + "…";
    }

    private static async Task<string> CopyHashedAsync(Stream source, string path, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, CopyBufferSize, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            byte[] buffer = new byte[CopyBufferSize];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // Presigned URLs carry their signature in the query; keep it out of messages and logs.
    private static string Redact(Uri url) => url.GetLeftPart(UriPartial.Path);

    private sealed record Session(string Token, DateTimeOffset RefreshAt);

    private sealed class TransientFailureException(string message) : Exception(message);
}
