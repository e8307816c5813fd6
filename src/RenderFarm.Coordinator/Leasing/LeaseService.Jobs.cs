using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>The lease API's work on whole jobs: leases past their end, lapsed checks, unsettled jobs, and a job's pause, resume, requeue and stop.</summary>
internal sealed partial class LeaseService
{
    /// <summary>
    /// Puts back every task lease past its end (found through an index, whatever the job), counting the lapse against its
    /// provider; then the lapsed check leases of verifying tasks and, among the newest running jobs, of canaries; and
    /// completes those jobs whose last completion raced.
    /// </summary>
    /// <returns>How many leases were put back.</returns>
    public async Task<int> ExpireLapsedLeasesAsync(CancellationToken cancellationToken)
    {
        int expired = 0;
        var jobs = new Dictionary<Guid, JobRecord?>();
        async Task<JobRecord?> JobAsync(Guid id) => jobs.TryGetValue(id, out JobRecord? known)
            ? known
            : jobs[id] = await _store.GetJobAsync(id, cancellationToken);

        foreach (TaskRecord task in await _store.ListLapsedLeasesAsync(_time.GetUtcNow(), _options.MaintenanceJobScanLimit, cancellationToken))
        {
            if (await JobAsync(task.JobId) is { State: JobState.Running } job
                && await _transitions.ReleaseAsync(task, job, task.Provider, $"Lease of {task.Provider} lapsed", cancellationToken))
            {
                // A conflicting update means the provider acted first; the next pass looks again.
                LogExpired(job.Id, task.Index, task.Provider);
                expired++;
            }
        }

        (Guid JobId, int Index)? cursor = null;
        for (int looked = 0; looked < InvariantSweep.TasksPerPass;)
        {
            IReadOnlyList<TaskRecord> verifying = await _store.ListTasksInStateAsync(FarmTaskState.Verifying, cursor, 500, cancellationToken);
            if (verifying.Count == 0)
            {
                break;
            }

            foreach (TaskRecord task in verifying)
            {
                looked++;
                cursor = (task.JobId, task.Index);
                if (task.Checks.Any(c => c.State == SpotCheckState.Leased) && await JobAsync(task.JobId) is { State: JobState.Running } job)
                {
                    expired += await _checks.ExpireLapsedChecksAsync(job, task, cancellationToken);
                }
            }
        }

        DateTimeOffset now = _time.GetUtcNow();
        foreach (JobRecord job in await _store.ListJobsAsync(_options.MaintenanceJobScanLimit, cancellationToken))
        {
            if (job is { State: JobState.Completed or JobState.Failed or JobState.Cancelled, Settlement: null } && job.FinishedAt <= now - s_settlementGrace
                && _settlementRequests.GetValueOrDefault(job.Id) <= now - s_settlementGrace)
            {
                // Ended a while ago and still unsettled: the request may have been lost with the coordinator that made it.
                if (_settlementRequests.Count > _options.MaintenanceJobScanLimit)
                {
                    _settlementRequests.Clear();
                }

                _settlementRequests[job.Id] = now;
                _transitions.RequestSettlement(job.Id);
                continue;
            }

            if (job.State != JobState.Running)
            {
                continue;
            }

            // Canaries sit on succeeded tasks; only a job that has some needs its tasks read.
            if ((await _store.GetJobTallyAsync(job.Id, cancellationToken)).Canaried > 0)
            {
                foreach (TaskRecord task in await _store.GetTasksAsync(job.Id, cancellationToken))
                {
                    if (task.State == FarmTaskState.Succeeded && task.Checks.Any(c => c.Canary && c.State == SpotCheckState.Leased))
                    {
                        expired += await _checks.ExpireLapsedChecksAsync(job, task, cancellationToken);
                    }
                }
            }

            await _transitions.TryCompleteJobAsync(job.Id, cancellationToken);
        }

        return expired;
    }

    /// <summary>Takes a paused job's Queued tasks out of their queues (see <see cref="JobTaskControls.PauseTasksAsync"/>).</summary>
    public Task<int> PauseTasksAsync(Guid jobId, CancellationToken cancellationToken) =>
        _controls.PauseTasksAsync(jobId, cancellationToken);

    /// <summary>Enqueues a resumed job's Queued tasks again (see <see cref="JobTaskControls.ResumeTasksAsync"/>).</summary>
    public Task<int> ResumeTasksAsync(JobRecord job, CancellationToken cancellationToken) =>
        _controls.ResumeTasksAsync(job, cancellationToken);

    /// <summary>Puts a requeued failed job's failed tasks back in their queues (see <see cref="JobTaskControls.RequeueFailedTasksAsync"/>).</summary>
    public Task<int> RequeueFailedTasksAsync(JobRecord job, CancellationToken cancellationToken) =>
        _controls.RequeueFailedTasksAsync(job, cancellationToken);

    /// <summary>Ends every unfinished task and open canary of a job (cancelled or failed) and deletes their queued Hangfire jobs.</summary>
    public Task StopTasksAsync(Guid jobId, string reason, CancellationToken cancellationToken) =>
        _transitions.StopTasksAsync(jobId, reason, cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease on task {TaskIndex} of job {JobId} held by {Provider} lapsed; re-queued.")]
    private partial void LogExpired(Guid jobId, int taskIndex, string? provider);
}
