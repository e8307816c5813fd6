using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <summary>
/// The embedded farm store: everything in process memory, gone when the process ends. Timestamps are
/// kept to the microsecond, as PostgreSQL keeps them, so both stores give back equal records.
/// </summary>
public sealed class InMemoryFarmStore : IFarmStore
{
    // Expired one-time values are swept after this many inserts, so memory tracks the live ones.
    private const int OnceSweepInterval = 1024;

    // A task's timeline keeps at most this many entries in memory.
    private const int MaxTaskEventsInMemory = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, JobRecord> _jobs = [];
    private readonly Dictionary<Guid, TaskRecord[]> _tasks = [];
    private readonly Dictionary<string, ProviderRecord> _providers = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (long Frames, double Upper, double Lower)> _evidence = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _onceValues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ApiKeyRecord> _apiKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _secrets = new(StringComparer.Ordinal);
    private readonly Dictionary<(Guid JobId, string Provider, JobTallyKind Kind), int> _tallies = [];
    private readonly Dictionary<(Guid JobId, int TaskIndex), List<TaskEventRecord>> _taskEvents = [];
    private readonly TimeProvider _timeProvider;
    private int _onceInsertsSinceSweep;

    /// <summary>Creates an empty store.</summary>
    /// <param name="timeProvider">Clock for finish times and one-time value expiry; the system clock when null.</param>
    public InMemoryFarmStore(TimeProvider? timeProvider = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

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
    public Task UpsertProviderAsync(ProviderRecord provider, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProvider(provider);
        cancellationToken.ThrowIfCancellationRequested();
        ProviderRecord copy = provider with
        {
            RegisteredAt = Truncate(provider.RegisteredAt),
            LastSeenAt = Truncate(provider.LastSeenAt),
        };
        lock (_lock)
        {
            // Remove first so a differently cased address replaces the stored spelling too.
            if (_providers.Remove(provider.Address, out ProviderRecord? stored))
            {
                copy = copy with { VerifiedFrames = stored.VerifiedFrames, TimesCaught = stored.TimesCaught };
            }

            _providers.Add(provider.Address, copy);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<ProviderRecord> AddProviderCountsAsync(string address, long verifiedFrames, int timesCaught, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProviderCounts(address, verifiedFrames, timesCaught);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            DateTimeOffset now = Truncate(_timeProvider.GetUtcNow());
            ProviderRecord stored = _providers.GetValueOrDefault(address) ?? new ProviderRecord { Address = address, RegisteredAt = now, LastSeenAt = now };
            ProviderRecord updated = stored with
            {
                VerifiedFrames = stored.VerifiedFrames + verifiedFrames,
                TimesCaught = stored.TimesCaught + timesCaught,
            };
            _providers[stored.Address] = updated;
            return Task.FromResult(updated);
        }
    }

    /// <inheritdoc/>
    public Task<(long Frames, double Upper, double Lower)> GetProviderEvidenceAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_evidence.GetValueOrDefault(address.ToLowerInvariant()));
        }
    }

    /// <inheritdoc/>
    public Task<(long Frames, double Upper, double Lower)> UpdateProviderEvidenceAsync(
        string address,
        Func<(long Frames, double Upper, double Lower), (long Frames, double Upper, double Lower)> update,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentNullException.ThrowIfNull(update);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            string key = address.ToLowerInvariant();
            (long Frames, double Upper, double Lower) stored = _evidence.GetValueOrDefault(key);
            (long Frames, double Upper, double Lower) updated = update(stored);
            FarmRecordRules.ValidateEvidence(stored.Frames, updated);
            _evidence[key] = updated;
            return Task.FromResult(updated);
        }
    }

    /// <inheritdoc/>
    public Task<ProviderRecord?> GetProviderAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_providers.GetValueOrDefault(address));
        }
    }

    /// <inheritdoc/>
    public Task<string> GetOrAddSecretAsync(string name, string candidate, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(candidate);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_secrets.TryAdd(name, candidate) ? candidate : _secrets[name]);
        }
    }

    /// <inheritdoc/>
    public Task<bool> TryConsumeOnceAsync(string value, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        cancellationToken.ThrowIfCancellationRequested();
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (_onceValues.TryGetValue(value, out DateTimeOffset storedExpiry) && storedExpiry >= now)
            {
                return Task.FromResult(false);
            }

            _onceValues[value] = expiresAt;
            if (++_onceInsertsSinceSweep >= OnceSweepInterval)
            {
                _onceInsertsSinceSweep = 0;
                foreach ((string stale, DateTimeOffset expiry) in _onceValues)
                {
                    if (expiry < now)
                    {
                        _onceValues.Remove(stale);
                    }
                }
            }

            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateApiKey(key);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_apiKeys.TryAdd(key.Id, key with { CreatedAt = Truncate(key.CreatedAt), RevokedAt = Truncate(key.RevokedAt) }))
            {
                throw new InvalidOperationException($"API key {key.Id} already exists.");
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_apiKeys.GetValueOrDefault(id));
        }
    }

    /// <inheritdoc/>
    public Task<bool> TryRevokeApiKeyAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_apiKeys.TryGetValue(id, out ApiKeyRecord? key) || key.RevokedAt is not null)
            {
                return Task.FromResult(false);
            }

            _apiKeys[id] = key with { RevokedAt = Truncate(revokedAt) };
            return Task.FromResult(true);
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
    public Task<IReadOnlyList<ProviderRecord>> ListProvidersAsync(int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<ProviderRecord> providers = [.. _providers.Values
                .OrderByDescending(p => p.LastSeenAt)
                .ThenBy(p => p.Address.ToLowerInvariant(), StringComparer.Ordinal)
                .Take(limit)];
            return Task.FromResult(providers);
        }
    }

    private static JobRecord CopyIn(JobRecord job) => job with
    {
        CreatedAt = Truncate(job.CreatedAt),
        FinishedAt = Truncate(job.FinishedAt),
        Settlement = job.Settlement is null ? null : CopyIn(job.Settlement),
    };

    private static JobSettlement CopyIn(JobSettlement settlement) => settlement with
    {
        SettledAt = Truncate(settlement.SettledAt),
        Payouts = [.. settlement.Payouts],
        Slashes = [.. settlement.Slashes],
    };

    // Fresh read-only lists: a caller that keeps and changes the list it passed cannot change the store.
    private static TaskRecord CopyIn(TaskRecord task) => task with
    {
        FailedBy = [.. task.FailedBy],
        Outputs = [.. task.Outputs],
        Checks = [.. task.Checks.Select(c => c with { Tiles = [.. c.Tiles], LeaseExpiresAt = Truncate(c.LeaseExpiresAt), FinishedAt = Truncate(c.FinishedAt) })],
        RejectedBy = [.. task.RejectedBy],
        Failures = [.. task.Failures],
        LeaseExpiresAt = Truncate(task.LeaseExpiresAt),
        StartedAt = Truncate(task.StartedAt),
        FinishedAt = Truncate(task.FinishedAt),
    };

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

    private static DateTimeOffset Truncate(DateTimeOffset time) => time.AddTicks(-(time.Ticks % TimeSpan.TicksPerMicrosecond));

    private static DateTimeOffset? Truncate(DateTimeOffset? time) => time is { } value ? Truncate(value) : null;
}
