using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using RenderFarm.Cli.Commands;
using RenderFarm.Cli.Terminal;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// The client side of a render job on a farm: uploads the scene, submits the job, follows it with a
/// progress bar and writes every finished frame to the output folder as soon as it is accepted.
/// </summary>
internal sealed class FarmJobRunner(HttpClient http, ProgressBar bar)
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Renders <paramref name="frames"/> of the scene and returns the finished job.</summary>
    public async Task<JobDetails> RunAsync(
        string scenePath, FrameRange frames, RenderSettings settings, int chunkSize, string outputFolder, CancellationToken cancellationToken)
    {
        SceneUploaded scene = await UploadSceneAsync(scenePath, cancellationToken).ConfigureAwait(false);
        var request = new SubmitJobRequest(
            scene.Sha256,
            frames.ToString(),
            chunkSize,
            settings.Size.ToString(),
            settings.SamplesPerPixel,
            settings.Seed,
            settings.MaxBounces,
            settings.ToneMapping.ToString().ToLowerInvariant(),
            ExposureStops: settings.ExposureStops,
            Background: string.Create(CultureInfo.InvariantCulture, $"{settings.Background.R},{settings.Background.G},{settings.Background.B}"),
            FramesPerSecond: settings.FramesPerSecond,
            SixteenBit: settings.SixteenBit);
        JobSummary job = await SendAsync<JobSummary>(HttpMethod.Post, "api/jobs", JsonContent.Create(request, options: s_json), cancellationToken).ConfigureAwait(false);
        try
        {
            return await FollowAsync(job.Id, frames, outputFolder, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl-C: tell the farm so providers stop spending work on it.
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await http.PostAsync(new Uri($"api/jobs/{job.Id}/cancel", UriKind.Relative), null, cancel.Token).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<JobDetails> FollowAsync(Guid jobId, FrameRange frames, string outputFolder, CancellationToken cancellationToken)
    {
        var written = new HashSet<int>();
        while (true)
        {
            JobDetails details = await SendAsync<JobDetails>(HttpMethod.Get, $"api/jobs/{jobId}", null, cancellationToken).ConfigureAwait(false);
            foreach (FrameLink frame in details.Tasks.SelectMany(t => t.Frames))
            {
                if (written.Add(frame.Frame))
                {
                    await DownloadAsync(frame, Path.Combine(outputFolder, RenderCommand.FrameFileName(frame.Frame)), cancellationToken).ConfigureAwait(false);
                }
            }

            bar.Update((double)written.Count / frames.Count, $"{written.Count}/{frames.Count} frames");
            switch (details.Job.State)
            {
                case JobState.Completed:
                    return details;
                case JobState.Failed:
                    throw new FarmJobFailedException($"The job failed: {details.Job.Error}");
                case JobState.Cancelled:
                    throw new FarmJobFailedException("The job was cancelled.");
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<SceneUploaded> UploadSceneAsync(string scenePath, CancellationToken cancellationToken)
    {
        await using FileStream file = OpenScene(scenePath);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        string name = Uri.EscapeDataString(Path.GetFileName(scenePath));
        return await SendAsync<SceneUploaded>(HttpMethod.Post, $"api/scenes?name={name}", content, cancellationToken).ConfigureAwait(false);
    }

    private async Task DownloadAsync(FrameLink frame, string path, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.GetAsync(frame.Url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        string partial = path + ".partial";
        await using (FileStream file = File.Create(partial))
        {
            await response.Content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
        }

        File.Move(partial, path, overwrite: true);
    }

    private static FileStream OpenScene(string path)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Cannot read scene '{path}': {exception.Message}", exception);
        }
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        using HttpResponseMessage response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<T>(s_json, cancellationToken).ConfigureAwait(false))!;
    }

    // The coordinator's 4xx answers are problem details whose "detail" says what was wrong with the request.
    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
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

/// <summary>A job ended without all its frames.</summary>
internal sealed class FarmJobFailedException(string message) : Exception(message);
