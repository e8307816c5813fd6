using System.Globalization;
using System.IO.Compression;
using System.Numerics;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Core.Storage;

namespace RenderFarm.Coordinator.Api;

/// <summary>The client half of the API: submitting, watching, cancelling and downloading jobs.</summary>
internal sealed partial class JobService
{
    private const int MaxChunkSize = 1000;
    private const int ListLimit = 200;

    private readonly IFarmStore _store;
    private readonly IObjectStore _objects;
    private readonly IBackgroundJobClient _client;
    private readonly LeaseService _leases;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly JobLimits _limits;
    private readonly ILogger<JobService> _logger;
    private readonly ILedger? _ledger;
    private readonly JobStorage? _storage;

    public JobService(
        IFarmStore store,
        IObjectStore objects,
        IBackgroundJobClient client,
        LeaseService leases,
        TimeProvider time,
        IOptions<CoordinatorOptions> options,
        IOptions<JobLimits> limits,
        ILogger<JobService> logger,
        ILedger? ledger = null,
        JobStorage? storage = null)
    {
        _storage = storage;
        _limits = limits.Value;
        _ledger = ledger;
        _store = store;
        _objects = objects;
        _client = client;
        _leases = leases;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>
    /// Starts a job that waits for its escrow once the ledger shows the client's budget locked for it; a job that is
    /// past waiting is returned as it is, so a repeated call is harmless.
    /// </summary>
    public async Task<JobSummary> ConfirmEscrowAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (job.State == JobState.AwaitingEscrow && _ledger is not null)
        {
            EscrowState? escrow;
            try
            {
                escrow = job.Spec.Payer is { } payer ? await _ledger.GetEscrowAsync(payer, jobId, cancellationToken) : null;
            }
            catch (LedgerException exception)
            {
                throw new CoordinatorException(503, $"The ledger cannot be read now; try again later. {exception.Message}");
            }

            BigInteger budget = TokenUnits.FromTokens(job.Spec.Budget);
            if (escrow is null)
            {
                throw new CoordinatorException(
                    409, $"No escrow is locked for job {jobId} by its payer {job.Spec.Payer} yet: lock {TokenUnits.Format(budget)} for it on the escrow contract from that address first.");
            }

            // Only the owner's tokens start its job: an escrow someone else locked for the id does not pay for it.
            if (!string.Equals(escrow.Client, job.Owner, StringComparison.OrdinalIgnoreCase))
            {
                throw new CoordinatorException(409, $"The escrow of job {jobId} was locked by {escrow.Client}, not by the job's owner {job.Owner}.");
            }

            if (!escrow.Open)
            {
                throw new CoordinatorException(409, $"The escrow of job {jobId} is already closed (refunded); submit a new job.");
            }

            if (escrow.Locked < budget)
            {
                throw new CoordinatorException(
                    409, $"The escrow of job {jobId} holds {TokenUnits.Format(escrow.Locked)}, less than its budget of {TokenUnits.Format(budget)}.");
            }

            if (await _store.TryUpdateJobStateAsync(jobId, JobState.AwaitingEscrow, JobState.Queued, null, cancellationToken))
            {
                EnqueueSplit(jobId);
                LogEscrowConfirmed(jobId, TokenUnits.Format(escrow.Locked));
            }

            job = await GetJobAsync(jobId, cancellationToken);
        }

        return Summary(job, await _store.GetTasksAsync(jobId, cancellationToken));
    }

    public async Task<IReadOnlyList<JobSummary>> ListAsync(ClientIdentity caller, CancellationToken cancellationToken)
    {
        var summaries = new List<JobSummary>();
        IReadOnlyList<JobRecord> jobs = caller.IsOperator
            ? await _store.ListJobsAsync(ListLimit, cancellationToken)
            : await _store.ListJobsOfAsync(caller.RequireAccount(), ListLimit, cancellationToken);
        foreach (JobRecord job in jobs)
        {
            summaries.Add(Summary(job, await _store.GetTasksAsync(job.Id, cancellationToken)));
        }

        return summaries;
    }

    public async Task<JobDetails> GetAsync(Guid jobId, ClientIdentity caller, Uri baseUrl, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(jobId, cancellationToken);
        string outputs = job.Spec.Inference is null ? "frames" : "outputs";
        var details = tasks.Select(t => new TaskDetails(
            t.Index,
            t.FirstFrame,
            t.LastFrame,
            t.State,
            t.Provider,
            t.Attempts,
            t.StartedAt,
            t.FinishedAt,
            t.Error,
            // Frames are the client's only once verified: a Verifying task's outputs await their spot checks.
            (t.State == FarmTaskState.Succeeded ? t.Outputs : []).Select(o => new FrameLink(o.Frame, new Uri(baseUrl, $"api/jobs/{jobId}/{outputs}/{o.Frame}"), o.Sha256, o.RenderSeconds)).ToList(),
            // An open canary is not shown: the job's client may be a provider too, and a canary's taker must not learn what its lease is.
            t.Checks.Where(c => !(c.Canary && c.State is SpotCheckState.Queued or SpotCheckState.Leased))
                .Select(c => c with { LeaseId = null, HangfireJobId = null }).ToList(),
            t.RejectedBy,
            // A provider's network address is not the client's to see.
            [.. t.Failures.Select(f => f with { Origin = null })]));
        return new JobDetails(Summary(job, tasks) with { Warning = WaitingWarning(job) }, job.Spec.Settings, [.. details], job.Settlement, VerificationReport.Create(job.Spec.Settings.Size, tasks));
    }

