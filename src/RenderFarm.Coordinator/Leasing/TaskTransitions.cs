using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Storage;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The one place that changes a task: every move of a task or of one of its checks between Queued, Leased and
/// Done/Failed writes the farm record (optimistically, by version) and the Hangfire state that mirrors it, together.
/// The farm record decides: a transition whose record update loses a race changes nothing in Hangfire.
/// </summary>
/// <remarks>
/// The invariant kept here and repaired by <see cref="Jobs.FarmMaintenance"/>: a Queued task (or check) has exactly one
/// Hangfire entry waiting in its queue; a Leased one has a live lease; nothing else holds an entry. A paused job's
/// Queued tasks are parked instead: their Hangfire jobs are <see cref="PausedState"/>, with no entry waiting.
/// </remarks>
internal sealed partial class TaskTransitions
{
    /// <summary>The error recorded on the tasks that a job's failure stopped.</summary>
    public const string JobFailedReason = "The job failed.";

    private readonly IFarmStore _store;
    private readonly IWorkQueue _queue;
    private readonly IObjectStore _objects;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly ProviderStanding _standing;
    private readonly ILogger _logger;

    public TaskTransitions(
        IFarmStore store, IWorkQueue queue, IObjectStore objects, TimeProvider time, CoordinatorOptions options, ProviderStanding standing, ILogger logger)
    {
        _store = store;
        _queue = queue;
        _objects = objects;
        _time = time;
        _options = options;
        _standing = standing;
        _logger = logger;
    }

    /// <summary>The work queue the transitions mirror their records to.</summary>
    public IWorkQueue Queue => _queue;

    /// <summary>
    /// Removes a fetched entry that no task or check may take now (ended, taken through another entry, or named by no
    /// record). Its Hangfire job is deleted only when no record names it: a live record's job keeps mirroring it.
    /// </summary>
    /// <param name="fetched">The entry.</param>
    /// <param name="owner">The Hangfire job id the record names (the task's or the check's), or null.</param>
    public void DropStale(IFetchedJob fetched, string? owner)
    {
        if (owner != fetched.JobId)
        {
            Mirror(Guid.Empty, -1, "delete an orphan Hangfire job", () => _queue.Delete(fetched.JobId));
        }

        RemoveEntry(fetched);
    }

