using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Repairs the queue half of the invariant that <see cref="TaskTransitions"/> keeps: every Queued task of a running job
/// has its Hangfire job Enqueued (so one entry waits in its queue). A transition whose Hangfire write failed, or a
/// coordinator killed between a task's record and its Hangfire state, leaves a Queued task out of its queue; the sweep
/// puts it back. A task seen out of its queue is repaired on the next pass only if its record did not change in
/// between, so a transition still on its way (on this coordinator or another) is never raced. A paused job's Queued
/// tasks are parked on purpose (<see cref="PausedState"/>, no entry waiting): the sweep leaves them so, parks one it finds
/// enqueued, and never puts one back in its queue.
/// </summary>
/// <remarks>
/// Entries a killed coordinator had fetched come back by themselves: Hangfire.PostgreSql's sliding invisibility timeout
/// (see <c>CoordinatorBackends</c>) frees them within seconds. Lapsed leases, the other half, are
/// put back by <see cref="LeaseService.ExpireLapsedLeasesAsync"/>.
/// </remarks>
internal sealed partial class InvariantSweep
{
    /// <summary>Queued tasks whose Hangfire state one pass looks at; a larger backlog is covered over several passes.</summary>
    public const int TasksPerPass = 2000;

    private const int PageSize = 500;

    // Suspects are kept until they are looked at again; a bound keeps a pathological backlog from growing memory.
    private const int MaxSuspects = 100_000;

    private readonly IFarmStore _store;
    private readonly TaskTransitions _transitions;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<(Guid JobId, int Index), long> _suspects = [];
    private (Guid JobId, int Index)? _cursor;

    public InvariantSweep(IFarmStore store, TaskTransitions transitions, ILogger<InvariantSweep> logger)
    {
        _store = store;
        _transitions = transitions;
        _logger = logger;
    }

    /// <summary>Looks at up to <see cref="TasksPerPass"/> Queued tasks and puts back those out of their queue since the last pass.</summary>
    /// <returns>How many tasks were put back in their queue (or stopped, for a job that ended).</returns>
    public async Task<int> RepairQueuedAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            using IStorageConnection connection = _transitions.Queue.Connect();
            var jobs = new Dictionary<Guid, JobRecord?>();
            var ended = new HashSet<Guid>();
            int looked = 0, repaired = 0;
            bool restarted = _cursor is null;
            while (looked < TasksPerPass)
            {
                IReadOnlyList<TaskRecord> page = await _store.ListTasksInStateAsync(
                    FarmTaskState.Queued, _cursor, Math.Min(PageSize, TasksPerPass - looked), cancellationToken);
                if (page.Count == 0)
                {
                    // The end: start over from the beginning next time, or now when this pass began mid-way.
                    _cursor = null;
                    if (restarted)
                    {
                        break;
                    }

                    restarted = true;
                    continue;
                }

                var looks = new List<(TaskRecord Task, JobRecord Job)>(page.Count);
                foreach (TaskRecord task in page)
                {
                    looked++;
                    _cursor = (task.JobId, task.Index);
                    if (!jobs.TryGetValue(task.JobId, out JobRecord? job))
                    {
                        jobs[task.JobId] = job = await _store.GetJobAsync(task.JobId, cancellationToken);
                    }

                    if (job is null || task.HangfireJobId is null)
                    {
                        // No job, or not linked yet: the split (retried by Hangfire) links and enqueues it.
                        continue;
                    }

                    if (job.State is JobState.Cancelled or JobState.Failed)
                    {
                        // The job ended while the task was queued, and whoever ended it did not finish stopping its tasks.
                        ended.Add(job.Id);
                        continue;
                    }

                    looks.Add((task, job));
                }

                // The page's Hangfire states in one read (on PostgreSQL one query, not one round trip per task).
                IReadOnlyDictionary<string, string?> states = looks.Count == 0
                    ? new Dictionary<string, string?>()
                    : _transitions.Queue.StatesOf(connection, [.. looks.Select(l => l.Task.HangfireJobId!)]);
                foreach ((TaskRecord task, JobRecord job) in looks)
                {
                    if (await RepairAsync(task, job, states.GetValueOrDefault(task.HangfireJobId!), cancellationToken))
                    {
                        repaired++;
                    }
                }
            }

            foreach (Guid jobId in ended)
            {
                await _transitions.StopTasksAsync(jobId, "The job ended.", cancellationToken);
                repaired++;
            }

            return repaired;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool> RepairAsync(TaskRecord task, JobRecord job, string? state, CancellationToken cancellationToken)
    {
        (Guid, int) key = (task.JobId, task.Index);

        // A paused job's Queued tasks are parked on purpose: Paused is their resting state, and the repair parks them.
        if (state == (job.Paused ? PausedState.StateName : EnqueuedState.StateName))
        {
            _suspects.Remove(key);
            return false;
        }

        if (!_suspects.TryGetValue(key, out long version) || version != task.Version)
        {
            // First seen out of its queue: a transition may be between its record and its Hangfire write right now.
            if (_suspects.Count >= MaxSuspects)
            {
                _suspects.Clear();
            }

            _suspects[key] = task.Version;
            return false;
        }

        _suspects.Remove(key);
        if (job.Paused)
        {
            LogParked(task.JobId, task.Index, task.HangfireJobId!, state ?? "gone");
        }
        else
        {
            LogRepaired(task.JobId, task.Index, task.HangfireJobId!, state ?? "gone");
        }

        if (state is null)
        {
            return await _transitions.RelinkAsync(task, job, cancellationToken);
        }

        await _transitions.EnqueueAsync(task, job, $"Repaired: the task was Queued while its Hangfire job was {state}", cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskIndex} of job {JobId} was Queued but its Hangfire job {HangfireJobId} was {State}; put back in its queue.")]
    private partial void LogRepaired(Guid jobId, int taskIndex, string hangfireJobId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {TaskIndex} of job {JobId} was Queued in a paused job but its Hangfire job {HangfireJobId} was {State}; parked until the job is resumed.")]
    private partial void LogParked(Guid jobId, int taskIndex, string hangfireJobId, string state);
}
