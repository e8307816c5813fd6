using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using RenderFarm.Cli.Commands;
using RenderFarm.Cli.Terminal;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Rendering.Scene;

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
    /// <param name="scenePath">The glTF file.</param>
    /// <param name="frames">Frames to render.</param>
    /// <param name="settings">Render settings.</param>
    /// <param name="chunkSize">Frames per task.</param>
    /// <param name="outputFolder">Where the PNGs go.</param>
    /// <param name="payment">The budget and who locks it in the job's escrow; null for an unpaid job.</param>
    /// <param name="cancellationToken">Cancels the job on the farm too.</param>
    public async Task<JobDetails> RunAsync(
        string scenePath,
        FrameRange frames,
        RenderSettings settings,
        int chunkSize,
        string outputFolder,
        JobPayment? payment,
        CancellationToken cancellationToken)
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
            SixteenBit: settings.SixteenBit,
            Budget: payment?.BudgetTokens,
            Payer: payment?.Payer);
        JobSummary job = await SendAsync<JobSummary>(HttpMethod.Post, "api/jobs", JsonContent.Create(request, options: s_json), cancellationToken).ConfigureAwait(false);
        try
        {
            if (job.State == JobState.AwaitingEscrow)
            {
                if (payment is null)
                {
                    throw new UserInputException($"The coordinator holds job {job.Id} until its budget is locked in escrow; this client has no ledger account to lock it with.");
                }

                bar.WriteLine($"escrow: locking {payment.BudgetTokens} tokens for job {job.Id}");
                try
                {
                    await payment.LockAsync(job.Id, TokenUnits.FromTokens(payment.BudgetTokens), cancellationToken).ConfigureAwait(false);
                }
                catch (LedgerException refused)
                {
                    // Nothing was locked: withdraw the job rather than leave it waiting for an escrow that will not come.
                    await CancelAsync(job.Id).ConfigureAwait(false);
                    throw new UserInputException($"Locking the budget of job {job.Id} failed, so the job was cancelled: {refused.Message}", refused);
                }

                await SendAsync<JobSummary>(HttpMethod.Post, $"api/jobs/{job.Id}/escrow", null, cancellationToken).ConfigureAwait(false);
            }

            return await FollowAsync(job.Id, frames, outputFolder, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl-C: tell the farm so providers stop spending work on it.
            await CancelAsync(job.Id).ConfigureAwait(false);
            throw;
        }
    }

    private Task CancelAsync(Guid jobId) => CoordinatorHttp.CancelJobAsync(http, jobId);

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
            if (CoordinatorHttp.IsCompleted(details))
            {
                return details;
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until the finished job <paramref name="jobId"/> is settled on the ledger and returns it.</summary>
    public async Task<JobDetails> WaitForSettlementAsync(Guid jobId, CancellationToken cancellationToken)
    {
        while (true)
        {
            JobDetails details = await SendAsync<JobDetails>(HttpMethod.Get, $"api/jobs/{jobId}", null, cancellationToken).ConfigureAwait(false);
            if (details.Settlement is not null)
            {
                return details;
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<SceneUploaded> UploadSceneAsync(string scenePath, CancellationToken cancellationToken)
    {
        // A farm takes one self-contained file, so a .gltf travels as a .glb packed with the files it names
        // (a "glTF Separate" export); the packer reads only files inside the scene's folder.
        if (string.Equals(Path.GetExtension(scenePath), ".gltf", StringComparison.OrdinalIgnoreCase))
        {
            using var packed = new ByteArrayContent(SceneAsset.PackAsGlb(scenePath));
            return await PostSceneAsync(Path.ChangeExtension(Path.GetFileName(scenePath), ".glb"), packed, cancellationToken).ConfigureAwait(false);
        }

        await using FileStream file = OpenScene(scenePath);
        using var content = new StreamContent(file);
        return await PostSceneAsync(Path.GetFileName(scenePath), content, cancellationToken).ConfigureAwait(false);
    }

    private Task<SceneUploaded> PostSceneAsync(string fileName, HttpContent content, CancellationToken cancellationToken)
    {
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        return SendAsync<SceneUploaded>(HttpMethod.Post, $"api/scenes?name={Uri.EscapeDataString(fileName)}", content, cancellationToken);
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

    private Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken) =>
        CoordinatorHttp.SendAsync<T>(http, method, path, content, cancellationToken);

    private static Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        CoordinatorHttp.EnsureSuccessAsync(response, cancellationToken);
}

/// <summary>What a client pays for a job: its budget in whole tokens and how it locks that in the job's escrow.</summary>
/// <param name="BudgetTokens">The most the job may cost, in whole tokens.</param>
/// <param name="Payer">The client's ledger address: escrows are keyed by client and job, so the coordinator reads this one's.</param>
/// <param name="LockAsync">Locks the amount (token base units) for the job on the ledger with the client's account.</param>
internal sealed record JobPayment(long BudgetTokens, string Payer, Func<Guid, System.Numerics.BigInteger, CancellationToken, Task> LockAsync);

/// <summary>A job ended without all its frames.</summary>
internal sealed class FarmJobFailedException(string message) : Exception(message);
