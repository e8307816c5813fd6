using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <content>Jobs: their records, states and tallies.</content>
public sealed partial class InMemoryFarmStore
{
    /// <inheritdoc/>
    public Task CreateJobAsync(JobRecord job, IReadOnlyList<TaskRecord> tasks, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateNewJob(job, tasks);
        cancellationToken.ThrowIfCancellationRequested();
        TaskRecord[] stored = [.. tasks.OrderBy(task => task.Index).Select(CopyIn)];
        lock (_lock)
        {
            if (!_jobs.TryAdd(job.Id, CopyIn(job)))
            {
                throw new InvalidOperationException($"Job {job.Id} already exists.");
            }

            _tasks.Add(job.Id, stored);
            foreach (TaskRecord task in stored)
            {
                ApplyTallies(null, task);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_jobs.GetValueOrDefault(jobId));
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<JobRecord> jobs = [.. _jobs.Values
                .OrderByDescending(job => job.CreatedAt)
                .ThenByDescending(job => job.Id)
                .Take(limit)];
            return Task.FromResult(jobs);
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<JobRecord>> ListJobsOfAsync(string owner, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(owner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<JobRecord> jobs = [.. _jobs.Values
                .Where(job => string.Equals(job.Owner, owner, StringComparison.Ordinal))
                .OrderByDescending(job => job.CreatedAt)
                .ThenByDescending(job => job.Id)
                .Take(limit)];
            return Task.FromResult(jobs);
        }
    }

    /// <inheritdoc/>
    public Task<bool> TryUpdateJobStateAsync(Guid jobId, JobState from, JobState to, string? error = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_jobs.TryGetValue(jobId, out JobRecord? job) || job.State != from)
            {
                return Task.FromResult(false);
            }

            _jobs[jobId] = FarmRecordRules.WithState(job, to, error, Truncate(_timeProvider.GetUtcNow()));
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public Task<bool> TrySetJobPausedAsync(Guid jobId, bool paused, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_jobs.TryGetValue(jobId, out JobRecord? job) || job.State is JobState.Completed or JobState.Failed or JobState.Cancelled)
            {
                return Task.FromResult(false);
            }

            _jobs[jobId] = job with { Paused = paused };
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public Task<bool> TrySetJobSettlementAsync(Guid jobId, JobSettlement settlement, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settlement);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_jobs.TryGetValue(jobId, out JobRecord? job) || job.Settlement is not null)
            {
                return Task.FromResult(false);
            }

            _jobs[jobId] = job with { Settlement = CopyIn(settlement) };
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public Task<JobTally> GetJobTallyAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(new JobTally(
                Tally(jobId, string.Empty, JobTallyKind.Tasks), Tally(jobId, string.Empty, JobTallyKind.Unfinished), Tally(jobId, string.Empty, JobTallyKind.Canaried)));
        }
    }

    /// <inheritdoc/>
    public Task<ProviderTally> GetProviderTallyAsync(Guid jobId, string provider, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(provider);
        cancellationToken.ThrowIfCancellationRequested();
        string key = JobTallies.Key(provider);
        lock (_lock)
        {
            return Task.FromResult(new ProviderTally(Tally(jobId, key, JobTallyKind.Failed), Tally(jobId, key, JobTallyKind.Rejected), Tally(jobId, key, JobTallyKind.Sampled)));
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListRejectedProvidersAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<string> providers = [.. _tallies
                .Where(t => t.Key.JobId == jobId && t.Key.Kind == JobTallyKind.Rejected && t.Value > 0)
                .Select(t => t.Key.Provider)
                .Order(StringComparer.Ordinal)];
            return Task.FromResult(providers);
        }
    }

    // Under _lock.
    private int Tally(Guid jobId, string provider, JobTallyKind kind) => _tallies.GetValueOrDefault((jobId, provider, kind));

    // Under _lock.
    private void ApplyTallies(TaskRecord? before, TaskRecord after)
    {
        foreach ((string provider, JobTallyKind kind, int delta) in JobTallies.Difference(before, after))
        {
            (Guid, string, JobTallyKind) key = (after.JobId, provider, kind);
            int value = _tallies.GetValueOrDefault(key) + delta;
            if (value == 0)
            {
                _tallies.Remove(key);
            }
            else
            {
                _tallies[key] = value;
            }
        }
    }
}
