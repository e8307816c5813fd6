using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <summary>Argument checks and state rules every <see cref="IFarmStore"/> here applies alike.</summary>
internal static class FarmRecordRules
{
    public static void ValidateNewJob(JobRecord job, IReadOnlyList<TaskRecord> tasks)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(job.Spec, nameof(job));
        ArgumentNullException.ThrowIfNull(tasks);
        var indexes = new bool[tasks.Count];
        foreach (TaskRecord task in tasks)
        {
            ValidateTask(task);
            if (task.JobId != job.Id)
            {
                throw new ArgumentException($"Task {task.Index} belongs to job {task.JobId}, not {job.Id}.", nameof(tasks));
            }

            // GetTaskAsync addresses tasks by position, so indexes must be exactly 0..count-1.
            if ((uint)task.Index >= (uint)indexes.Length || indexes[task.Index])
            {
                throw new ArgumentException($"Task indexes must be 0 to {tasks.Count - 1}, each once; got {task.Index}.", nameof(tasks));
            }

            indexes[task.Index] = true;
        }
    }

    public static void ValidateTask(TaskRecord task)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(task.FailedBy, nameof(task));
        ArgumentNullException.ThrowIfNull(task.Outputs, nameof(task));
        ArgumentNullException.ThrowIfNull(task.Checks, nameof(task));
        ArgumentNullException.ThrowIfNull(task.RejectedBy, nameof(task));
        ArgumentNullException.ThrowIfNull(task.Failures, nameof(task));
    }

    public static void ValidateProvider(ProviderRecord provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentException.ThrowIfNullOrWhiteSpace(provider.Address, nameof(provider));
        ArgumentOutOfRangeException.ThrowIfNegative(provider.VerifiedFrames, nameof(provider));
        ArgumentOutOfRangeException.ThrowIfNegative(provider.TimesCaught, nameof(provider));
    }

    public static void ValidateApiKey(ApiKeyRecord key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(key.Id, nameof(key));
        ArgumentException.ThrowIfNullOrWhiteSpace(key.Account, nameof(key));
        ArgumentException.ThrowIfNullOrWhiteSpace(key.Sha256, nameof(key));
    }

    public static void ValidateProviderCounts(string address, long verifiedFrames, int timesCaught)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentOutOfRangeException.ThrowIfNegative(verifiedFrames);
        ArgumentOutOfRangeException.ThrowIfNegative(timesCaught);
    }

    /// <summary>Checks a provider's new bias evidence: more frames than before, finite non-negative sums.</summary>
    public static void ValidateEvidence(long storedFrames, (long Frames, double Upper, double Lower) updated)
    {
        if (updated.Frames <= storedFrames || !double.IsFinite(updated.Upper) || !double.IsFinite(updated.Lower) || updated.Upper < 0 || updated.Lower < 0)
        {
            throw new ArgumentException("Evidence must count more frames than before and hold finite, non-negative sums.", nameof(updated));
        }
    }

    /// <summary>The job after a state change at <paramref name="now"/>: finished exactly while in a final state.</summary>
    // A job that moves to an open state (a failed one requeued in place) carries no error; an ended one keeps its first.
    public static JobRecord WithState(JobRecord job, JobState to, string? error, DateTimeOffset now) => job with
    {
        State = to,
        Error = FinishedAt(to, now) is null ? error : error ?? job.Error,
        FinishedAt = FinishedAt(to, now),
    };

    public static DateTimeOffset? FinishedAt(JobState state, DateTimeOffset now) =>
        state is JobState.Completed or JobState.Failed or JobState.Cancelled ? now : null;

    public static void ValidateLinks(IReadOnlyList<(int Index, string HangfireJobId)> links)
    {
        ArgumentNullException.ThrowIfNull(links);
        var seen = new HashSet<int>();
        foreach ((int index, string hangfireJobId) in links)
        {
            if (string.IsNullOrEmpty(hangfireJobId) || hangfireJobId.Length > 100)
            {
                throw new ArgumentException($"Task {index}: a Hangfire job id must be 1 to 100 characters.", nameof(links));
            }

            if (!seen.Add(index))
            {
                throw new ArgumentException($"Task {index} is linked twice.", nameof(links));
            }
        }
    }

    /// <summary>
    /// Checks a task replacement: <paramref name="stored"/> is the same task at <paramref name="updated"/>'s version and
    /// every timeline entry is of that task. Returns the entries as they are stored (<see cref="ValidateTaskEvent"/>).
    /// </summary>
    public static TaskEventRecord[] ValidateReplace(TaskRecord stored, TaskRecord updated, IReadOnlyList<TaskEventRecord> events)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(events);
        ValidateTask(updated);
        if (stored.JobId != updated.JobId || stored.Index != updated.Index || stored.Version != updated.Version)
        {
            throw new ArgumentException("The stored record must be the same task at the updated record's version.", nameof(stored));
        }

        TaskEventRecord[] rows = [.. events.Select(ValidateTaskEvent)];
        if (rows.Any(e => e.JobId != updated.JobId || e.TaskIndex != updated.Index))
        {
            throw new ArgumentException("Every timeline entry must be of the updated task.", nameof(events));
        }

        return rows;
    }

    /// <summary>Checks a timeline entry and cuts its detail to <see cref="TaskEventRecord.MaxDetailLength"/>.</summary>
    public static TaskEventRecord ValidateTaskEvent(TaskEventRecord taskEvent)
    {
        ArgumentNullException.ThrowIfNull(taskEvent);
        ArgumentNullException.ThrowIfNull(taskEvent.Detail, nameof(taskEvent));
        ArgumentOutOfRangeException.ThrowIfNegative(taskEvent.TaskIndex, nameof(taskEvent));
        return taskEvent.Detail.Length <= TaskEventRecord.MaxDetailLength
            ? taskEvent
            : taskEvent with { Detail = taskEvent.Detail[..TaskEventRecord.MaxDetailLength] };
    }
}
