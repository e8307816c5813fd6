using System.Net.Http.Json;
using System.Text.Json;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// Calls to the coordinator's JSON API. Its 4xx answers are problem details whose "detail" says what was wrong with
/// the request; they become one-line user errors.
/// </summary>
internal static class CoordinatorHttp
{
    // Strict, so that a null or missing member of an answer is one clear JsonException here rather than a null later.
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>Where the coordinator's paid jobs lock their budget and providers stake.</summary>
    public static Task<LedgerInfo> GetLedgerAsync(HttpClient http, CancellationToken cancellationToken) =>
        SendAsync<LedgerInfo>(http, HttpMethod.Get, "api/ledger", null, cancellationToken);

    /// <summary>Asks the coordinator to cancel job <paramref name="jobId"/>, best effort within 5 s: the caller's own error is what the user needs to see.</summary>
    public static async Task CancelJobAsync(HttpClient http, Guid jobId)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            using HttpResponseMessage response = await http.PostAsync(new Uri($"api/jobs/{jobId}/cancel", UriKind.Relative), null, cancel.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
        {
            // The job's own error, or the user's Ctrl-C, is what matters.
        }
    }

    /// <summary>Whether a followed job has completed; a failed or cancelled one ends the following.</summary>
    /// <exception cref="FarmJobFailedException">The job failed or was cancelled.</exception>
    public static bool IsCompleted(JobDetails details) => details.Job.State switch
    {
        JobState.Completed => true,
        JobState.Failed => throw new FarmJobFailedException($"The job failed: {details.Job.Error}"),
        JobState.Cancelled => throw new FarmJobFailedException("The job was cancelled."),
        _ => false,
    };

    /// <summary>Sends a request to the coordinator and reads its JSON answer.</summary>
    /// <exception cref="UserInputException">The coordinator refused the request (4xx); the message is its problem detail.</exception>
    /// <exception cref="JsonException">The answer is not the JSON expected.</exception>
    public static async Task<T> SendAsync<T>(HttpClient http, HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        using HttpResponseMessage response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(s_json, cancellationToken).ConfigureAwait(false)
            ?? throw new JsonException($"{method} /{path} answered JSON null.");
    }

    /// <summary>Throws for an error answer: <see cref="UserInputException"/> for a 4xx, <see cref="HttpRequestException"/> otherwise.</summary>
    public static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        string detail = body;
        try
        {
            using JsonDocument problem = JsonDocument.Parse(body);
            if (problem.RootElement.TryGetProperty("detail", out JsonElement value))
            {
                detail = value.GetString() ?? body;
            }
        }
        catch (JsonException)
        {
            // Not problem details: show the body as it is.
        }

        string message = $"The coordinator answered {(int)response.StatusCode} {response.ReasonPhrase}: {detail}";
        throw (int)response.StatusCode is >= 400 and < 500 ? new UserInputException(message) : new HttpRequestException(message);
    }
}
