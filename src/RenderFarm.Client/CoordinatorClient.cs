using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Client;

/// <summary>
/// The client half of the coordinator's JSON API over one signed-in <see cref="HttpClient"/> (see
/// <see cref="CoordinatorSignIn"/>). Every failure is a <see cref="CoordinatorRequestException"/> with one line: the
/// coordinator's problem detail for a refusal, what went wrong on the way otherwise.
/// </summary>
public sealed class CoordinatorClient : IDisposable
{
    // Strict, so that a null or missing member of an answer is one clear error here rather than a null later.
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>Creates a client over <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the coordinator.</summary>
    /// <param name="http">A client signed in as the account (its base address the coordinator's).</param>
    /// <param name="ownsHttp">Whether disposing this client disposes <paramref name="http"/>.</param>
    public CoordinatorClient(HttpClient http, bool ownsHttp = false)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.BaseAddress is null)
        {
            throw new ArgumentException("The HttpClient needs the coordinator as its BaseAddress.", nameof(http));
        }

        _http = http;
        _ownsHttp = ownsHttp;
    }

    /// <summary>The coordinator's base address.</summary>
    public Uri Coordinator => _http.BaseAddress!;

    /// <summary>The HTTP client the calls go through (signed in).</summary>
    public HttpClient Http => _http;

    /// <summary>The job's page in the coordinator's web app: <c>COORDINATOR/jobs/ID</c>.</summary>
    public Uri JobPage(Guid jobId) => new(WithSlash(Coordinator), string.Create(CultureInfo.InvariantCulture, $"jobs/{jobId}"));

    /// <summary>Uploads a scene (a .glb or self-contained .gltf).</summary>
    public async Task<SceneUploaded> UploadSceneAsync(string fileName, Stream content, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        using var body = new StreamContent(content);
        return await UploadAsync<SceneUploaded>($"api/scenes?name={Uri.EscapeDataString(fileName)}", body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads an environment map (an equirectangular Radiance .hdr or OpenEXR file) a render job may name.</summary>
    public async Task<EnvironmentUploaded> UploadEnvironmentAsync(string fileName, Stream content, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        using var body = new StreamContent(content);
        return await UploadAsync<EnvironmentUploaded>($"api/environments?name={Uri.EscapeDataString(fileName)}", body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads a raw body to an upload endpoint (<c>api/scenes</c>, <c>api/models</c>, <c>api/inputs</c> with <c>?name=</c>).</summary>
    public Task<T> UploadAsync<T>(string path, HttpContent content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return SendAsync<T>(HttpMethod.Post, path, content, cancellationToken);
    }

    /// <summary>Submits a render job.</summary>
    public Task<JobSummary> SubmitAsync(SubmitJobRequest request, CancellationToken cancellationToken) =>
        SendAsync<JobSummary>(HttpMethod.Post, "api/jobs", JsonContent.Create(request, options: s_json), cancellationToken);

    /// <summary>Submits a batch-inference job.</summary>
    public Task<JobSummary> SubmitInferenceAsync(SubmitInferenceJobRequest request, CancellationToken cancellationToken) =>
        SendAsync<JobSummary>(HttpMethod.Post, "api/inference-jobs", JsonContent.Create(request, options: s_json), cancellationToken);

    /// <summary>The account's newest jobs (every account's for the operator).</summary>
    public Task<IReadOnlyList<JobSummary>> ListJobsAsync(CancellationToken cancellationToken) =>
        SendAsync<IReadOnlyList<JobSummary>>(HttpMethod.Get, "api/jobs", null, cancellationToken);

    /// <summary>A job with its tasks and verified frames.</summary>
    public Task<JobDetails> GetJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        SendAsync<JobDetails>(HttpMethod.Get, string.Create(CultureInfo.InvariantCulture, $"api/jobs/{jobId}"), null, cancellationToken);

    /// <summary>Cancels a job.</summary>
    public Task<JobSummary> CancelAsync(Guid jobId, CancellationToken cancellationToken) =>
        SendAsync<JobSummary>(HttpMethod.Post, string.Create(CultureInfo.InvariantCulture, $"api/jobs/{jobId}/cancel"), null, cancellationToken);

    /// <summary>Pauses a job (its queued tasks are not leased until it is resumed) or resumes it.</summary>
    public Task<JobSummary> SetPausedAsync(Guid jobId, bool paused, CancellationToken cancellationToken) =>
        SendAsync<JobSummary>(HttpMethod.Post, string.Create(CultureInfo.InvariantCulture, $"api/jobs/{jobId}/{(paused ? "pause" : "resume")}"), null, cancellationToken);

    /// <summary>Requeues a failed job's failed tasks in place (attempts reset; the job runs again); returns the job.</summary>
    public Task<JobSummary> RequeueFailedAsync(Guid jobId, CancellationToken cancellationToken) =>
        SendAsync<JobSummary>(HttpMethod.Post, string.Create(CultureInfo.InvariantCulture, $"api/jobs/{jobId}/requeue-failed"), null, cancellationToken);

    /// <summary>Submits the frames a failed or cancelled job did not finish as a new job; returns the new job.</summary>
    public Task<JobSummary> RequeueAsync(Guid jobId, CancellationToken cancellationToken) =>
        SendAsync<JobSummary>(HttpMethod.Post, string.Create(CultureInfo.InvariantCulture, $"api/jobs/{jobId}/requeue"), null, cancellationToken);

    /// <summary>Starts a paid job once its budget is locked in the job's escrow.</summary>
    public Task<JobSummary> ConfirmEscrowAsync(Guid jobId, CancellationToken cancellationToken) =>
        SendAsync<JobSummary>(HttpMethod.Post, string.Create(CultureInfo.InvariantCulture, $"api/jobs/{jobId}/escrow"), null, cancellationToken);

    /// <summary>Where the coordinator's paid jobs lock their budget.</summary>
    public Task<LedgerInfo> GetLedgerAsync(CancellationToken cancellationToken) =>
        SendAsync<LedgerInfo>(HttpMethod.Get, "api/ledger", null, cancellationToken);

    /// <summary>Asks the coordinator to cancel a job, best effort within 5 s: the caller's own error is what the user needs to see.</summary>
    public async Task TryCancelAsync(Guid jobId)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await CancelAsync(jobId, cancel.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is CoordinatorRequestException or OperationCanceledException)
        {
            // The job's own error, or the user's interrupt, is what matters.
        }
    }

    /// <summary>Whether a followed job has completed; a failed or cancelled one ends the following.</summary>
    /// <exception cref="JobFailedException">The job failed or was cancelled.</exception>
    public static bool IsCompleted(JobDetails details)
    {
        ArgumentNullException.ThrowIfNull(details);
        return details.Job.State switch
        {
            JobState.Completed => true,
            JobState.Failed => throw new JobFailedException($"Job {details.Job.Id} failed: {details.Job.Error}"),
            JobState.Cancelled => throw new JobFailedException($"Job {details.Job.Id} was cancelled."),
            _ => false,
        };
    }

    /// <summary>Downloads <paramref name="url"/> (a frame or output link of a job) into memory.</summary>
    public Task<byte[]> DownloadAsync(Uri url, CancellationToken cancellationToken) => InvokeAsync(
        $"GET {url}",
        async () =>
        {
            using HttpResponseMessage response = await _http.GetAsync(url, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
            return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        },
        cancellationToken);

    /// <summary>Downloads <paramref name="url"/> to <paramref name="path"/> through a temporary file, so a broken download never leaves a partial file under the final name.</summary>
    public Task DownloadToFileAsync(Uri url, string path, CancellationToken cancellationToken) => InvokeAsync(
        $"GET {url}",
        async () =>
        {
            using HttpResponseMessage response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
            string partial = path + ".partial";
            await using (FileStream file = File.Create(partial))
            {
                await response.Content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            }

            File.Move(partial, path, overwrite: true);
            return true;
        },
        cancellationToken);

    /// <summary>Sends a request to the coordinator and reads its JSON answer.</summary>
    /// <exception cref="CoordinatorRequestException">The call failed.</exception>
    public Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken) => InvokeAsync(
        $"{method} /{path}",
        async () =>
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
            using HttpResponseMessage response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
            return await response.Content.ReadFromJsonAsync<T>(s_json, cancellationToken).ConfigureAwait(false)
                ?? throw new JsonException("the answer is JSON null.");
        },
        cancellationToken);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>Throws <see cref="CoordinatorRequestException"/> for an error answer, with the coordinator's problem detail.</summary>
    public static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        string detail = body.Length > 500 ? body[..500] + "…" : body;
        try
        {
            using JsonDocument problem = JsonDocument.Parse(body);
            if (problem.RootElement.ValueKind == JsonValueKind.Object && problem.RootElement.TryGetProperty("detail", out JsonElement value) && value.ValueKind == JsonValueKind.String)
            {
                detail = value.GetString() ?? detail;
            }
        }
        catch (JsonException)
        {
            // Not problem details: show the body as it is.
        }

        int status = (int)response.StatusCode;
        string message = $"The coordinator answered {status} {response.ReasonPhrase}: {detail}".ReplaceLineEndings(" ");
        throw new CoordinatorRequestException(status is >= 400 and < 500 ? CoordinatorFailure.Refused : CoordinatorFailure.ServerError, status, message);
    }

    /// <summary>The one line for a failure on the way to the coordinator, or null when the exception is not one.</summary>
    public static CoordinatorRequestException? Classify(Exception exception, string what) => exception switch
    {
        CoordinatorRequestException known => known,

        // No answer at all: refused, reset, name not found.
        HttpRequestException { StatusCode: null } network => new CoordinatorRequestException(
            CoordinatorFailure.Unreachable,
            null,
            $"cannot reach the coordinator: {network.Message}{(network.InnerException is { } inner && !network.Message.Contains(inner.Message, StringComparison.Ordinal) ? $" ({inner.Message})" : "")}",
            network),
        HttpRequestException answered => new CoordinatorRequestException(
            (int?)answered.StatusCode is >= 400 and < 500 ? CoordinatorFailure.Refused : CoordinatorFailure.ServerError, (int?)answered.StatusCode, answered.Message, answered),

        // HttpClient's own timeout (the caller's token did not fire).
        TaskCanceledException { InnerException: TimeoutException } => new CoordinatorRequestException(
            CoordinatorFailure.Unreachable, null, $"the coordinator did not answer in time ({what}): {exception.Message}", exception),
        JsonException or NotSupportedException => new CoordinatorRequestException(
            CoordinatorFailure.ServerError, null, $"the coordinator's answer is not the JSON expected ({what}): {exception.Message}", exception),
        _ => null,
    };

    private static async Task<T> InvokeAsync<T>(string what, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested && Classify(exception, what) is { } failure && !ReferenceEquals(failure, exception))
        {
            throw failure;
        }
    }

    private static Uri WithSlash(Uri uri) => uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
}
