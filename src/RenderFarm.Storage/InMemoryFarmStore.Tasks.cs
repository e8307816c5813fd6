using System.Text.Json;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <content>Tasks: their records, links to Hangfire jobs and timelines.</content>
public sealed partial class InMemoryFarmStore
{
    /// <inheritdoc/>
    public Task<IReadOnlyList<TaskRecord>> GetTasksAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<TaskRecord> tasks = _tasks.TryGetValue(jobId, out TaskRecord[]? stored) ? [.. stored] : [];
            return Task.FromResult(tasks);
        }
    }

    /// <inheritdoc/>
    public Task<TaskRecord?> GetTaskAsync(Guid jobId, int index, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            TaskRecord? task = _tasks.TryGetValue(jobId, out TaskRecord[]? stored) && (uint)index < (uint)stored.Length
                ? stored[index]
                : null;
            return Task.FromResult(task);
        }
    }

    /// <inheritdoc/>
    public Task<bool> TryUpdateTaskAsync(TaskRecord updated, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateTask(updated);
        cancellationToken.ThrowIfCancellationRequested();
        TaskRecord copy = CopyIn(updated) with { Version = updated.Version + 1 };
        lock (_lock)
        {
            if (!_tasks.TryGetValue(updated.JobId, out TaskRecord[]? stored)
                || (uint)updated.Index >= (uint)stored.Length
                || stored[updated.Index].Version != updated.Version)
            {
                return Task.FromResult(false);
            }

            ApplyTallies(stored[updated.Index], copy);
            stored[updated.Index] = copy;
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public async Task<bool> TryReplaceTaskAsync(TaskRecord stored, TaskRecord updated, IReadOnlyList<TaskEventRecord> events, CancellationToken cancellationToken = default)
    {
        TaskEventRecord[] rows = FarmRecordRules.ValidateReplace(stored, updated, events);

        cancellationToken.ThrowIfCancellationRequested();
        TaskRecord copy = CopyIn(updated) with { Version = updated.Version + 1 };
        lock (_lock)
        {
            // As the PostgreSQL store: refused unless the stored record is the one given, in the fields the tallies count.
            if (!_tasks.TryGetValue(updated.JobId, out TaskRecord[]? tasks)
                || (uint)updated.Index >= (uint)tasks.Length
                || tasks[updated.Index].Version != updated.Version
                || !SameTallied(tasks[updated.Index], stored))
            {
                return false;
            }

            ApplyTallies(tasks[updated.Index], copy);
            tasks[updated.Index] = copy;
        }

        await AppendTaskEventsAsync(rows, CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    private static bool SameTallied(TaskRecord a, TaskRecord b) =>
        a.State == b.State
        && JsonSerializer.Serialize(a.FailedBy, FarmJson.Options) == JsonSerializer.Serialize(b.FailedBy, FarmJson.Options)
        && JsonSerializer.Serialize(a.RejectedBy, FarmJson.Options) == JsonSerializer.Serialize(b.RejectedBy, FarmJson.Options)
        && JsonSerializer.Serialize(a.Checks, FarmJson.Options) == JsonSerializer.Serialize(b.Checks, FarmJson.Options);

    /// <inheritdoc/>
    public Task<IReadOnlyList<TaskRecord>> ListTasksInStateAsync(
        FarmTaskState state, (Guid JobId, int Index)? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        cancellationToken.ThrowIfCancellationRequested();

        // Jobs in the order of their ids' hex form, which is PostgreSQL's order of uuids.
        string afterJob = after?.JobId.ToString("N") ?? string.Empty;
        lock (_lock)
        {
            IReadOnlyList<TaskRecord> tasks = [.. _tasks
                .Select(entry => (Key: entry.Key.ToString("N"), Tasks: entry.Value))
                .Where(entry => string.CompareOrdinal(entry.Key, afterJob) >= 0)
                .OrderBy(entry => entry.Key, StringComparer.Ordinal)
                .SelectMany(entry => entry.Tasks.Where(task => task.State == state
                    && (after is not { } cursor || entry.Key != afterJob || task.Index > cursor.Index)))
                .Take(limit)];
            return Task.FromResult(tasks);
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<TaskRecord>> ListLapsedLeasesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<TaskRecord> tasks = [.. _tasks.Values
                .SelectMany(stored => stored)
                .Where(task => task.State == FarmTaskState.Leased && task.LeaseExpiresAt <= now)
                .OrderBy(task => task.LeaseExpiresAt)
                .Take(limit)];
            return Task.FromResult(tasks);
        }
    }

    /// <inheritdoc/>
    public Task AppendTaskEventsAsync(IReadOnlyList<TaskEventRecord> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        cancellationToken.ThrowIfCancellationRequested();
        TaskEventRecord[] stored = [.. events.Select(FarmRecordRules.ValidateTaskEvent)];
        lock (_lock)
        {
            foreach (TaskEventRecord taskEvent in stored)
            {
                if (!_taskEvents.TryGetValue((taskEvent.JobId, taskEvent.TaskIndex), out List<TaskEventRecord>? list))
                {
                    _taskEvents.Add((taskEvent.JobId, taskEvent.TaskIndex), list = []);
                }

                // Memory is bounded per task: a provider heartbeating one lease for days drops its oldest entries.
                if (list.Count >= MaxTaskEventsInMemory)
                {
                    list.RemoveAt(0);
                }

                list.Add(taskEvent with { At = Truncate(taskEvent.At) });
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<TaskEventRecord>> GetTaskEventsAsync(Guid jobId, int taskIndex, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<TaskEventRecord> events = _taskEvents.TryGetValue((jobId, taskIndex), out List<TaskEventRecord>? list)
                ? [.. list.Skip(Math.Max(0, list.Count - limit))]
                : [];
            return Task.FromResult(events);
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<int>> LinkHangfireJobsAsync(Guid jobId, IReadOnlyList<(int Index, string HangfireJobId)> links, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateLinks(links);
        cancellationToken.ThrowIfCancellationRequested();
        var linked = new List<int>(links.Count);
        lock (_lock)
        {
            if (!_tasks.TryGetValue(jobId, out TaskRecord[]? stored))
            {
                return Task.FromResult<IReadOnlyList<int>>(linked);
            }

            foreach ((int index, string hangfireJobId) in links)
            {
                if ((uint)index < (uint)stored.Length && stored[index] is { State: FarmTaskState.Queued, HangfireJobId: null } task)
                {
                    stored[index] = task with { HangfireJobId = hangfireJobId, Version = task.Version + 1 };
                    linked.Add(index);
                }
            }
        }

        return Task.FromResult<IReadOnlyList<int>>(linked);
    }
}