    /// <summary>
    /// Queued → Leased for a fetched task. The record is written first and decides; the Hangfire state follows and the
    /// entry is removed, both best effort (an entry left behind is dropped by the next fetch, a state by the sweep).
    /// </summary>
    /// <returns>The leased record, or null when the task was taken or ended meanwhile (the entry is then removed).</returns>
    public async Task<TaskRecord?> LeaseAsync(
        IFetchedJob fetched, TaskRecord task, string provider, string leaseId, DateTimeOffset now, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        while (true)
        {
            TaskRecord leased = task with
            {
                State = FarmTaskState.Leased,
                LeaseId = leaseId,
                Provider = provider,
                LeaseExpiresAt = expires,
                Attempts = task.Attempts + 1,
                StartedAt = now,
                FinishedAt = null,
            };
            bool stored;
            try
            {
                using (LeasePathProfile.Start("lease: farm task update"))
                {
                    stored = await _store.TryUpdateTaskAsync(leased, cancellationToken);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The write may have applied although it failed: a lease nobody was granted must not lapse against the
                // provider, so it is taken back uncharged. The entry goes back to the queue when the caller disposes it.
                await UndoLeaseAsync(task.JobId, task.Index, leaseId, cancellationToken);
                throw;
            }

            if (stored)
            {
                using (LeasePathProfile.Start("lease: Hangfire state Leased"))
                {
                    Mirror(task.JobId, task.Index, "mark the Hangfire job leased", () => _queue.MarkLeased(fetched.JobId, new LeasedState(provider, leaseId, now, expires), null));
                }

                using (LeasePathProfile.Start("lease: remove queue entry"))
                {
                    RemoveEntry(fetched);
                }

                return leased with { Version = leased.Version + 1 };
            }

            TaskRecord? current = await _store.GetTaskAsync(task.JobId, task.Index, cancellationToken);
            if (current is not { State: FarmTaskState.Queued } || current.HangfireJobId != fetched.JobId)
            {
                DropStale(fetched, current?.HangfireJobId);
                return null;
            }

            task = current;
        }
    }

    /// <summary>Leased → Leased with a later end.</summary>
    public async Task<bool> ExtendLeaseAsync(TaskRecord task, string provider, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        if (!await _store.TryUpdateTaskAsync(task with { LeaseExpiresAt = expires }, cancellationToken))
        {
            return false;
        }

        // Leased → Leased keeps the dashboard's view of the lease current (one history entry per heartbeat).
        Mirror(task.JobId, task.Index, "extend the Hangfire lease", () => _queue.MarkLeased(
            task.HangfireJobId!, new LeasedState(provider, task.LeaseId!, task.StartedAt ?? expires, expires), null));
        return true;
    }

    /// <summary>Leased → Verifying (when <paramref name="checks"/> are planned) or Succeeded, with the accepted outputs.</summary>
    /// <returns>The stored record, or null when another update came first.</returns>
    public async Task<TaskRecord?> CompleteAsync(
        TaskRecord task, IReadOnlyList<FrameOutput> outputs, IReadOnlyList<SpotCheckRecord> checks, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        TaskRecord succeeded = task with
        {
            State = checks.Count > 0 ? FarmTaskState.Verifying : FarmTaskState.Succeeded,
            Outputs = outputs,
            Checks = [.. task.Checks, .. checks],
            LeaseExpiresAt = null,
            FinishedAt = checks.Count > 0 ? null : now,
            Error = null,
        };
        using (LeasePathProfile.Start("complete: farm task update"))
        {
            if (!await _store.TryUpdateTaskAsync(succeeded, cancellationToken))
            {
                return null;
            }
        }

        long milliseconds = (long)(now - (task.StartedAt ?? now)).TotalMilliseconds;
        using (LeasePathProfile.Start("complete: Hangfire state Succeeded"))
        {
            Mirror(task.JobId, task.Index, "mark the Hangfire job succeeded", () => _queue.MarkSucceeded(task.HangfireJobId!, milliseconds));
        }

        return succeeded with { Version = succeeded.Version + 1 };
    }

    /// <summary>
    /// Leased → Queued, or → Failed (and the job with it) once enough distinct providers with standing failed the task
    /// (or very many of any standing; see <see cref="TaskFailurePolicy"/>).
    /// </summary>
    /// <returns>False when another update came first; the caller reloads and decides again.</returns>
    public async Task<bool> ReleaseAsync(
        TaskRecord task, JobRecord job, string? failedBy, string reason, CancellationToken cancellationToken, string? origin = null)
    {
        IReadOnlyList<string> failed = failedBy is null || task.FailedBy.Contains(failedBy, StringComparer.OrdinalIgnoreCase)
            ? task.FailedBy
            : [.. task.FailedBy, failedBy];
        IReadOnlyList<TaskFailure> failures = failedBy is null
            ? task.Failures
            : TaskFailurePolicy.Record(task.Failures, failedBy, reason, _time.GetUtcNow(), await _standing.HasStandingAsync(failedBy, cancellationToken), origin);
        bool exhausted = TaskFailurePolicy.IsExhausted(failed, failures, _options.MaxFailuresPerTask, _standing.Limits.MaxFailingProvidersPerTask);
        TaskRecord released = task with
        {
            State = exhausted ? FarmTaskState.Failed : FarmTaskState.Queued,
            LeaseId = null,
            LeaseExpiresAt = null,
            FailedBy = failed,
            Failures = failures,
            Error = failedBy is null ? task.Error : reason,
            FinishedAt = exhausted ? _time.GetUtcNow() : null,
        };
        if (!await _store.TryUpdateTaskAsync(released, cancellationToken))
        {
            return false;
        }

        if (!exhausted)
        {
            await EnqueueAsync(released with { Version = released.Version + 1 }, job, reason, cancellationToken);
            return true;
        }

        string error = $"Task {task.Index} (frames {task.FirstFrame}-{task.LastFrame}) failed on {failed.Count} providers ({failures.Count(f => f.Standing)} with standing); last: {reason}";
        Mirror(task.JobId, task.Index, "mark the Hangfire job failed", () => _queue.MarkFailed(task.HangfireJobId!, error));
        await FailJobAsync(job.Id, error, cancellationToken);
        return true;
    }

    /// <summary>Verifying, Succeeded or Leased → Queued: the task's output is thrown away and it is done again elsewhere.</summary>
    /// <param name="task">The task as read.</param>
    /// <param name="job">Its job.</param>
    /// <param name="redo">The record to store: state Queued, outputs and provider cleared.</param>
    /// <param name="reason">Why, for the Hangfire history.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>False when another update came first.</returns>
    public async Task<bool> RedoAsync(TaskRecord task, JobRecord job, TaskRecord redo, string? reason, CancellationToken cancellationToken)
    {
        if (redo.State != FarmTaskState.Queued || !await _store.TryUpdateTaskAsync(redo, cancellationToken))
        {
            return false;
        }

        DeleteOpenCheckJobs(task.Checks);
        await EnqueueAsync(redo with { Version = redo.Version + 1 }, job, reason, cancellationToken);
        return true;
    }

    /// <summary>Ends every unfinished task and open canary of a job (cancelled or failed) and deletes their queued Hangfire jobs.</summary>
    public async Task StopTasksAsync(Guid jobId, string reason, CancellationToken cancellationToken)
    {
        foreach (TaskRecord listed in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            for (TaskRecord? task = listed; task is { State: FarmTaskState.Queued or FarmTaskState.Leased or FarmTaskState.Verifying }; task = await _store.GetTaskAsync(jobId, listed.Index, cancellationToken))
            {
                TaskRecord cancelled = task with
                {
                    State = FarmTaskState.Cancelled,
                    FinishedAt = _time.GetUtcNow(),
                    Error = reason,
                    LeaseExpiresAt = null,
                    Checks = Arbitration.CancelOpenChecks(task.Checks, _time.GetUtcNow(), reason),
                };
                if (await _store.TryUpdateTaskAsync(cancelled, cancellationToken))
                {
                    DeleteOpenCheckJobs(task.Checks);
                    if (task.HangfireJobId is { } hangfireJobId)
                    {
                        // Deleted from any state; a stale queue entry is dropped when a lease fetches it.
                        Mirror(task.JobId, task.Index, "delete the Hangfire job", () => _queue.Delete(hangfireJobId));
                    }

                    break;
                }
            }
        }

        await CancelOpenCanariesAsync(jobId, reason, cancellationToken);
    }

    /// <summary>Running → Completed once every task succeeded; settles it.</summary>
    public async Task TryCompleteJobAsync(Guid jobId, CancellationToken cancellationToken)
    {
        // Every completion looks after its own update, so the last of two racing ones sees both; the store counts the
        // job's unfinished tasks with every task write, so this is one lookup, not a read of every task.
        JobTally tally = await _store.GetJobTallyAsync(jobId, cancellationToken);
        if (tally.Tasks > 0 && tally.Unfinished == 0
            && await _store.TryUpdateJobStateAsync(jobId, JobState.Running, JobState.Completed, null, cancellationToken))
        {
            LogJobCompleted(jobId);
            await CancelOpenCanariesAsync(jobId, "The job completed before the canary was answered.", cancellationToken);
            RequestSettlement(jobId);
        }
    }

    /// <summary>Running → Failed: every other task stops and the job is settled.</summary>
    public async Task FailJobAsync(Guid jobId, string error, CancellationToken cancellationToken)
    {
        if (await _store.TryUpdateJobStateAsync(jobId, JobState.Running, JobState.Failed, error, cancellationToken))
        {
            LogJobFailed(jobId, error);
            await StopTasksAsync(jobId, JobFailedReason, cancellationToken);
            RequestSettlement(jobId);
        }
    }

    /// <summary>
    /// Enqueues the settlement of an ended job. Best effort: settlement is idempotent, and the maintenance sweep requests
    /// it again for an ended job that stays unsettled (see <see cref="LeaseService.ExpireLapsedLeasesAsync"/>).
    /// </summary>
    public void RequestSettlement(Guid jobId) => Mirror(jobId, -1, "enqueue the job's settlement", () => _queue.EnqueueSettlement(jobId));

    /// <summary>
    /// Puts a task's stored Queued record in its queue: one entry for its Hangfire job, or, when that job is gone (expired
    /// after a day in a final state), a new one linked to the record first. A paused job's task is parked instead
    /// (<see cref="PausedState"/>): no entry waits for it until the job is resumed. Best effort: the sweep repairs what
    /// fails.
    /// </summary>
    public async Task EnqueueAsync(TaskRecord queued, JobRecord job, string? reason, CancellationToken cancellationToken)
    {
        bool? enqueued = null;
        if (job.Paused)
        {
            Mirror(queued.JobId, queued.Index, "pause the Hangfire job", () => enqueued = _queue.Pause(queued.HangfireJobId!, null));
        }
        else
        {
            Mirror(queued.JobId, queued.Index, "enqueue the Hangfire job", () => enqueued = _queue.Enqueue(queued.HangfireJobId!, FarmQueues.For(job.Spec), reason));
        }

        if (enqueued == false)
        {
            await RelinkAsync(queued, job, cancellationToken);
        }
    }

    /// <summary>
    /// Drops a fetched entry of a paused job's Queued task: its Hangfire job leaves Enqueued (<see cref="PausedState"/>)
    /// and the entry is removed, not put back, so it neither waits at the head of its queue nor hides other jobs' work.
    /// </summary>
    public void PauseFetched(IFetchedJob fetched, TaskRecord task)
    {
        Mirror(task.JobId, task.Index, "pause the Hangfire job", () => _queue.Pause(fetched.JobId, EnqueuedState.StateName));
        RemoveEntry(fetched);
    }

    /// <summary>Gives a Queued task whose Hangfire job is gone a new one: created outside any queue, linked to the record, then enqueued.</summary>
    /// <returns>Whether the task is now linked and enqueued.</returns>
    public async Task<bool> RelinkAsync(TaskRecord queued, JobRecord job, CancellationToken cancellationToken)
    {
        string hangfireJobId = _queue.CreateTask(queued.JobId, queued.Index);
        for (TaskRecord? task = queued; task is { State: FarmTaskState.Queued }; task = await _store.GetTaskAsync(queued.JobId, queued.Index, cancellationToken))
        {
            if (task.HangfireJobId != queued.HangfireJobId)
            {
                break;
            }

            if (await _store.TryUpdateTaskAsync(task with { HangfireJobId = hangfireJobId }, cancellationToken))
            {
                LogRelinked(queued.JobId, queued.Index, queued.HangfireJobId, hangfireJobId);
                return job.Paused
                    ? _queue.Pause(hangfireJobId, PreparedState.StateName)
                    : _queue.Enqueue(hangfireJobId, FarmQueues.For(job.Spec), "Its previous Hangfire job was gone", PreparedState.StateName);
            }
        }

        _queue.Delete(hangfireJobId);
        return false;
    }

    // Takes back a lease whose grant failed: back to Queued, uncharged. The Hangfire job was not marked yet and its entry
    // goes back to the queue, so nothing is enqueued here. Best effort: the store may be what failed.
    private async Task UndoLeaseAsync(Guid jobId, int index, string leaseId, CancellationToken cancellationToken)
    {
        try
        {
            for (TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
                task is { State: FarmTaskState.Leased } && task.LeaseId == leaseId;
                task = await _store.GetTaskAsync(jobId, index, cancellationToken))
            {
                if (await _store.TryUpdateTaskAsync(task with { State = FarmTaskState.Queued, LeaseId = null, LeaseExpiresAt = null, Provider = null }, cancellationToken))
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogMirrorFailed(jobId, index, "take back a lease whose grant failed", ex.Message);
        }
    }

    // Removes a fetched entry; when that fails the entry goes back to the queue on dispose and the next fetch drops it.
    private void RemoveEntry(IFetchedJob fetched) => Mirror(Guid.Empty, -1, "remove a fetched queue entry", () => _queue.Remove(fetched));

    /// <summary>
    /// A Hangfire write after the record it mirrors was stored: the record has decided, so a failure here never fails the
    /// caller's call; the maintenance sweep repairs what it left (see <see cref="Jobs.FarmMaintenance"/>).
    /// </summary>
    public void Mirror(Guid jobId, int index, string what, Action write)
    {
        try
        {
            write();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogMirrorFailed(jobId, index, what, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskIndex} of job {JobId}: could not {What}; the maintenance sweep repairs it: {Reason}")]
    private partial void LogMirrorFailed(Guid jobId, int taskIndex, string what, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskIndex} of job {JobId}: Hangfire job {Old} was gone; linked to new job {New}.")]
    private partial void LogRelinked(Guid jobId, int taskIndex, string? old, string @new);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: {Error}")]
    private partial void LogJobFailed(Guid jobId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed.")]
    private partial void LogJobCompleted(Guid jobId);
}
