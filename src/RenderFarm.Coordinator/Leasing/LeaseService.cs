using Hangfire;
using Hangfire.Common;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The lease API's facade: leases frame tasks and checks to providers and takes their reports. The work is done by
/// named parts: <see cref="IWorkQueue"/> (Hangfire's queues), <see cref="TaskTransitions"/> (every change of a task, in
/// the farm record and in Hangfire together), <see cref="UploadVerifier"/>, <see cref="SpotChecks"/> with
/// <see cref="SpotCheckJudge"/> and <see cref="Arbitration"/>, <see cref="ProviderSanctions"/> and <see cref="Canaries"/>.
/// The farm record's optimistic version decides races between a provider's call, an expiry and a cancellation.
/// </summary>
internal sealed partial class LeaseService
{
    private const int MaxReasonLength = 2000;

    // Work one lease request may look past (held back for other providers) before it waits for the next request.
    private const int MaxSkippedPerLease = 32;
    private static readonly TimeSpan s_minimumFetchWait = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_skippedTaskBackoff = TimeSpan.FromMilliseconds(500);

    // How long an ended job may stay unsettled before its settlement is requested again (settling takes seconds).
    private static readonly TimeSpan s_settlementGrace = TimeSpan.FromMinutes(2);

    private readonly IWorkQueue _queue;
    private readonly IFarmStore _store;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly ILogger _logger;
    private readonly LeaseId _leaseIds;
    private readonly ProviderPresence _presence;
    private readonly TaskTransitions _transitions;
    private readonly JobTaskControls _controls;
    private readonly ProviderSanctions _sanctions;
    private readonly UploadVerifier _uploads;
    private readonly LeaseGrants _grants;
    private readonly SpotChecks _checks;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, DateTimeOffset> _settlementRequests = new();

    public LeaseService(
        JobStorage storage,
        IBackgroundJobClient client,
        IFarmStore store,
        IObjectStore objects,
        TimeProvider time,
        IOptions<CoordinatorOptions> options,
        ProviderStanding standing,
        ILoggerFactory loggers,
        QueueFetcher fetcher,
        PostgresHangfireStates? states = null)
        : this(new HangfireWorkQueue(storage, client, fetcher, states), new ProviderPresence(storage), store, objects, time, options.Value, standing, loggers)
    {
    }

    /// <summary>Builds the parts over a given work queue (a test may wrap Hangfire's).</summary>
    internal LeaseService(
        IWorkQueue queue,
        ProviderPresence presence,
        IFarmStore store,
        IObjectStore objects,
        TimeProvider time,
        CoordinatorOptions options,
        ProviderStanding standing,
        ILoggerFactory loggers)
    {
        _queue = queue;
        _presence = presence;
        _store = store;
        _time = time;
        _options = options;
        _logger = loggers.CreateLogger<LeaseService>();
        byte[] secret = _options.SpotCheckSecret.Length > 0
            ? System.Text.Encoding.UTF8.GetBytes(_options.SpotCheckSecret)
            : SpotCheckPlan.CreateSecret();
        _leaseIds = new LeaseId(secret);
        _transitions = new TaskTransitions(store, queue, objects, time, options, standing, loggers.CreateLogger<TaskTransitions>());
        _controls = new JobTaskControls(store, _transitions);
        _sanctions = new ProviderSanctions(store, _transitions, time, options, loggers.CreateLogger<ProviderSanctions>());
        _uploads = new UploadVerifier(objects);
        _grants = new LeaseGrants(objects, options);
        var canaries = new Canaries(store, _transitions, _sanctions, presence, time, options, secret);
        _checks = new SpotChecks(
            store, objects, _transitions, _sanctions, canaries, new SpotCheckJudge(objects, options), _grants, presence, time, options, secret, loggers.CreateLogger<SpotChecks>());
    }

    /// <summary>The transitions every change of a task goes through (the maintenance sweep repairs with them).</summary>
    internal TaskTransitions Transitions => _transitions;

    /// <summary>Shows the provider on the dashboard's server list, or refreshes its heartbeat.</summary>
    public void TouchProvider(string provider) => _presence.Touch(provider);

    /// <summary>Waits up to the request's wait time for a task this provider may take and leases it.</summary>
    /// <returns>The grant, or null when nothing came within the wait.</returns>
    public async Task<LeaseGrant?> LeaseAsync(string provider, LeaseRequest request, CancellationToken cancellationToken) =>
        (await LeaseOrSayWhyAsync(provider, request, cancellationToken)).Grant;

