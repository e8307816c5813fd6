using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Worker;

/// <content>Sending calls: the bearer token, retries of failures that may pass with capped back-off, and refusals read into one line.</content>
public sealed partial class FarmClient
{
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
}