    /// <summary>A finished frame as the API serves it: its bytes, content type (PNG or EXR) and file name <c>frame_NNNN.png</c> or <c>.exr</c>.</summary>
    public async Task<(Stream Content, string ContentType, string FileName)> OpenFrameFileAsync(Guid jobId, int frame, ClientIdentity caller, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        Stream content = await OpenFrameAsync(jobId, frame, caller, cancellationToken);
        return (content, FarmKeys.OutputContentType(job.Spec), string.Create(CultureInfo.InvariantCulture, $"frame_{frame:D4}{FarmKeys.OutputExtension(job.Spec)}"));
    }

    public async Task<Stream> OpenFrameAsync(Guid jobId, int frame, ClientIdentity caller, CancellationToken cancellationToken)
    {
        await GetOwnJobAsync(jobId, caller, cancellationToken);
        FrameOutput? output = (await _store.GetTasksAsync(jobId, cancellationToken))
            .Where(t => t.State == FarmTaskState.Succeeded)
            .SelectMany(t => t.Outputs)
            .FirstOrDefault(o => o.Frame == frame);
        if (output is null)
        {
            throw new CoordinatorException(404, $"Frame {frame} of job {jobId} is not finished (or not part of the job).");
        }

        return await _objects.OpenReadAsync(output.Key, cancellationToken);
    }

    /// <summary>Writes a zip of every finished frame, streaming each from the store.</summary>
    public async Task<IReadOnlyList<FrameOutput>> GetFinishedFramesAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        await GetOwnJobAsync(jobId, caller, cancellationToken);
        return [.. (await _store.GetTasksAsync(jobId, cancellationToken)).Where(t => t.State == FarmTaskState.Succeeded).SelectMany(t => t.Outputs).OrderBy(o => o.Frame)];
    }

    public async Task WriteZipAsync(IReadOnlyList<FrameOutput> frames, Stream destination, CancellationToken cancellationToken)
    {
        // PNGs do not compress further; storing them keeps the zip a straight copy.
        await using var zip = new ZipArchive(destination, ZipArchiveMode.Create, leaveOpen: true);
        foreach (FrameOutput frame in frames)
        {
            string extension = frame.Key.EndsWith(".exr", StringComparison.Ordinal) ? ".exr" : ".png";
            ZipArchiveEntry entry = zip.CreateEntry(string.Create(CultureInfo.InvariantCulture, $"{frame.Frame:D6}{extension}"), CompressionLevel.NoCompression);
            await using Stream target = await entry.OpenAsync(cancellationToken);
            await using Stream source = await _objects.OpenReadAsync(frame.Key, cancellationToken);
            await source.CopyToAsync(target, cancellationToken);
        }
    }

    private void EnqueueSplit(Guid jobId) =>
        _client.Create(Job.FromExpression<JobSplitter>(s => s.SplitAsync(jobId, CancellationToken.None)), new EnqueuedState(FarmQueues.Split));

    private async Task<JobRecord> GetJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        await _store.GetJobAsync(jobId, cancellationToken)
        ?? throw new CoordinatorException(404, $"No job {jobId}.");

    // Another account's job answers exactly as a missing one does, so its id reveals nothing.
    private async Task<JobRecord> GetOwnJobAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken) =>
        await _store.GetJobAsync(jobId, cancellationToken) is { } job && caller.MayAccess(job.Owner)
            ? job
            : throw new CoordinatorException(404, $"No job {jobId}.");

    // An open job on a farm that cannot cross-check its frames says so (ProviderTrust).
    private string? WaitingWarning(JobRecord job) =>
        _storage is not null && job.State is JobState.Queued or JobState.AwaitingEscrow or JobState.Running
            ? ProviderTrust.WaitingWarning(_options, ProviderTrust.SignedInProviders(_storage))
            : null;

    private static JobSummary Summary(JobRecord job, IReadOnlyList<TaskRecord> tasks) => new(
        job.Id,
        job.State,
        job.Spec.SceneFileName,
        job.Spec.Frames.ToString(),
        tasks.Count,
        tasks.Count(t => t.State == FarmTaskState.Succeeded),
        job.CreatedAt,
        job.FinishedAt,
        job.Error,
        Priority: job.Spec.Priority,
        Paused: job.Paused && job.State is JobState.Queued or JobState.AwaitingEscrow or JobState.Running);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} accepted: frames {Frames}, {TaskCount} tasks, priority {Priority}; {State}.")]
    private partial void LogSubmitted(Guid jobId, string frames, int taskCount, int priority, JobState state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: escrow of {Locked} confirmed; its tasks are being queued.")]
    private partial void LogEscrowConfirmed(Guid jobId, string locked);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} paused: {Paused}; {Moved} queued tasks taken out of or put back in their queues.")]
    private partial void LogPaused(Guid jobId, bool paused, int moved);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} requeued in place: {Requeued} failed or stopped tasks queued again.")]
    private partial void LogRequeuedInPlace(Guid jobId, int requeued);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cancelled.")]
    private partial void LogCancelled(Guid jobId);
}
