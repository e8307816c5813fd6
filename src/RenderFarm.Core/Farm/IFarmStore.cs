namespace RenderFarm.Core.Farm;

/// <summary>
/// The farm's own records: jobs, their frame tasks and providers. Hangfire keeps the queues; this
/// store keeps what clients and providers see. Task updates are optimistic: an update applies only
/// when the stored <see cref="TaskRecord.Version"/> still equals the caller's, so a lease, a
/// completion and an expiry racing on one task cannot both win.
/// </summary>
public interface IFarmStore
{
    /// <summary>Stores a new job with its tasks, atomically.</summary>
    Task CreateJobAsync(JobRecord job, IReadOnlyList<TaskRecord> tasks, CancellationToken cancellationToken = default);

    /// <summary>A job, or null.</summary>
    Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>The newest jobs first.</summary>
    Task<IReadOnlyList<JobRecord>> ListJobsAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>The newest jobs of one account first (<see cref="JobRecord.Owner"/>, compared exactly).</summary>
    Task<IReadOnlyList<JobRecord>> ListJobsOfAsync(string owner, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves a job from <paramref name="from"/> to <paramref name="to"/>; false when it was not in <paramref name="from"/>.
    /// An ended job keeps its first error when <paramref name="error"/> is null; a job moved to an open state (Queued,
    /// AwaitingEscrow, Running) takes <paramref name="error"/> as it is, so a failed job requeued in place loses its error.
    /// </summary>
    Task<bool> TryUpdateJobStateAsync(Guid jobId, JobState from, JobState to, string? error = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Pauses or resumes a job (<see cref="JobRecord.Paused"/>); false when the job does not exist or has ended
    /// (completed, failed or cancelled).
    /// </summary>
    Task<bool> TrySetJobPausedAsync(Guid jobId, bool paused, CancellationToken cancellationToken = default);

    /// <summary>Records a job's settlement; false when the job does not exist or already has one.</summary>
    Task<bool> TrySetJobSettlementAsync(Guid jobId, JobSettlement settlement, CancellationToken cancellationToken = default);

    /// <summary>A job's tasks in index order.</summary>
    Task<IReadOnlyList<TaskRecord>> GetTasksAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>One task, or null.</summary>
    Task<TaskRecord?> GetTaskAsync(Guid jobId, int index, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a task when its stored version equals <paramref name="updated"/>'s <see cref="TaskRecord.Version"/>;
    /// the stored copy then has that version plus one, and the job's tallies change with it in the same step. False when
    /// another update came first.
    /// </summary>
    Task<bool> TryUpdateTaskAsync(TaskRecord updated, CancellationToken cancellationToken = default);

    /// <summary>
    /// As <see cref="TryUpdateTaskAsync"/>, given the record it replaces, and appends <paramref name="events"/> to the
    /// task's timeline in the same step (nothing is appended when the update does not apply). A store with round trips
    /// makes the whole change one: the tallies' change is known from <paramref name="stored"/> without reading the old
    /// row. False also when the stored record's state or tallied lists are not <paramref name="stored"/>'s (the caller
    /// reads again, as after a lost race).
    /// </summary>
    /// <param name="stored">The record as the caller read it, at <paramref name="updated"/>'s version.</param>
    /// <param name="updated">The new record, with the version it replaces.</param>
    /// <param name="events">Timeline entries of the change (may be empty).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    async Task<bool> TryReplaceTaskAsync(TaskRecord stored, TaskRecord updated, IReadOnlyList<TaskEventRecord> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (!await TryUpdateTaskAsync(updated, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        if (events.Count > 0)
        {
            await AppendTaskEventsAsync(events, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// A task, its job and, when <paramref name="provider"/> is given, that provider's tallies in the job, read together
    /// (one round trip on a store that has them). Nulls for what does not exist; zeros for no tallies.
    /// </summary>
    async Task<TaskWithJob> GetTaskWithJobAsync(Guid jobId, int index, string? provider = null, CancellationToken cancellationToken = default) =>
        new(
            await GetTaskAsync(jobId, index, cancellationToken).ConfigureAwait(false),
            await GetJobAsync(jobId, cancellationToken).ConfigureAwait(false),
            provider is null ? new ProviderTally(0, 0, 0) : await GetProviderTallyAsync(jobId, provider, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// A job's tallies (see <see cref="JobTallies"/>), kept with every task write: constant time, however many tasks the
    /// job has. Zeros for an unknown job.
    /// </summary>
    Task<JobTally> GetJobTallyAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>One provider's tallies within a job (case-insensitive); zeros when it has none.</summary>
    Task<ProviderTally> GetProviderTallyAsync(Guid jobId, string provider, CancellationToken cancellationToken = default);

    /// <summary>The providers (lowercase) whose output of some task of the job was proven wrong.</summary>
    Task<IReadOnlyList<string>> ListRejectedProvidersAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Up to <paramref name="limit"/> tasks of any job in <paramref name="state"/>, in a fixed order of (job, index) that
    /// starts after <paramref name="after"/> (from the start when null): pages for a sweep, read through an index.
    /// </summary>
    Task<IReadOnlyList<TaskRecord>> ListTasksInStateAsync(
        FarmTaskState state, (Guid JobId, int Index)? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> Leased tasks whose lease ended at or before <paramref name="now"/>, earliest end first.</summary>
    Task<IReadOnlyList<TaskRecord>> ListLapsedLeasesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates or replaces a provider's address, registration, last-seen time and device. A new provider starts with the
    /// record's counters; an existing one keeps its stored <see cref="ProviderRecord.VerifiedFrames"/> and
    /// <see cref="ProviderRecord.TimesCaught"/>, which change only through <see cref="AddProviderCountsAsync"/>.
    /// </summary>
    Task UpsertProviderAsync(ProviderRecord provider, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds to a provider's counters in one atomic step, so concurrent additions all count; a provider not known yet is
    /// registered first, seen now.
    /// </summary>
    /// <param name="address">The provider (case-insensitive).</param>
    /// <param name="verifiedFrames">Frames to add to <see cref="ProviderRecord.VerifiedFrames"/>, at least 0.</param>
    /// <param name="timesCaught">Catches to add to <see cref="ProviderRecord.TimesCaught"/>, at least 0.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The provider as stored afterwards.</returns>
    Task<ProviderRecord> AddProviderCountsAsync(string address, long verifiedFrames, int timesCaught, CancellationToken cancellationToken = default);

    /// <summary>A provider by address (case-insensitive), or null.</summary>
    Task<ProviderRecord?> GetProviderAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>A provider's bias evidence (the state of a sequential test across its jobs), or zeros when none is stored.</summary>
    /// <param name="address">The provider (case-insensitive).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<(long Frames, double Upper, double Lower)> GetProviderEvidenceAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a provider's bias evidence with <paramref name="update"/> of the stored one (zeros when none), atomically:
    /// concurrent updates are applied one after the other. The update must count more frames than it was given.
    /// </summary>
    /// <param name="address">The provider (case-insensitive).</param>
    /// <param name="update">The new evidence from the stored one; called again when another update came first.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The evidence as stored afterwards.</returns>
    Task<(long Frames, double Upper, double Lower)> UpdateProviderEvidenceAsync(
        string address,
        Func<(long Frames, double Upper, double Lower), (long Frames, double Upper, double Lower)> update,
        CancellationToken cancellationToken = default);

    /// <summary>A provider's sample-count evidence (per snapshot count, the state of a sequential test across its jobs), or (0, []) when none is stored.</summary>
    Task<(long Checks, IReadOnlyList<double> Sums)> GetProviderSampleEvidenceAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a provider's sample-count evidence with <paramref name="update"/> of the stored one, atomically, like
    /// <see cref="UpdateProviderEvidenceAsync"/>: more checks than before, at most 16 finite, non-negative sums.
    /// </summary>
    Task<(long Checks, IReadOnlyList<double> Sums)> UpdateProviderSampleEvidenceAsync(
        string address,
        Func<(long Checks, IReadOnlyList<double> Sums), (long Checks, IReadOnlyList<double> Sums)> update,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that a one-time value (a login challenge) was used; false when it was used before.
    /// Entries past <paramref name="expiresAt"/> may be forgotten.
    /// </summary>
    Task<bool> TryConsumeOnceAsync(string value, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>Stores a new API key.</summary>
    /// <exception cref="InvalidOperationException">A key with the same id exists.</exception>
    Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>An API key by id (revoked or not), or null.</summary>
    Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Revokes an API key at <paramref name="revokedAt"/>; false when it does not exist or was revoked already.</summary>
    Task<bool> TryRevokeApiKeyAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// The farm's secret named <paramref name="name"/>, storing <paramref name="candidate"/> first when it has none:
    /// every caller, concurrent or after a restart, gets the one value stored first. A coordinator without configured
    /// secrets keeps its keys here, so lease ids and signed URLs outlive it.
    /// </summary>
    /// <param name="name">The secret's name, e.g. <c>Coordinator:SpotCheckSecret</c>.</param>
    /// <param name="candidate">A freshly generated value, kept only when none is stored yet.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored value.</returns>
    Task<string> GetOrAddSecretAsync(string name, string candidate, CancellationToken cancellationToken = default);

    /// <summary>
    /// Links Hangfire jobs to tasks of one job in one step: each task of <paramref name="links"/> that is still Queued
    /// and has no Hangfire job yet gets the one named (and a new version); any other is left as it is. The split of a
    /// large job links thousands of tasks this way instead of one update each.
    /// </summary>
    /// <param name="jobId">The farm job.</param>
    /// <param name="links">Task index and Hangfire job id; indexes distinct.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The indexes that were linked.</returns>
    /// <exception cref="ArgumentException">An index repeats, or a Hangfire job id is empty or longer than 100 characters.</exception>
    Task<IReadOnlyList<int>> LinkHangfireJobsAsync(Guid jobId, IReadOnlyList<(int Index, string HangfireJobId)> links, CancellationToken cancellationToken = default);

    /// <summary>Appends entries to tasks' timelines, in the given order (<see cref="TaskEventRecord.Detail"/> cut to its limit).</summary>
    Task AppendTaskEventsAsync(IReadOnlyList<TaskEventRecord> events, CancellationToken cancellationToken = default);

    /// <summary>A task's timeline, oldest first: at most <paramref name="limit"/> entries, the newest ones when there are more.</summary>
    Task<IReadOnlyList<TaskEventRecord>> GetTaskEventsAsync(Guid jobId, int taskIndex, int limit, CancellationToken cancellationToken = default);

    /// <summary>Known providers, the most recently seen first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<ProviderRecord>> ListProvidersAsync(int limit, CancellationToken cancellationToken = default);
}