    /// <summary>
    /// As <see cref="LeaseAsync"/>; without a grant, also why a task was held back from this provider when the reason is
    /// the provider's to know (a scene too large for the device it advertised), in one line.
    /// </summary>
    public async Task<(LeaseGrant? Grant, string? NotLeased)> LeaseOrSayWhyAsync(string provider, LeaseRequest request, CancellationToken cancellationToken)
    {
        if (request.WaitSeconds is < 0 or > 30)
        {
            throw new CoordinatorException(400, $"WaitSeconds must be between 0 and 30; got {request.WaitSeconds}.");
        }

        CheckDevice(request.Device);
        string? notLeased = null;

        LeasePathProfile.Stage whole = LeasePathProfile.Start("lease: whole call (granted ones)");
        string[] queues = FarmQueues.Expand(request.Queues);
        long deadline = Environment.TickCount64 + (request.WaitSeconds * 1000L);
        using IStorageConnection connection = _queue.Connect();
        using (LeasePathProfile.Start("lease: provider presence (Hangfire server heartbeat)"))
        {
            _presence.Touch(connection, provider);
        }

        // Work this provider may not take (its own output to check, a canary of a frame it worked on, a job it is
        // blocked from) is held while the request looks further down the queues, and put back at the end, so that
        // one such item at the head of a queue never hides everything behind it.
        var skipped = new List<IFetchedJob>();
        try
        {
            while (skipped.Count < MaxSkippedPerLease)
            {
                TimeSpan wait = TimeSpan.FromMilliseconds(Math.Max(deadline - Environment.TickCount64, 0));
                IFetchedJob? fetched;
                using (LeasePathProfile.Start("lease: fetch (wait for a fetch thread + FetchNextJob)"))
                {
                    fetched = await _queue.FetchAsync(connection, queues, skipped.Count > 0 || wait < s_minimumFetchWait ? s_minimumFetchWait : wait, cancellationToken);
                }

                if (fetched is null)
                {
                    break;
                }

                LeaseGrant? grant;
                bool putBack;
                try
                {
                    (grant, putBack) = await TryLeaseAsync(connection, fetched, provider, request.Device, reason => notLeased ??= reason, cancellationToken);
                }
                catch
                {
                    // Not taken: back in its queue. Hangfire.InMemory drops a fetched entry that is only disposed.
                    PutBack(fetched);
                    throw;
                }

                if (putBack)
                {
                    skipped.Add(fetched);
                    continue;
                }

                fetched.Dispose();
                if (grant is not null)
                {
                    whole.Dispose();
                    return (grant, null);
                }
            }
        }
        finally
        {
            foreach (IFetchedJob held in skipped)
            {
                PutBack(held);
            }
        }

        if (skipped.Count > 0)
        {
            // Only work for others is waiting: ask again a moment later instead of spinning on it.
            await Task.Delay(s_skippedTaskBackoff, cancellationToken);
        }

        return (null, notLeased);
    }

    // The advertised limits are the provider's word: bounded, so no arithmetic on them can overflow.
    private static void CheckDevice(LeaseDevice? device)
    {
        if (device is null)
        {
            return;
        }

        if (device.MaxStorageBufferRange is < 1 or > LeaseDevice.MaxBytes)
        {
            throw new CoordinatorException(400, $"device.maxStorageBufferRange must be between 1 and {LeaseDevice.MaxBytes} bytes; got {device.MaxStorageBufferRange}.");
        }

        if (device.DeviceLocalMemoryBytes is < 0 or > LeaseDevice.MaxBytes)
        {
            throw new CoordinatorException(400, $"device.deviceLocalMemoryBytes must be between 0 (not known) and {LeaseDevice.MaxBytes} bytes; got {device.DeviceLocalMemoryBytes}.");
        }
    }

    // Best effort: on PostgreSQL an entry that was not put back becomes visible again after the invisibility timeout.
    private void PutBack(IFetchedJob fetched)
    {
        try
        {
            _queue.PutBack(fetched);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogPutBackFailed(fetched.JobId, ex.Message);
        }
        finally
        {
            fetched.Dispose();
        }
    }

