using RenderFarm.Coordinator.Auth;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Api;

/// <summary>A job's owner controlling it after submission: cancel, pause and resume, requeue.</summary>
internal sealed partial class JobService
{
    public async Task<JobSummary> CancelAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        await GetOwnJobAsync(jobId, caller, cancellationToken);
        while (true)
        {
            JobRecord job = await GetJobAsync(jobId, cancellationToken);
            if (job.State is not (JobState.Queued or JobState.AwaitingEscrow or JobState.Running))
            {
                throw new CoordinatorException(409, $"Job {jobId} is already {job.State}.");
            }

            if (await _store.TryUpdateJobStateAsync(jobId, job.State, JobState.Cancelled, "Cancelled by the client.", cancellationToken))
            {
                break;
            }
        }

        // Leased tasks become Cancelled too, so their providers' completions are refused.
        await _leases.StopTasksAsync(jobId, "The job was cancelled.", cancellationToken);
        LogCancelled(jobId);

        // Verified frames delivered before the cancel are paid; the rest of the escrow goes back to the client.
        SettlementJob.Enqueue(_client, jobId);
        JobRecord cancelled = await GetJobAsync(jobId, cancellationToken);
        return Summary(cancelled, await _store.GetTasksAsync(jobId, cancellationToken));
    }

    /// <summary>
    /// Pauses or resumes a job that has not ended. A paused job's queued tasks are taken out of their queues (nothing of
    /// it waits for a lease, so other jobs are served as if it were not there); tasks already leased finish and their
    /// results are accepted. Resuming enqueues the queued tasks again.
    /// </summary>
    public async Task<JobSummary> SetPausedAsync(Guid jobId, bool paused, ClientIdentity caller, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (!await _store.TrySetJobPausedAsync(jobId, paused, cancellationToken))
        {
            job = await GetJobAsync(jobId, cancellationToken);
            throw new CoordinatorException(409, $"Job {jobId} is {job.State}; only a job that has not ended can be {(paused ? "paused" : "resumed")}.");
        }

        JobRecord changed = await GetJobAsync(jobId, cancellationToken);
        int moved = paused ? await _leases.PauseTasksAsync(jobId, cancellationToken) : await _leases.ResumeTasksAsync(changed, cancellationToken);
        LogPaused(jobId, paused, moved);
        return Summary(changed, await _store.GetTasksAsync(jobId, cancellationToken));
    }

    /// <summary>
    /// Requeues a failed job's failed tasks in place: the job runs again, its failed tasks (and those its failure
    /// stopped) go back to Queued with their attempts reset, and its verified frames stay. Only for a job that failed
    /// because its tasks did and that no ledger escrow pays for (settling the failure refunded that escrow; its frames
    /// go to a new job through <see cref="RequeueAsync"/>, which locks a new one).
    /// </summary>
    public async Task<JobSummary> RequeueFailedAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (job.State != JobState.Failed || !(await _store.GetTasksAsync(jobId, cancellationToken)).Any(t => t.State == FarmTaskState.Failed))
        {
            throw new CoordinatorException(409, $"Job {jobId} is {job.State}{(job.State == JobState.Failed ? " but none of its tasks failed" : "")}; only failed tasks of a failed job are requeued in place.");
        }

        if (_ledger is not null && job.Spec.Budget > 0)
        {
            throw new CoordinatorException(409, $"Job {jobId} was paid from an escrow that its failure refunded; requeue its unfinished frames as a new job, which locks a new escrow.");
        }

        // Open again, the job counts against its owner's open jobs and work, as a new one would.
        if (job.Owner is { } owner)
        {
            await CheckAccountBudgetAsync(owner, job.Spec.Inference is null ? JobBudget.TotalSamples(job.Spec.Frames, job.Spec.Settings) ?? long.MaxValue : 0, cancellationToken);
        }

        // Running first: the sweep stops the Queued tasks of a failed job, and a Running job with failed tasks is not complete.
        if (!await _store.TryUpdateJobStateAsync(jobId, JobState.Failed, JobState.Running, null, cancellationToken))
        {
            throw new CoordinatorException(409, $"Job {jobId} changed meanwhile; it is {(await GetJobAsync(jobId, cancellationToken)).State}.");
        }

        JobRecord running = await GetJobAsync(jobId, cancellationToken);
        int requeued = await _leases.RequeueFailedTasksAsync(running, cancellationToken);
        LogRequeuedInPlace(jobId, requeued);
        return Summary(await GetJobAsync(jobId, cancellationToken), await _store.GetTasksAsync(jobId, cancellationToken));
    }

    /// <summary>
    /// Submits, as a new job of the same owner with the same scene and settings, the frames a failed or cancelled job
    /// did not finish.
    /// </summary>
    public async Task<JobSummary> RequeueAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        // The new job is the owner's and may cost it escrow: only the owner asks for it, not the operator.
        string owner = caller.RequireAccount();
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (!string.Equals(job.Owner, owner, StringComparison.Ordinal))
        {
            throw new CoordinatorException(404, $"Job {jobId} was not found.");
        }

        if (job.State is not (JobState.Failed or JobState.Cancelled))
        {
            throw new CoordinatorException(409, $"Job {jobId} is {job.State}; only a failed or cancelled job can be requeued.");
        }

        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(jobId, cancellationToken);
        FrameRange? left = job.Spec.Frames.Except(tasks.Where(t => t.State == FarmTaskState.Succeeded).SelectMany(t => t.Outputs).Select(o => o.Frame));
        if (left is not { } frames)
        {
            throw new CoordinatorException(409, $"Every frame of job {jobId} is finished; nothing is left to requeue.");
        }

        RenderJobSpec spec = job.Spec with { Frames = frames };
        if (spec.Inference is null)
        {
            await CheckAccountBudgetAsync(owner, JobBudget.TotalSamples(frames, spec.Settings) ?? long.MaxValue, cancellationToken);
        }
        else
        {
            await CheckAccountBudgetAsync(owner, 0, cancellationToken);
        }

        return await CreateAsync(spec, owner, frames.ToString(), cancellationToken);
    }
}
