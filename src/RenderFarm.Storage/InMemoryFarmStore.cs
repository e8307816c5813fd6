using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <summary>
/// The embedded farm store: everything in process memory, gone when the process ends. Timestamps are
/// kept to the microsecond, as PostgreSQL keeps them, so both stores give back equal records.
/// </summary>
public sealed partial class InMemoryFarmStore : IFarmStore
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

    private static DateTimeOffset Truncate(DateTimeOffset time) => time.AddTicks(-(time.Ticks % TimeSpan.TicksPerMicrosecond));

    private static DateTimeOffset? Truncate(DateTimeOffset? time) => time is { } value ? Truncate(value) : null;
}
