using Hangfire.Storage;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>Leasing a check to a validator: grants, heartbeats, releases and lapsed leases put back on the queue.</summary>
internal sealed partial class SpotChecks
{
    /// <summary>Leases a fetched check to <paramref name="provider"/>, or says to hold it back for someone else.</summary>
    public async Task<(LeaseGrant? Grant, bool PutBack)> TryLeaseCheckAsync(
        IFetchedJob fetched, string provider, Guid jobId, int index, int number, CancellationToken cancellationToken)
    {
        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        SpotCheckRecord? check = task?.Checks.FirstOrDefault(c => c.Number == number);
        if (task is null || job is null || check is null || task.State != Arbitration.CheckedTaskState(check)
            || check.State != SpotCheckState.Queued || job.State != JobState.Running)
        {
            _transitions.DropStale(fetched, check?.HangfireJobId);
            return (null, false);
        }

        // Never the frame's own provider, never a provider that already checked this output, never a blocked one:
        // held back for someone else.
        if (!Arbitration.MayValidate(task, check, provider) || await _sanctions.IsBlockedAsync(jobId, provider, cancellationToken))
        {
            return (null, true);
        }

        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset expires = now + _options.LeaseDuration;
        string leaseId = _leaseIds.CreateCheck(jobId, index, number);
        if (await _transitions.LeaseCheckAsync(
            fetched, task, check, provider, leaseId, now, expires,
            (t, c) => t.State == Arbitration.CheckedTaskState(c) && c.State == SpotCheckState.Queued,
            cancellationToken) is not { } leased)
        {
            return (null, false);
        }

        (task, check) = leased;
        LogCheckLeased(jobId, index, number, check.Frame, provider);
        if (check.WholeFrame)
        {
            // Granted like a one-frame render task: render the frame, upload it, report it. A whole frame may be far
            // larger than a request body, so it travels through a presigned PUT to a key of this lease alone.
            return (_grants.Grant(job, task.Index, check.Frame, check.Frame, leaseId, expires), false);
        }

        return (_grants.Validation(job, task.Index, check, leaseId, expires), false);
    }


    private async Task<(TaskRecord Task, JobRecord Job, SpotCheckRecord Check)> GetCheckLeaseAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (!_leaseIds.TryParse(leaseId, out Guid jobId, out int index, out int number) || number == 0)
        {
            throw new CoordinatorException(404, $"'{leaseId}' is not a spot-check lease id this coordinator issued.");
        }

        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        SpotCheckRecord? check = task?.Checks.FirstOrDefault(c => c.Number == number);
        if (task is null || job is null || check is null)
        {
            throw new CoordinatorException(404, $"Lease {leaseId} names a spot check that does not exist.");
        }

        if (check.LeaseId != leaseId)
        {
            throw new CoordinatorException(409, $"Lease {leaseId} was lost: the spot check was put back or leased again.");
        }

        if (!string.Equals(check.Validator, provider, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(403, $"Lease {leaseId} belongs to another provider.");
        }

        if (check.State != SpotCheckState.Leased || task.State != Arbitration.CheckedTaskState(check))
        {
            throw new CoordinatorException(409, $"Lease {leaseId} has ended: the spot check is {check.State}.");
        }

        return (task, job, check);
    }

    public async Task<HeartbeatResponse> HeartbeatCheckAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        while (true)
        {
            (TaskRecord task, _, SpotCheckRecord check) = await GetCheckLeaseAsync(provider, leaseId, cancellationToken);
            DateTimeOffset expires = _time.GetUtcNow() + _options.LeaseDuration;
            if (await _transitions.ExtendCheckAsync(task, check, expires, cancellationToken))
            {
                _presence.Touch(provider);
                return new HeartbeatResponse(expires);
            }
        }
    }

    public async Task ReleaseCheckAsync(string provider, string leaseId, string reason, CancellationToken cancellationToken)
    {
        while (true)
        {
            (TaskRecord task, JobRecord job, SpotCheckRecord check) = await GetCheckLeaseAsync(provider, leaseId, cancellationToken);
            if (await RequeueCheckAsync(job, task, check, reason, cancellationToken))
            {
                return;
            }
        }
    }

    private Task<bool> RequeueCheckAsync(JobRecord job, TaskRecord task, SpotCheckRecord check, string reason, CancellationToken cancellationToken) =>
        _transitions.RequeueCheckAsync(task, check, Canaries.QueueOf(job, check), reason, cancellationToken);

    public async Task<int> ExpireLapsedChecksAsync(JobRecord job, TaskRecord task, CancellationToken cancellationToken)
    {
        int expired = 0;
        foreach (SpotCheckRecord check in task.Checks)
        {
            if (check.State == SpotCheckState.Leased && check.LeaseExpiresAt <= _time.GetUtcNow())
            {
                TaskRecord? current = await _store.GetTaskAsync(task.JobId, task.Index, cancellationToken);
                SpotCheckRecord? now = current?.Checks.FirstOrDefault(c => c.Number == check.Number);
                if (current is not null && now is not null && now.LeaseId == check.LeaseId && now.State == SpotCheckState.Leased
                    && await RequeueCheckAsync(job, current, now, $"Lease of {check.Validator} lapsed", cancellationToken))
                {
                    expired++;
                }
            }
        }

        return expired;
    }
}
