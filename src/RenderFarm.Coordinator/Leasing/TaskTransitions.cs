using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
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
/// Hangfire entry waiting in its queue; a Leased one has a live lease; nothing else holds an entry.
/// </remarks>
internal sealed partial class TaskTransitions
{
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

    /// <summary>Drops a fetched entry whose task or check no longer wants it (ended, or named another Hangfire job).</summary>
    public void DropStale(IFetchedJob fetched)
    {
        _queue.Delete(fetched.JobId);
        _queue.Remove(fetched);
    }

    /// <summary>Queued → Leased for a fetched task.</summary>
    /// <returns>The leased record, or null when the task was taken or ended meanwhile (the entry is then removed).</returns>
    public async Task<TaskRecord?> LeaseAsync(
        IFetchedJob fetched, TaskRecord task, string provider, string leaseId, DateTimeOffset now, DateTimeOffset expires, CancellationToken cancellationToken)
    {
        if (!_queue.MarkLeased(fetched.JobId, new LeasedState(provider, leaseId, now, expires), EnqueuedState.StateName))
        {
            // No longer Enqueued (deleted by a cancellation): the queue entry is stale.
            _queue.Remove(fetched);
            return null;
        }

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
            if (await _store.TryUpdateTaskAsync(leased, cancellationToken))
            {
                _queue.Remove(fetched);
                return leased;
            }

            TaskRecord? current = await _store.GetTaskAsync(task.JobId, task.Index, cancellationToken);
            if (current?.State != FarmTaskState.Queued)
            {
                _queue.Delete(fetched.JobId, LeasedState.StateName);
                _queue.Remove(fetched);
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
        _queue.MarkLeased(task.HangfireJobId!, new LeasedState(provider, task.LeaseId!, task.StartedAt ?? expires, expires), LeasedState.StateName);
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
        if (!await _store.TryUpdateTaskAsync(succeeded, cancellationToken))
        {
            return null;
        }

        long milliseconds = (long)(now - (task.StartedAt ?? now)).TotalMilliseconds;
        _queue.MarkSucceeded(task.HangfireJobId!, milliseconds);
        return succeeded;
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
            _queue.Enqueue(task.HangfireJobId!, FarmQueues.For(job.Spec), reason, LeasedState.StateName);
            return true;
        }

        string error = $"Task {task.Index} (frames {task.FirstFrame}-{task.LastFrame}) failed on {failed.Count} providers ({failures.Count(f => f.Standing)} with standing); last: {reason}";
        _queue.MarkFailed(task.HangfireJobId!, error);
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
        _queue.Enqueue(task.HangfireJobId!, FarmQueues.For(job.Spec), reason);
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
                    if (task.HangfireJobId is not null)
                    {
                        // Deleted from any state; a stale queue entry is dropped when a lease fetches it.
                        _queue.Delete(task.HangfireJobId);
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
        // Every completion looks after its own update, so the last of two racing ones sees both.
        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(jobId, cancellationToken);
        if (tasks.Count > 0 && tasks.All(t => t.State == FarmTaskState.Succeeded)
            && await _store.TryUpdateJobStateAsync(jobId, JobState.Running, JobState.Completed, null, cancellationToken))
        {
            LogJobCompleted(jobId);
            await CancelOpenCanariesAsync(jobId, "The job completed before the canary was answered.", cancellationToken);
            _queue.EnqueueSettlement(jobId);
        }
    }

    /// <summary>Running → Failed: every other task stops and the job is settled.</summary>
    public async Task FailJobAsync(Guid jobId, string error, CancellationToken cancellationToken)
    {
        if (await _store.TryUpdateJobStateAsync(jobId, JobState.Running, JobState.Failed, error, cancellationToken))
        {
            LogJobFailed(jobId, error);
            await StopTasksAsync(jobId, "The job failed.", cancellationToken);
            _queue.EnqueueSettlement(jobId);
        }
    }

    /// <summary>
    /// New checks of a task's output: one Hangfire job each on <paramref name="queueOf"/>'s queue, whose id is then
    /// recorded on the check (best effort: a lease identifies a check by its arguments and records the id it fetched).
    /// </summary>
    public async Task CreateChecksAsync(Guid jobId, int index, IReadOnlyList<SpotCheckRecord> checks, Func<SpotCheckRecord, string> queueOf, CancellationToken cancellationToken)
    {
        foreach (SpotCheckRecord check in checks)
        {
            int number = check.Number;
            string hangfireJobId = _queue.CreateCheck(jobId, index, number, queueOf(check));
            for (int attempt = 0; attempt < 5; attempt++)
            {
                TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
                SpotCheckRecord? current = task?.Checks.FirstOrDefault(c => c.Number == number);
                if (task is null || current is null || current.HangfireJobId is not null
                    || await _store.TryUpdateTaskAsync(task with { Checks = Arbitration.Replace(task.Checks, current with { HangfireJobId = hangfireJobId }) }, cancellationToken))
                {
                    break;
                }
            }
        }
    }

    /// <summary>Queued → Leased for a fetched check.</summary>
    /// <param name="fetched">The fetched entry.</param>
    /// <param name="task">The checked task as read.</param>
    /// <param name="check">The check as read.</param>
    /// <param name="provider">The validator.</param>
    /// <param name="leaseId">The check's lease id.</param>
    /// <param name="now">Now.</param>
    /// <param name="expires">The lease's end.</param>
    /// <param name="stillOpen">Whether a reloaded task and check may still be leased.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The task and check as leased, or null when the check was taken or ended meanwhile (the entry is then removed).</returns>
    public async Task<(TaskRecord Task, SpotCheckRecord Check)?> LeaseCheckAsync(
        IFetchedJob fetched,
        TaskRecord task,
        SpotCheckRecord check,
        string provider,
        string leaseId,
        DateTimeOffset now,
        DateTimeOffset expires,
        Func<TaskRecord, SpotCheckRecord, bool> stillOpen,
        CancellationToken cancellationToken)
    {
        if (!_queue.MarkLeased(fetched.JobId, new LeasedState(provider, leaseId, now, expires), EnqueuedState.StateName))
        {
            _queue.Remove(fetched);
            return null;
        }

        while (true)
        {
            SpotCheckRecord leased = check with
            {
                State = SpotCheckState.Leased,
                Validator = provider,
                LeaseId = leaseId,
                LeaseExpiresAt = expires,
                HangfireJobId = fetched.JobId,
            };
            TaskRecord updated = task with { Checks = Arbitration.Replace(task.Checks, leased) };
            if (await _store.TryUpdateTaskAsync(updated, cancellationToken))
            {
                _queue.Remove(fetched);
                return (updated, leased);
            }

            TaskRecord? current = await _store.GetTaskAsync(task.JobId, task.Index, cancellationToken);
            SpotCheckRecord? now2 = current?.Checks.FirstOrDefault(c => c.Number == check.Number);
            if (current is null || now2 is null || !stillOpen(current, now2))
            {
                _queue.Delete(fetched.JobId, LeasedState.StateName);
                _queue.Remove(fetched);
                return null;
            }

            (task, check) = (current, now2);
        }
    }

    /// <summary>A leased check's lease, extended.</summary>
    public Task<bool> ExtendCheckAsync(TaskRecord task, SpotCheckRecord check, DateTimeOffset expires, CancellationToken cancellationToken) =>
        _store.TryUpdateTaskAsync(task with { Checks = Arbitration.Replace(task.Checks, check with { LeaseExpiresAt = expires }) }, cancellationToken);

    /// <summary>Leased → Queued for a check; whatever its lease uploaded goes.</summary>
    /// <returns>False when another update came first.</returns>
    public async Task<bool> RequeueCheckAsync(TaskRecord task, SpotCheckRecord check, string queue, string reason, CancellationToken cancellationToken)
    {
        SpotCheckRecord queued = check with { State = SpotCheckState.Queued, LeaseId = null, LeaseExpiresAt = null, Verdict = reason };
        if (!await _store.TryUpdateTaskAsync(task with { Checks = Arbitration.Replace(task.Checks, queued) }, cancellationToken))
        {
            return false;
        }

        await DeleteCheckUploadAsync(task, check, cancellationToken);
        if (check.HangfireJobId is not null)
        {
            _queue.Enqueue(check.HangfireJobId, queue, reason, LeasedState.StateName);
        }

        return true;
    }

    /// <summary>Leased → Passed, Failed or Cancelled for a judged check: stores <paramref name="updated"/> (the task with the judged check and whatever the verdict changed).</summary>
    /// <returns>False when another update came first.</returns>
    public async Task<bool> FinishCheckAsync(TaskRecord updated, SpotCheckRecord check, CancellationToken cancellationToken)
    {
        if (!await _store.TryUpdateTaskAsync(updated, cancellationToken))
        {
            return false;
        }

        if (check.HangfireJobId is not null)
        {
            _queue.MarkSucceeded(check.HangfireJobId, 0);
        }

        return true;
    }

    /// <summary>Canaries still open when the job ends are cancelled: they never hold up a job or its settlement.</summary>
    public async Task CancelOpenCanariesAsync(Guid jobId, string reason, CancellationToken cancellationToken)
    {
        foreach (TaskRecord listed in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            for (TaskRecord? task = listed;
                task is not null && task.Checks.Any(c => c.Canary && c.State is SpotCheckState.Queued or SpotCheckState.Leased);
                task = await _store.GetTaskAsync(jobId, listed.Index, cancellationToken))
            {
                if (await _store.TryUpdateTaskAsync(task with { Checks = Arbitration.CancelOpenChecks(task.Checks, _time.GetUtcNow(), reason) }, cancellationToken))
                {
                    DeleteOpenCheckJobs(task.Checks);
                    foreach (SpotCheckRecord leased in task.Checks.Where(c => c.Canary && c.State == SpotCheckState.Leased))
                    {
                        await DeleteCheckUploadAsync(task, leased, cancellationToken);
                    }

                    break;
                }
            }
        }
    }

    // Whatever an ended whole-output lease uploaded is of no use now.
    private async Task DeleteCheckUploadAsync(TaskRecord task, SpotCheckRecord check, CancellationToken cancellationToken)
    {
        if (check.WholeFrame && check.LeaseId is not null)
        {
            foreach (string extension in (string[])[".png", ".npy"])
            {
                await _objects.DeleteAsync(FarmKeys.Upload(task.JobId, check.Frame, check.LeaseId, extension), cancellationToken);
            }
        }
    }

    private void DeleteOpenCheckJobs(IReadOnlyList<SpotCheckRecord> checks)
    {
        foreach (SpotCheckRecord check in checks)
        {
            if (check.State is SpotCheckState.Queued or SpotCheckState.Leased && check.HangfireJobId is not null)
            {
                _queue.Delete(check.HangfireJobId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: {Error}")]
    private partial void LogJobFailed(Guid jobId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed.")]
    private partial void LogJobCompleted(Guid jobId);
}
