using RenderFarm.Cli.Terminal;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// The command line's side of a render job on a farm: uploads the scene, submits the job, locks its escrow when it is
/// paid, and hands the job to <see cref="JobFollower"/> with a progress bar.
/// </summary>
internal sealed class FarmJobRunner(CoordinatorClient client, ProgressBar bar)
{
    /// <summary>Uploads the scene and submits the job; a paid job's budget is locked before it returns.</summary>
    /// <param name="scenePath">The glTF file.</param>
    /// <param name="request">The job, less its scene.</param>
    /// <param name="payment">The budget and who locks it in the job's escrow; null for an unpaid job.</param>
    /// <param name="cancellationToken">Stops submitting.</param>
    /// <param name="environmentPath">An environment map to upload beside the scene and name in the job; null for none.</param>
    public async Task<JobSummary> SubmitAsync(string scenePath, SubmitJobRequest request, JobPayment? payment, CancellationToken cancellationToken, string? environmentPath = null)
    {
        SceneUploaded scene = await UploadSceneAsync(scenePath, cancellationToken).ConfigureAwait(false);
        if (environmentPath is not null)
        {
            // Stored by its content hash beside the scene; the job names it by that hash, and workers fetch and check it.
            await using FileStream map = OpenScene(environmentPath);
            EnvironmentUploaded uploaded = await client.UploadEnvironmentAsync(Path.GetFileName(environmentPath), map, cancellationToken).ConfigureAwait(false);
            request = request with { EnvironmentSha256 = uploaded.Sha256 };
        }

        // A paid job names its budget and payer, so the coordinator holds it until that payer's escrow holds the budget.
        JobSummary job = await client.SubmitAsync(
            request with { SceneSha256 = scene.Sha256, Budget = payment?.BudgetTokens ?? request.Budget, Payer = payment?.Payer ?? request.Payer },
            cancellationToken).ConfigureAwait(false);
        if (job.State != JobState.AwaitingEscrow)
        {
            return job;
        }

        if (payment is null)
        {
            await client.TryCancelAsync(job.Id).ConfigureAwait(false);
            throw new UserInputException($"The coordinator holds job {job.Id} until its budget is locked in escrow; this client has no ledger account to lock it with (--budget), so the job was cancelled.");
        }

        bar.WriteLine($"escrow: locking {payment.BudgetTokens} tokens for job {job.Id}");
        try
        {
            await payment.LockAsync(job.Id, TokenUnits.FromTokens(payment.BudgetTokens), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception refused) when (refused is LedgerException or OperationCanceledException)
        {
            // Nothing was locked: withdraw the job rather than leave it waiting for an escrow that will not come.
            await client.TryCancelAsync(job.Id).ConfigureAwait(false);
            if (refused is OperationCanceledException)
            {
                throw;
            }

            throw new UserInputException($"Locking the budget of job {job.Id} failed, so the job was cancelled: {refused.Message}", refused);
        }

        return await client.ConfirmEscrowAsync(job.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Follows the job until it ends, writing each verified frame into <paramref name="outputFolder"/> as it is listed.</summary>
    /// <exception cref="JobFailedException">The job failed or was cancelled.</exception>
    /// <param name="jobId">The job.</param>
    /// <param name="frameCount">Its frames, for the progress bar.</param>
    /// <param name="outputFolder">Where frames go.</param>
    /// <param name="cancellationToken">Stops following.</param>
    /// <param name="fileName">A frame's file name; by the job's format when null.</param>
    /// <param name="write">Writes a frame's file from its verified bytes (a denoised frame); null writes the bytes.</param>
    public Task<JobDetails> FollowAsync(
        Guid jobId,
        int frameCount,
        string outputFolder,
        CancellationToken cancellationToken,
        Func<int, string>? fileName = null,
        Func<int, byte[], string, CancellationToken, Task>? write = null)
    {
        var downloader = new FrameDownloader(client, outputFolder, fileName, write);
        return JobFollower.FollowAsync(
            client,
            jobId,
            downloader,
            (_, _) => bar.Update((double)downloader.Handled / frameCount, $"{downloader.Handled}/{frameCount} frames"),
            cancellationToken);
    }

    private async Task<SceneUploaded> UploadSceneAsync(string scenePath, CancellationToken cancellationToken)
    {
        // A farm takes one self-contained file, so a .gltf travels as a .glb packed with the files it names
        // (a "glTF Separate" export); the packer reads only files inside the scene's folder.
        if (string.Equals(Path.GetExtension(scenePath), ".gltf", StringComparison.OrdinalIgnoreCase))
        {
            using var packed = new MemoryStream(SceneAsset.PackAsGlb(scenePath));
            return await client.UploadSceneAsync(Path.ChangeExtension(Path.GetFileName(scenePath), ".glb"), packed, cancellationToken).ConfigureAwait(false);
        }

        await using FileStream file = OpenScene(scenePath);
        return await client.UploadSceneAsync(Path.GetFileName(scenePath), file, cancellationToken).ConfigureAwait(false);
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
}

/// <summary>What a client pays for a job: its budget in whole tokens and how it locks that in the job's escrow.</summary>
/// <param name="BudgetTokens">The most the job may cost, in whole tokens.</param>
/// <param name="Payer">The client's ledger address: escrows are keyed by client and job, so the coordinator reads this one's.</param>
/// <param name="LockAsync">Locks the amount (token base units) for the job on the ledger with the client's account.</param>
internal sealed record JobPayment(long BudgetTokens, string Payer, Func<Guid, System.Numerics.BigInteger, CancellationToken, Task> LockAsync);