    /// <summary>Extends a lease.</summary>
    public async Task<HeartbeatResponse> HeartbeatAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (_checks.IsCheckLease(leaseId))
        {
            return await _checks.HeartbeatCheckAsync(provider, leaseId, cancellationToken);
        }

        while (true)
        {
            (TaskRecord task, _) = await GetLeaseAsync(provider, leaseId, cancellationToken);
            DateTimeOffset expires = _time.GetUtcNow() + _options.LeaseDuration;
            if (await _transitions.ExtendLeaseAsync(task, provider, expires, cancellationToken))
            {
                _presence.Touch(provider);
                return new HeartbeatResponse(expires);
            }
        }
    }

    /// <summary>Accepts a task's frames after checking every upload's size and SHA-256 in the store.</summary>
    /// <param name="provider">The provider that reports.</param>
    /// <param name="leaseId">Its lease.</param>
    /// <param name="request">The report.</param>
    /// <param name="origin">The remote address the report came from, when known; a refused output is a failure from it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task CompleteAsync(string provider, string leaseId, CompleteRequest request, string? origin, CancellationToken cancellationToken)
    {
        if (_checks.IsCheckLease(leaseId))
        {
            await _checks.CompleteCheckAsync(provider, leaseId, request, cancellationToken);
            return;
        }

        LeasePathProfile.Stage reads = LeasePathProfile.Start("complete: farm reads (task, job)");
        TaskWithJob? read = _leaseIds.TryParse(leaseId, out Guid leasedJobId, out int leasedIndex)
            ? await _store.GetTaskWithJobAsync(leasedJobId, leasedIndex, cancellationToken: cancellationToken)
            : null;
        if (CompletedBy(read?.Task, provider, leaseId) is { } completed)
        {
            // A retried report whose first attempt was accepted (the answer was lost, or the attempt failed after the
            // acceptance was stored): same answer again, once the checks the first attempt may not have queued are.
            if (read?.Job is { } owner)
            {
                await _checks.EnqueueChecksAsync(owner, completed.Index, [.. completed.Checks.Where(c => c.State == SpotCheckState.Queued && c.HangfireJobId is null)], cancellationToken);
                await _transitions.TryCompleteJobAsync(completed.JobId, cancellationToken);
            }

            return;
        }

        (TaskRecord task, JobRecord job) = await GetLeaseAsync(provider, leaseId, cancellationToken, read);
        reads.Dispose();
        LeasePathProfile.Stage verify = LeasePathProfile.Start("complete: upload checks (object read, SHA-256, PNG header, copy)");
        IReadOnlyList<CompletedFrame> frames = UploadVerifier.CheckReport(task, request);
        var outputs = new List<FrameOutput>(frames.Count);
        string extension = FarmKeys.OutputExtension(job.Spec);
        IReadOnlyList<Inference.TensorInfo>? modelOutputs = await _uploads.ModelOutputsAsync(job, cancellationToken);
        foreach (CompletedFrame frame in frames)
        {
            try
            {
                outputs.Add(await _uploads.VerifyUploadAsync(job, frame, leaseId, extension, modelOutputs, cancellationToken));
            }
            catch (OutputRefusedException refused)
            {
                // Not what the task asked for: the provider's failure, and the task goes back (or fails) as for one.
                await FailLeaseAsync(provider, leaseId, $"Output refused: {refused.Message}", origin, cancellationToken);
                throw new CoordinatorException(422, $"{refused.Message} The lease has ended and counts as a failure.");
            }
        }

        verify.Dispose();
        IReadOnlyDictionary<int, WholeFrameSampleDecision> samples = ProviderTrust.NeedsChecks(_options, provider)
            ? await _checks.DecideSamplesAsync(job, provider, outputs, cancellationToken)
            : new Dictionary<int, WholeFrameSampleDecision>();
        while (true)
        {
            IReadOnlyList<SpotCheckRecord> checks = ProviderTrust.NeedsChecks(_options, provider) ? _checks.PlanChecks(job, task, provider, outputs, samples) : [];
            if (await _transitions.CompleteAsync(task, outputs, checks, cancellationToken) is not null)
            {
                LogCompleted(task.JobId, task.Index, provider);
                await _checks.EnqueueChecksAsync(job, task.Index, checks, cancellationToken);
                using (LeasePathProfile.Start("complete: job completion (tally)"))
                {
                    await _transitions.TryCompleteJobAsync(task.JobId, cancellationToken);
                }

                using (LeasePathProfile.Start("complete: delete uploads"))
                {
                    foreach ((int frame, string reason) in await _uploads.DeleteUploadsAsync(task.JobId, leaseId, extension, outputs, cancellationToken))
                    {
                        LogUploadKept(task.JobId, frame, reason);
                    }
                }

                return;
            }

            (task, job) = await GetLeaseAsync(provider, leaseId, cancellationToken);
        }
    }

    /// <summary>Records the provider's failure and re-queues the task, or fails it (and its job) when too many providers failed it.</summary>
    /// <param name="provider">The provider that reports.</param>
    /// <param name="leaseId">Its lease.</param>
    /// <param name="request">The report.</param>
    /// <param name="origin">The remote address the report came from, when known (see <see cref="TaskFailurePolicy.IsExhausted"/>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task FailAsync(string provider, string leaseId, FailRequest request, string? origin, CancellationToken cancellationToken)
    {
        string reason = request.Reason.Trim();
        if (reason.Length == 0 || reason.Length > MaxReasonLength)
        {
            throw new CoordinatorException(400, $"Reason must hold 1 to {MaxReasonLength} characters.");
        }

        if (_checks.IsCheckLease(leaseId))
        {
            await _checks.ReleaseCheckAsync(provider, leaseId, $"Failed on {provider}: {reason}", cancellationToken);
            return;
        }

        await FailLeaseAsync(provider, leaseId, reason, origin, cancellationToken);
    }

    // Ends a render or inference lease as the provider's failure.
    private async Task FailLeaseAsync(string provider, string leaseId, string reason, string? origin, CancellationToken cancellationToken)
    {
        while (true)
        {
            (TaskRecord task, JobRecord job) = await GetLeaseAsync(provider, leaseId, cancellationToken);
            if (await _transitions.ReleaseAsync(task, job, provider, $"Failed on {provider}: {reason}", cancellationToken, origin))
            {
                return;
            }
        }
    }

    /// <summary>Puts a task back in its queue without counting a failure.</summary>
    public async Task HandBackAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (_checks.IsCheckLease(leaseId))
        {
            await _checks.ReleaseCheckAsync(provider, leaseId, $"Handed back by {provider}", cancellationToken);
            return;
        }

        while (true)
        {
            (TaskRecord task, JobRecord job) = await GetLeaseAsync(provider, leaseId, cancellationToken);
            if (await _transitions.ReleaseAsync(task, job, null, $"Handed back by {provider}", cancellationToken))
            {
                return;
            }
        }
    }

    private async Task<(LeaseGrant? Grant, bool PutBack)> TryLeaseAsync(
        IStorageConnection connection, IFetchedJob fetched, string provider, LeaseDevice? device, Action<string> notLeased, CancellationToken cancellationToken)
    {
        JobData? data;
        using (LeasePathProfile.Start("lease: Hangfire job data (GetJobData)"))
        {
            data = _queue.Describe(connection, fetched.JobId);
        }

        if (data?.Job is { } checkJob && checkJob.Type == typeof(SpotCheckJob) && checkJob.Args is [Guid checkJobId, int checkIndex, int checkNumber])
        {
            return await _checks.TryLeaseCheckAsync(fetched, provider, checkJobId, checkIndex, checkNumber, cancellationToken);
        }

        if (data?.Job is not { } hangfireJob || hangfireJob.Type != typeof(FrameTaskJob)
            || hangfireJob.Args is not [Guid jobId, int index])
        {
            LogForeignJob(fetched.JobId);
            _transitions.DropStale(fetched, fetched.JobId);
            return (null, false);
        }

        TaskWithJob found;
        using (LeasePathProfile.Start("lease: farm reads (task, job, provider tally)"))
        {
            found = await _store.GetTaskWithJobAsync(jobId, index, provider, cancellationToken);
        }

        (TaskRecord? task, JobRecord? job) = (found.Task, found.Job);

        if (task is null || job is null || task.HangfireJobId != fetched.JobId
            || task.State != FarmTaskState.Queued || job.State is not (JobState.Queued or JobState.Running))
        {
            // A Hangfire job its task record does not name (a split retried after a crash), or a task
            // that ended while its Hangfire job was queued.
            _transitions.DropStale(fetched, task?.HangfireJobId);
            return (null, false);
        }

        if (job.Paused)
        {
            // An entry left in the queue when the job was paused (or enqueued just after): dropped, not put back, so a
            // paused job never sits at the head of its queue in front of other jobs' work. The resume enqueues it again.
            _transitions.PauseFetched(fetched, task);
            return (null, false);
        }

        if (_sanctions.IsBlocked(found.Tally))
        {
            return (null, true);
        }

        if (TooLarge(job, device) is { } refusal)
        {
            // Left in its queue for a provider whose device holds it; this one is told why.
            notLeased(refusal);
            return (null, true);
        }

        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset expires = now + _options.LeaseDuration;
        string leaseId = _leaseIds.Create(jobId, index);
        if (await _transitions.LeaseAsync(fetched, task, provider, leaseId, now, expires, cancellationToken) is null)
        {
            return (null, false);
        }

        LogLeased(jobId, index, provider, leaseId);
        using (LeasePathProfile.Start("lease: grant (presigned URLs)"))
        {
            return (_grants.Grant(job, task.Index, task.FirstFrame, task.LastFrame, leaseId, expires), false);
        }
    }

    /// <summary>
    /// Why a render job's scene cannot be rendered on <paramref name="device"/>, in one line, or null when it fits or either
    /// side is not known (a job submitted before footprints were recorded, a provider that advertises no limits).
    /// </summary>
    internal static string? TooLarge(JobRecord job, LeaseDevice? device) =>
        device is not null && job.Spec.Inference is null && job.Spec.SceneFootprint is { } footprint
            ? footprint.Refusal((ulong)device.MaxStorageBufferRange, (ulong)device.DeviceLocalMemoryBytes, "this provider's device", job.Spec.SceneFileName)
            : null;

    // The task as read when this lease already completed it, or null.
    private static TaskRecord? CompletedBy(TaskRecord? task, string provider, string leaseId) =>
        task is not null
            && task.LeaseId == leaseId
            && string.Equals(task.Provider, provider, StringComparison.OrdinalIgnoreCase)
            && task.State is FarmTaskState.Succeeded or FarmTaskState.Verifying
            ? task
            : null;

    // The lease's task and job, checked to be the provider's live lease; read together unless the caller just did.
    private async Task<(TaskRecord Task, JobRecord Job)> GetLeaseAsync(string provider, string leaseId, CancellationToken cancellationToken, TaskWithJob? read = null)
    {
        if (!_leaseIds.TryParse(leaseId, out Guid jobId, out int index))
        {
            throw new CoordinatorException(404, $"'{leaseId}' is not a lease id this coordinator issued.");
        }

        (TaskRecord? task, JobRecord? job, _) = read ?? await _store.GetTaskWithJobAsync(jobId, index, cancellationToken: cancellationToken);
        if (task is null || job is null)
        {
            throw new CoordinatorException(404, $"Lease {leaseId} names a task that does not exist.");
        }

        if (task.LeaseId != leaseId)
        {
            throw new CoordinatorException(409, $"Lease {leaseId} was lost: the task was put back or leased again.");
        }

        if (!string.Equals(task.Provider, provider, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(403, $"Lease {leaseId} belongs to another provider.");
        }

        if (task.State != FarmTaskState.Leased)
        {
            throw new CoordinatorException(409, $"Lease {leaseId} has ended: the task is {task.State}.");
        }

        return (task, job);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskIndex} of job {JobId} leased to {Provider} as {LeaseId}.")]
    private partial void LogLeased(Guid jobId, int taskIndex, string provider, string leaseId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the accepted upload of frame {Frame} could not be deleted and stays in storage: {Reason}")]
    private partial void LogUploadKept(Guid jobId, int frame, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskIndex} of job {JobId} completed by {Provider}.")]
    private partial void LogCompleted(Guid jobId, int taskIndex, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hangfire job {HangfireJobId} could not be put back in its queue: {Reason}")]
    private partial void LogPutBackFailed(string hangfireJobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hangfire job {HangfireJobId} in a provider queue is not a frame task; dropped.")]
    private partial void LogForeignJob(string hangfireJobId);
}

/// <summary>An uploaded output whose content is not what its task asked for; the message says why in one line.</summary>
internal sealed class OutputRefusedException(string message) : Exception(message);

/// <summary>The exception a frame task's Hangfire <see cref="Hangfire.States.FailedState"/> records.</summary>
internal sealed class FrameTaskFailedException(string message) : Exception(message);
