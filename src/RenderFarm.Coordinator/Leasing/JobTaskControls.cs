using Hangfire.States;
using Hangfire.Storage;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// What a job's owner does to all of its tasks at once: pause (its Queued tasks leave their queues), resume (they go
/// back) and requeue a failed job's failed tasks in place. Each task moves through <see cref="TaskTransitions"/>, the
/// one place that writes a task's record and its Hangfire state together.
/// </summary>
internal sealed class JobTaskControls(IFarmStore store, TaskTransitions transitions)
{
    private readonly IFarmStore _store = store;
    private readonly TaskTransitions _transitions = transitions;

    /// <summary>
    /// Failed, or Cancelled by the job's failure → Queued, in place, for a failed job its owner requeued (and moved back to
    /// Running first, so the sweep does not stop what comes back): attempts and failures are reset, outputs not yet
    /// verified are dropped, and each task is enqueued through its Hangfire job (or a new one when it has none).
    /// </summary>
    /// <returns>How many tasks were put back.</returns>
    public async Task<int> RequeueFailedTasksAsync(JobRecord job, CancellationToken cancellationToken)
    {
        int requeued = 0;
        foreach (TaskRecord listed in await _store.GetTasksAsync(job.Id, cancellationToken))
        {
            for (TaskRecord? task = listed;
                task is { State: FarmTaskState.Failed } or { State: FarmTaskState.Cancelled, Error: TaskTransitions.JobFailedReason };
                task = await _store.GetTaskAsync(job.Id, listed.Index, cancellationToken))
            {
                TaskRecord queued = task with
                {
                    State = FarmTaskState.Queued,
                    LeaseId = null,
                    LeaseExpiresAt = null,
                    Provider = null,
                    Attempts = 0,
                    FailedBy = [],
                    Failures = [],
                    Outputs = [],
                    Error = null,
                    StartedAt = null,
                    FinishedAt = null,
                };
                if (await _store.TryUpdateTaskAsync(queued, cancellationToken))
                {
                    TaskRecord stored = queued with { Version = queued.Version + 1 };
                    if (stored.HangfireJobId is null)
                    {
                        // Stopped before the split linked it: linked to a new Hangfire job here.
                        await _transitions.RelinkAsync(stored, job, cancellationToken);
                    }
                    else
                    {
                        await _transitions.EnqueueAsync(stored, job, "Requeued by its owner after the job failed", cancellationToken);
                    }

                    requeued++;
                    break;
                }
            }
        }

        return requeued;
    }

    /// <summary>
    /// Takes a paused job's Queued tasks out of their queues: each Hangfire job goes from Enqueued to
    /// <see cref="PausedState"/>, so none waits for a lease. An entry already in a queue is dropped by the fetch that
    /// meets it (<see cref="TaskTransitions.PauseFetched"/>); a task queued meanwhile is parked by its fetch or by the sweep.
    /// </summary>
    /// <returns>How many tasks were taken out of their queues.</returns>
    public async Task<int> PauseTasksAsync(Guid jobId, CancellationToken cancellationToken)
    {
        int paused = 0;
        foreach (TaskRecord task in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            if (task is { State: FarmTaskState.Queued, HangfireJobId: { } hangfireJobId })
            {
                bool done = false;
                _transitions.Mirror(task.JobId, task.Index, "pause the Hangfire job", () => done = _transitions.Queue.Pause(hangfireJobId, EnqueuedState.StateName));
                paused += done ? 1 : 0;
            }
        }

        return paused;
    }

    /// <summary>
    /// Enqueues again the Queued tasks of a resumed job (<paramref name="job"/> as read after the resume) whose Hangfire
    /// jobs were paused; one whose Hangfire job is gone is linked to a new one. Others are left to the sweep.
    /// </summary>
    /// <returns>How many tasks were put back in their queues.</returns>
    public async Task<int> ResumeTasksAsync(JobRecord job, CancellationToken cancellationToken)
    {
        using IStorageConnection connection = _transitions.Queue.Connect();
        int resumed = 0;
        foreach (TaskRecord task in await _store.GetTasksAsync(job.Id, cancellationToken))
        {
            if (task is not { State: FarmTaskState.Queued, HangfireJobId: { } hangfireJobId })
            {
                continue;
            }

            bool enqueued = false;
            string? state = PausedState.StateName;
            _transitions.Mirror(task.JobId, task.Index, "enqueue the Hangfire job", () =>
            {
                enqueued = _transitions.Queue.Enqueue(hangfireJobId, FarmQueues.For(job.Spec), "The job was resumed", PausedState.StateName);
                state = enqueued ? EnqueuedState.StateName : _transitions.Queue.StateOf(connection, hangfireJobId);
            });
            resumed += enqueued || (state is null && await _transitions.RelinkAsync(task, job, cancellationToken)) ? 1 : 0;
        }

        return resumed;
    }
}
