using Hangfire.Storage;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>The transitions of a task's spot checks and canaries: created, leased, extended, requeued, finished, cancelled.</summary>
internal sealed partial class TaskTransitions
{
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
                Mirror(task.JobId, task.Index, "mark the check's Hangfire job leased", () => _queue.MarkLeased(fetched.JobId, new LeasedState(provider, leaseId, now, expires), null));
                RemoveEntry(fetched);
                return (updated with { Version = updated.Version + 1 }, leased);
            }

            TaskRecord? current = await _store.GetTaskAsync(task.JobId, task.Index, cancellationToken);
            SpotCheckRecord? reloaded = current?.Checks.FirstOrDefault(c => c.Number == check.Number);
            if (current is null || reloaded is null || !stillOpen(current, reloaded))
            {
                DropStale(fetched, reloaded?.HangfireJobId ?? fetched.JobId);
                return null;
            }

            (task, check) = (current, reloaded);
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
        if (check.HangfireJobId is { } hangfireJobId)
        {
            Mirror(task.JobId, task.Index, "enqueue the check's Hangfire job", () => _queue.Enqueue(hangfireJobId, queue, reason));
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

        if (check.HangfireJobId is { } hangfireJobId)
        {
            Mirror(updated.JobId, updated.Index, "mark the check's Hangfire job succeeded", () => _queue.MarkSucceeded(hangfireJobId, 0));
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
            foreach (string extension in (string[])[".png", ".exr", ".npy", ".npz"])
            {
                await _objects.DeleteAsync(FarmKeys.Upload(task.JobId, check.Frame, check.LeaseId, extension), cancellationToken);
            }
        }
    }

    private void DeleteOpenCheckJobs(IReadOnlyList<SpotCheckRecord> checks)
    {
        foreach (SpotCheckRecord check in checks)
        {
            if (check.State is SpotCheckState.Queued or SpotCheckState.Leased && check.HangfireJobId is { } hangfireJobId)
            {
                Mirror(Guid.Empty, check.Number, "delete a check's Hangfire job", () => _queue.Delete(hangfireJobId));
            }
        }
    }
}
