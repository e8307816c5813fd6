using System.Data.Common;
using System.Reflection;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <summary>
/// The farm store in PostgreSQL, in schema <c>renderfarm</c>. Call <see cref="MigrateAsync"/> once at
/// start-up; it is safe to call from several coordinators at once and again on every start.
/// </summary>
public sealed class PostgresFarmStore : IFarmStore, IAsyncDisposable, IDisposable
{
    /// <summary>The schema holding the store's tables.</summary>
    public const string Schema = "renderfarm";

    // Any fixed number works as long as nothing else in the database locks it: "RndrFarm" in ASCII.
    private const long MigrationLockKey = 0x526E647246617266;
    private const string MigrationResourcePrefix = "RenderFarm.Storage.Migrations.";

    // Rows per job counter (see AddTalliesAsync).
    private const int TallyShards = 32;

    private const string TaskColumns =
        "job_id, task_index, first_frame, last_frame, state, hangfire_job_id, provider, lease_id, lease_expires_at, "
        + "attempts, failed_by, outputs, started_at, finished_at, error, version, checks, rejected_by, failures";

    private const string ProviderColumns = "address, registered_at, last_seen_at, device, verified_frames, times_caught";

    private const string JobColumns = "id, spec, state, created_at, finished_at, error, settlement, owner, paused";

    private const string ApiKeyColumns = "id, account, sha256, created_at, revoked_at";

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a store over a connection string; the store owns the connections it opens.</summary>
    /// <param name="connectionString">An Npgsql connection string.</param>
    /// <param name="timeProvider">Clock for finish times and one-time value expiry; the system clock when null.</param>
    public PostgresFarmStore(string connectionString, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _ownsDataSource = true;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Creates a store over a data source the caller keeps and disposes.</summary>
    /// <param name="dataSource">The database to use.</param>
    /// <param name="timeProvider">Clock for finish times and one-time value expiry; the system clock when null.</param>
    public PostgresFarmStore(NpgsqlDataSource dataSource, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// Creates the schema and applies the migrations not applied yet, in one transaction under an
    /// advisory lock, so coordinators starting together apply each migration once.
    /// </summary>
    /// <returns>The numbers of the migrations this call applied.</returns>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await ExecuteAsync(connection, "SELECT pg_advisory_xact_lock(@key)", cancellationToken, ("key", MigrationLockKey)).ConfigureAwait(false);
                await ExecuteAsync(
                    connection,
                    $"""
                    CREATE SCHEMA IF NOT EXISTS {Schema};
                    CREATE TABLE IF NOT EXISTS {Schema}.migrations (
                        id integer PRIMARY KEY,
                        name text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now());
                    """,
                    cancellationToken).ConfigureAwait(false);

                var applied = new HashSet<int>();
                await using (NpgsqlCommand select = new($"SELECT id FROM {Schema}.migrations", connection))
                {
                    NpgsqlDataReader reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            applied.Add(reader.GetInt32(0));
                        }
                    }
                }

                var appliedNow = new List<int>();
                foreach ((int id, string name, string sql) in LoadMigrations())
                {
                    if (applied.Contains(id))
                    {
                        continue;
                    }

                    await ExecuteAsync(connection, sql, cancellationToken).ConfigureAwait(false);
                    await ExecuteAsync(
                        connection,
                        $"INSERT INTO {Schema}.migrations (id, name) VALUES (@id, @name)",
                        cancellationToken,
                        ("id", id),
                        ("name", name)).ConfigureAwait(false);
                    appliedNow.Add(id);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return appliedNow;
            }
        }
    }

    /// <inheritdoc/>
    public async Task CreateJobAsync(JobRecord job, IReadOnlyList<TaskRecord> tasks, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateNewJob(job, tasks);
        NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                try
                {
                    await ExecuteAsync(
                        connection,
                        $"INSERT INTO {Schema}.jobs ({JobColumns}) VALUES (@id, @spec, @state, @created, @finished, @error, @settlement, @owner, @paused)",
                        cancellationToken,
                        ("id", job.Id),
                        ("spec", Jsonb(job.Spec)),
                        ("state", job.State.ToString()),
                        ("created", job.CreatedAt.ToUniversalTime()),
                        ("finished", job.FinishedAt?.ToUniversalTime()),
                        ("error", job.Error),
                        ("settlement", job.Settlement is null ? null : Jsonb(job.Settlement)),
                        ("owner", job.Owner),
                        ("paused", job.Paused)).ConfigureAwait(false);
                }
                catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    throw new InvalidOperationException($"Job {job.Id} already exists.", exception);
                }

                // Binary COPY: one round trip however many frames the job has.
                NpgsqlBinaryImporter importer = await connection.BeginBinaryImportAsync(
                    $"COPY {Schema}.tasks ({TaskColumns}) FROM STDIN (FORMAT BINARY)",
                    cancellationToken).ConfigureAwait(false);
                await using (importer.ConfigureAwait(false))
                {
                    foreach (TaskRecord task in tasks)
                    {
                        await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(task.JobId, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(task.Index, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(task.FirstFrame, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(task.LastFrame, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(task.State.ToString(), NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, task.HangfireJobId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, task.Provider, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, task.LeaseId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, task.LeaseExpiresAt?.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(task.Attempts, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(Jsonb(task.FailedBy).Text, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(Jsonb(task.Outputs).Text, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, task.StartedAt?.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, task.FinishedAt?.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, task.Error, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(task.Version, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(Jsonb(task.Checks).Text, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(Jsonb(task.RejectedBy).Text, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(Jsonb(task.Failures).Text, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                    }

                    await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
                }

                var tallies = new Dictionary<(string Provider, JobTallyKind Kind), int>();
                foreach (TaskRecord task in tasks)
                {
                    foreach ((string provider, JobTallyKind kind, int delta) in JobTallies.Difference(null, task))
                    {
                        tallies[(provider, kind)] = tallies.GetValueOrDefault((provider, kind)) + delta;
                    }
                }

                await AddTalliesAsync(connection, job.Id, 0, [.. tallies.Select(t => (t.Key.Provider, t.Key.Kind, t.Value))], cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc/>
    public async Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<JobRecord> jobs = await QueryAsync(
            $"SELECT {JobColumns} FROM {Schema}.jobs WHERE id = @id",
            ReadJob,
            cancellationToken,
            ("id", jobId)).ConfigureAwait(false);
        return jobs.Count == 0 ? null : jobs[0];
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return QueryAsync(
            $"SELECT {JobColumns} FROM {Schema}.jobs ORDER BY created_at DESC, id DESC LIMIT @limit",
            ReadJob,
            cancellationToken,
            ("limit", limit));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<JobRecord>> ListJobsOfAsync(string owner, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(owner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return QueryAsync(
            $"SELECT {JobColumns} FROM {Schema}.jobs WHERE owner = @owner ORDER BY created_at DESC, id DESC LIMIT @limit",
            ReadJob,
            cancellationToken,
            ("owner", owner),
            ("limit", limit));
    }

    /// <inheritdoc/>
    public async Task<bool> TryUpdateJobStateAsync(Guid jobId, JobState from, JobState to, string? error = null, CancellationToken cancellationToken = default)
    {
        DateTimeOffset? finishedAt = FarmRecordRules.FinishedAt(to, _timeProvider.GetUtcNow())?.ToUniversalTime();
        int rows = await ExecuteAsync(
            $"""
            UPDATE {Schema}.jobs
            SET state = @to, error = CASE WHEN @to IN ('Completed', 'Failed', 'Cancelled') THEN COALESCE(@error, error) ELSE @error END, finished_at = @finished
            WHERE id = @id AND state = @from
            """,
            cancellationToken,
            ("id", jobId),
            ("from", from.ToString()),
            ("to", to.ToString()),
            ("error", error),
            ("finished", finishedAt)).ConfigureAwait(false);
        return rows == 1;
    }

    /// <inheritdoc/>
    public async Task<bool> TrySetJobPausedAsync(Guid jobId, bool paused, CancellationToken cancellationToken = default)
    {
        int rows = await ExecuteAsync(
            $"UPDATE {Schema}.jobs SET paused = @paused WHERE id = @id AND state NOT IN ('Completed', 'Failed', 'Cancelled')",
            cancellationToken,
            ("id", jobId),
            ("paused", paused)).ConfigureAwait(false);
        return rows == 1;
    }

    /// <inheritdoc/>
    public async Task<bool> TrySetJobSettlementAsync(Guid jobId, JobSettlement settlement, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settlement);
        int rows = await ExecuteAsync(
            $"UPDATE {Schema}.jobs SET settlement = @settlement WHERE id = @id AND settlement IS NULL",
            cancellationToken,
            ("id", jobId),
            ("settlement", Jsonb(settlement))).ConfigureAwait(false);
        return rows == 1;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<TaskRecord>> GetTasksAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        QueryAsync(
            $"SELECT {TaskColumns} FROM {Schema}.tasks WHERE job_id = @job ORDER BY task_index",
            ReadTask,
            cancellationToken,
            ("job", jobId));

    /// <inheritdoc/>
    public async Task<TaskRecord?> GetTaskAsync(Guid jobId, int index, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<TaskRecord> tasks = await QueryAsync(
            $"SELECT {TaskColumns} FROM {Schema}.tasks WHERE job_id = @job AND task_index = @index",
            ReadTask,
            cancellationToken,
            ("job", jobId),
            ("index", index)).ConfigureAwait(false);
        return tasks.Count == 0 ? null : tasks[0];
    }

    /// <inheritdoc/>
    public async Task<bool> TryUpdateTaskAsync(TaskRecord updated, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateTask(updated);

        NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                // The old row is locked and returned by the same statement: under READ COMMITTED a racing update of the
                // same row waits, then re-checks the version against the winner's row and matches nothing.
                await using NpgsqlCommand command = CreateCommand(
                    $"""
                    UPDATE {Schema}.tasks t SET
                        first_frame = @first, last_frame = @last, state = @state, hangfire_job_id = @hangfire,
                        provider = @provider, lease_id = @lease, lease_expires_at = @leaseExpires, attempts = @attempts,
                        failed_by = @failedBy, outputs = @outputs, started_at = @started, finished_at = @finished,
                        error = @error, checks = @checks, rejected_by = @rejectedBy, failures = @failures, version = t.version + 1
                    FROM (SELECT job_id, task_index, state, failed_by, rejected_by, checks FROM {Schema}.tasks
                          WHERE job_id = @job AND task_index = @index AND version = @version FOR UPDATE) old
                    WHERE t.job_id = old.job_id AND t.task_index = old.task_index AND t.version = @version
                    RETURNING old.state, old.failed_by, old.rejected_by, old.checks
                    """,
                    [
                        ("job", updated.JobId),
                        ("index", updated.Index),
                        ("version", updated.Version),
                        ("first", updated.FirstFrame),
                        ("last", updated.LastFrame),
                        ("state", updated.State.ToString()),
                        ("hangfire", updated.HangfireJobId),
                        ("provider", updated.Provider),
                        ("lease", updated.LeaseId),
                        ("leaseExpires", updated.LeaseExpiresAt?.ToUniversalTime()),
                        ("attempts", updated.Attempts),
                        ("failedBy", Jsonb(updated.FailedBy)),
                        ("outputs", Jsonb(updated.Outputs)),
                        ("started", updated.StartedAt?.ToUniversalTime()),
                        ("finished", updated.FinishedAt?.ToUniversalTime()),
                        ("error", updated.Error),
                        ("checks", Jsonb(updated.Checks)),
                        ("rejectedBy", Jsonb(updated.RejectedBy)),
                        ("failures", Jsonb(updated.Failures)),
                    ]);
                command.Connection = connection;
                TaskRecord? before = null;
                NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        before = updated with
                        {
                            State = Enum.Parse<FarmTaskState>(reader.GetString(0)),
                            FailedBy = FromJsonb<string[]>(reader, 1),
                            RejectedBy = FromJsonb<string[]>(reader, 2),
                            Checks = FromJsonb<SpotCheckRecord[]>(reader, 3),
                        };
                    }
                }

                if (before is null)
                {
                    return false;
                }

                await AddTalliesAsync(connection, updated.JobId, updated.Index % TallyShards, JobTallies.Difference(before, updated), cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
        }
    }

    /// <inheritdoc/>
    public async Task<JobTally> GetJobTallyAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<(string Kind, int N)> rows = await QueryAsync(
            $"SELECT kind, sum(n)::integer FROM {Schema}.job_tallies WHERE job_id = @job AND provider = '' GROUP BY kind",
            reader => (reader.GetString(0), reader.GetInt32(1)),
            cancellationToken,
            ("job", jobId)).ConfigureAwait(false);
        int Of(JobTallyKind kind) => rows.FirstOrDefault(r => r.Kind == kind.ToString()).N;
        return new JobTally(Of(JobTallyKind.Tasks), Of(JobTallyKind.Unfinished), Of(JobTallyKind.Canaried));
    }

    /// <inheritdoc/>
    public async Task<ProviderTally> GetProviderTallyAsync(Guid jobId, string provider, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(provider);
        IReadOnlyList<(string Kind, int N)> rows = await QueryAsync(
            $"SELECT kind, sum(n)::integer FROM {Schema}.job_tallies WHERE job_id = @job AND provider = @provider GROUP BY kind",
            reader => (reader.GetString(0), reader.GetInt32(1)),
            cancellationToken,
            ("job", jobId),
            ("provider", JobTallies.Key(provider))).ConfigureAwait(false);
        int Of(JobTallyKind kind) => rows.FirstOrDefault(r => r.Kind == kind.ToString()).N;
        return new ProviderTally(Of(JobTallyKind.Failed), Of(JobTallyKind.Rejected), Of(JobTallyKind.Sampled));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListRejectedProvidersAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        QueryAsync(
            $"SELECT provider FROM {Schema}.job_tallies WHERE job_id = @job AND kind = 'Rejected' GROUP BY provider HAVING sum(n) > 0 ORDER BY provider COLLATE \"C\"",
            reader => reader.GetString(0),
            cancellationToken,
            ("job", jobId));

    /// <inheritdoc/>
    public Task<IReadOnlyList<TaskRecord>> ListTasksInStateAsync(
        FarmTaskState state, (Guid JobId, int Index)? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return after is { } cursor
            ? QueryAsync(
                $"SELECT {TaskColumns} FROM {Schema}.tasks WHERE state = @state AND (job_id, task_index) > (@job, @index) ORDER BY job_id, task_index LIMIT @limit",
                ReadTask,
                cancellationToken,
                ("state", state.ToString()),
                ("job", cursor.JobId),
                ("index", cursor.Index),
                ("limit", limit))
            : QueryAsync(
                $"SELECT {TaskColumns} FROM {Schema}.tasks WHERE state = @state ORDER BY job_id, task_index LIMIT @limit",
                ReadTask,
                cancellationToken,
                ("state", state.ToString()),
                ("limit", limit));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<TaskRecord>> ListLapsedLeasesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return QueryAsync(
            $"SELECT {TaskColumns} FROM {Schema}.tasks WHERE state = 'Leased' AND lease_expires_at <= @now ORDER BY lease_expires_at LIMIT @limit",
            ReadTask,
            cancellationToken,
            ("now", now.ToUniversalTime()),
            ("limit", limit));
    }

    /// <inheritdoc/>
    public async Task UpsertProviderAsync(ProviderRecord provider, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProvider(provider);
        await ExecuteAsync(
            $"""
            INSERT INTO {Schema}.providers (address_key, address, registered_at, last_seen_at, device, verified_frames, times_caught)
            VALUES (@key, @address, @registered, @seen, @device, @verified, @caught)
            ON CONFLICT (address_key) DO UPDATE SET
                address = EXCLUDED.address, registered_at = EXCLUDED.registered_at,
                last_seen_at = EXCLUDED.last_seen_at, device = EXCLUDED.device
            """,
            cancellationToken,
            ("key", provider.Address.ToLowerInvariant()),
            ("address", provider.Address),
            ("registered", provider.RegisteredAt.ToUniversalTime()),
            ("seen", provider.LastSeenAt.ToUniversalTime()),
            ("device", provider.Device),
            ("verified", provider.VerifiedFrames),
            ("caught", provider.TimesCaught)).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<ProviderRecord> AddProviderCountsAsync(string address, long verifiedFrames, int timesCaught, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProviderCounts(address, verifiedFrames, timesCaught);

        // One statement: the row lock of the upsert makes concurrent additions add up.
        IReadOnlyList<ProviderRecord> providers = await QueryAsync(
            $"""
            INSERT INTO {Schema}.providers AS p (address_key, address, registered_at, last_seen_at, device, verified_frames, times_caught)
            VALUES (@key, @address, @now, @now, NULL, @verified, @caught)
            ON CONFLICT (address_key) DO UPDATE SET
                verified_frames = p.verified_frames + EXCLUDED.verified_frames,
                times_caught = p.times_caught + EXCLUDED.times_caught
            RETURNING {ProviderColumns}
            """,
            ReadProvider,
            cancellationToken,
            ("key", address.ToLowerInvariant()),
            ("address", address),
            ("now", _timeProvider.GetUtcNow().ToUniversalTime()),
            ("verified", verifiedFrames),
            ("caught", timesCaught)).ConfigureAwait(false);
        return providers[0];
    }

    /// <inheritdoc/>
    public async Task<ProviderRecord?> GetProviderAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        IReadOnlyList<ProviderRecord> providers = await QueryAsync(
            $"SELECT {ProviderColumns} FROM {Schema}.providers WHERE address_key = @key",
            ReadProvider,
            cancellationToken,
            ("key", address.ToLowerInvariant())).ConfigureAwait(false);
        return providers.Count == 0 ? null : providers[0];
    }

    /// <inheritdoc/>
    public async Task<(long Frames, double Upper, double Lower)> GetProviderEvidenceAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        IReadOnlyList<(long, double, double)> rows = await QueryAsync(
            $"SELECT frames, upper_sum, lower_sum FROM {Schema}.provider_evidence WHERE address_key = @key",
            reader => (reader.GetInt64(0), reader.GetDouble(1), reader.GetDouble(2)),
            cancellationToken,
            ("key", address.ToLowerInvariant())).ConfigureAwait(false);
        return rows.Count == 0 ? default : rows[0];
    }

    /// <inheritdoc/>
    public async Task<(long Frames, double Upper, double Lower)> UpdateProviderEvidenceAsync(
        string address,
        Func<(long Frames, double Upper, double Lower), (long Frames, double Upper, double Lower)> update,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentNullException.ThrowIfNull(update);
        string key = address.ToLowerInvariant();
        while (true)
        {
            // The frame count is the row's version: an update applies only to the evidence it was computed from.
            (long Frames, double Upper, double Lower) stored = await GetProviderEvidenceAsync(address, cancellationToken).ConfigureAwait(false);
            (long Frames, double Upper, double Lower) updated = update(stored);
            FarmRecordRules.ValidateEvidence(stored.Frames, updated);
            int changed = await ExecuteAsync(
                $"""
                INSERT INTO {Schema}.provider_evidence AS e (address_key, frames, upper_sum, lower_sum)
                VALUES (@key, @frames, @upper, @lower)
                ON CONFLICT (address_key) DO UPDATE SET frames = EXCLUDED.frames, upper_sum = EXCLUDED.upper_sum, lower_sum = EXCLUDED.lower_sum
                WHERE e.frames = @stored
                """,
                cancellationToken,
                ("key", key),
                ("frames", updated.Frames),
                ("upper", updated.Upper),
                ("lower", updated.Lower),
                ("stored", stored.Frames)).ConfigureAwait(false);
            if (changed == 1)
            {
                return updated;
            }
        }
    }

    private static ProviderRecord ReadProvider(NpgsqlDataReader reader) => new()
    {
        Address = reader.GetString(0),
        RegisteredAt = reader.GetFieldValue<DateTimeOffset>(1),
        LastSeenAt = reader.GetFieldValue<DateTimeOffset>(2),
        Device = NullableString(reader, 3),
        VerifiedFrames = reader.GetInt64(4),
        TimesCaught = reader.GetInt32(5),
    };

    /// <inheritdoc/>
    public async Task<bool> TryConsumeOnceAsync(string value, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);

        // A row still live blocks the insert; an expired one is taken over, as if it had been deleted.
        int rows = await ExecuteAsync(
            $"""
            INSERT INTO {Schema}.once_values AS o (value, expires_at) VALUES (@value, @expires)
            ON CONFLICT (value) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE o.expires_at < @now
            """,
            cancellationToken,
            ("value", value),
            ("expires", expiresAt.ToUniversalTime()),
            ("now", _timeProvider.GetUtcNow().ToUniversalTime())).ConfigureAwait(false);
        return rows == 1;
    }

    /// <inheritdoc/>
    public async Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateApiKey(key);
        try
        {
            await ExecuteAsync(
                $"INSERT INTO {Schema}.api_keys ({ApiKeyColumns}) VALUES (@id, @account, @sha256, @created, @revoked)",
                cancellationToken,
                ("id", key.Id),
                ("account", key.Account),
                ("sha256", key.Sha256),
                ("created", key.CreatedAt.ToUniversalTime()),
                ("revoked", key.RevokedAt?.ToUniversalTime())).ConfigureAwait(false);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new InvalidOperationException($"API key {key.Id} already exists.", exception);
        }
    }

    /// <inheritdoc/>
    public async Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        IReadOnlyList<ApiKeyRecord> keys = await QueryAsync(
            $"SELECT {ApiKeyColumns} FROM {Schema}.api_keys WHERE id = @id",
            ReadApiKey,
            cancellationToken,
            ("id", id)).ConfigureAwait(false);
        return keys.Count == 0 ? null : keys[0];
    }

    /// <inheritdoc/>
    public async Task<bool> TryRevokeApiKeyAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        int rows = await ExecuteAsync(
            $"UPDATE {Schema}.api_keys SET revoked_at = @revoked WHERE id = @id AND revoked_at IS NULL",
            cancellationToken,
            ("id", id),
            ("revoked", revokedAt.ToUniversalTime())).ConfigureAwait(false);
        return rows == 1;
    }

    /// <inheritdoc/>
    public async Task<string> GetOrAddSecretAsync(string name, string candidate, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(candidate);

        // The no-op update makes RETURNING give the stored row when another insert came first.
        IReadOnlyList<string> stored = await QueryAsync(
            $"""
            INSERT INTO {Schema}.secrets AS s (name, value) VALUES (@name, @value)
            ON CONFLICT (name) DO UPDATE SET name = s.name
            RETURNING s.value
            """,
            reader => reader.GetString(0),
            cancellationToken,
            ("name", name),
            ("value", candidate)).ConfigureAwait(false);
        return stored[0];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<int>> LinkHangfireJobsAsync(Guid jobId, IReadOnlyList<(int Index, string HangfireJobId)> links, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateLinks(links);
        if (links.Count == 0)
        {
            return [];
        }

        // One statement for the whole batch; the state and the missing link are checked per row, as TryUpdateTaskAsync's
        // version check would.
        return await QueryAsync(
            $"""
            UPDATE {Schema}.tasks AS t SET hangfire_job_id = l.hangfire, version = t.version + 1
            FROM unnest(@indexes, @hangfire) AS l(task_index, hangfire)
            WHERE t.job_id = @job AND t.task_index = l.task_index AND t.state = 'Queued' AND t.hangfire_job_id IS NULL
            RETURNING t.task_index
            """,
            reader => reader.GetInt32(0),
            cancellationToken,
            ("job", jobId),
            ("indexes", links.Select(l => l.Index).ToArray()),
            ("hangfire", links.Select(l => l.HangfireJobId).ToArray())).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task AppendTaskEventsAsync(IReadOnlyList<TaskEventRecord> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        TaskEventRecord[] rows = [.. events.Select(FarmRecordRules.ValidateTaskEvent)];
        if (rows.Length == 0)
        {
            return;
        }

        // One statement for the batch; unnest keeps the given order, which the serial id then records.
        await ExecuteAsync(
            $"""
            INSERT INTO {Schema}.task_events (job_id, task_index, at, kind, provider, detail)
            SELECT * FROM unnest(@jobs::uuid[], @indexes::integer[], @ats::timestamptz[], @kinds::text[], @providers::text[], @details::text[])
            """,
            cancellationToken,
            ("jobs", rows.Select(e => e.JobId).ToArray()),
            ("indexes", rows.Select(e => e.TaskIndex).ToArray()),
            ("ats", rows.Select(e => e.At.ToUniversalTime()).ToArray()),
            ("kinds", rows.Select(e => e.Kind.ToString()).ToArray()),
            ("providers", rows.Select(e => e.Provider).ToArray()),
            ("details", rows.Select(e => e.Detail).ToArray())).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<TaskEventRecord>> GetTaskEventsAsync(Guid jobId, int taskIndex, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        IReadOnlyList<TaskEventRecord> newest = await QueryAsync(
            $"""
            SELECT job_id, task_index, at, kind, provider, detail FROM {Schema}.task_events
            WHERE job_id = @job AND task_index = @index ORDER BY id DESC LIMIT @limit
            """,
            reader => new TaskEventRecord
            {
                JobId = reader.GetGuid(0),
                TaskIndex = reader.GetInt32(1),
                At = reader.GetFieldValue<DateTimeOffset>(2),
                Kind = Enum.Parse<TaskEventKind>(reader.GetString(3)),
                Provider = NullableString(reader, 4),
                Detail = reader.GetString(5),
            },
            cancellationToken,
            ("job", jobId),
            ("index", taskIndex),
            ("limit", limit)).ConfigureAwait(false);
        return [.. newest.Reverse()];
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ProviderRecord>> ListProvidersAsync(int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return QueryAsync(
            $"SELECT {ProviderColumns} FROM {Schema}.providers ORDER BY last_seen_at DESC, address_key LIMIT @limit",
            ReadProvider,
            cancellationToken,
            ("limit", limit));
    }

    /// <summary>Deletes one-time values past their expiry; a maintenance job calls it now and then.</summary>
    /// <returns>How many were deleted.</returns>
    public Task<int> DeleteExpiredOnceValuesAsync(CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            $"DELETE FROM {Schema}.once_values WHERE expires_at < @now",
            cancellationToken,
            ("now", _timeProvider.GetUtcNow().ToUniversalTime()));

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => _ownsDataSource ? _dataSource.DisposeAsync() : ValueTask.CompletedTask;

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsDataSource)
        {
            _dataSource.Dispose();
        }
    }

    // Adds to a job's tallies in one statement, in the order given (JobTallies.Difference sorts them, so concurrent
    // writers lock the same rows in the same order). A counter is kept in TallyShards rows summed on read; a task writes
    // the shard of its index, so concurrent task writes of one job rarely wait on the same row lock (measured with one
    // row per counter: every completion of a job queued behind the others' on the Unfinished row until they committed).
    private static async Task AddTalliesAsync(
        NpgsqlConnection connection, Guid jobId, int shard, IReadOnlyList<(string Provider, JobTallyKind Kind, int Delta)> deltas, CancellationToken cancellationToken)
    {
        if (deltas.Count == 0)
        {
            return;
        }

        await ExecuteAsync(
            connection,
            $"""
            INSERT INTO {Schema}.job_tallies AS t (job_id, kind, provider, shard, n)
            SELECT @job, d.kind, d.provider, @shard, d.delta FROM unnest(@kinds, @providers, @deltas) WITH ORDINALITY AS d(kind, provider, delta, position)
            ORDER BY d.position
            ON CONFLICT (job_id, kind, provider, shard) DO UPDATE SET n = t.n + EXCLUDED.n
            """,
            cancellationToken,
            ("job", jobId),
            ("shard", (short)shard),
            ("kinds", deltas.Select(d => d.Kind.ToString()).ToArray()),
            ("providers", deltas.Select(d => d.Provider).ToArray()),
            ("deltas", deltas.Select(d => d.Delta).ToArray())).ConfigureAwait(false);
    }

    private static IEnumerable<(int Id, string Name, string Sql)> LoadMigrations()
    {
        Assembly assembly = typeof(PostgresFarmStore).Assembly;
        var migrations = new List<(int Id, string Name, string Sql)>();
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(MigrationResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            // Names are NNNN_description.sql; the number orders them and records them as applied.
            string name = resource[MigrationResourcePrefix.Length..^".sql".Length];
            int separator = name.IndexOf('_', StringComparison.Ordinal);
            if (separator <= 0 || !int.TryParse(name.AsSpan(0, separator), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
            {
                throw new InvalidOperationException($"Migration '{resource}' is not named NNNN_description.sql.");
            }

            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add((id, name, reader.ReadToEnd()));
        }

        return migrations.OrderBy(migration => migration.Id);
    }

    private static JobRecord ReadJob(NpgsqlDataReader reader) => new()
    {
        Id = reader.GetGuid(0),
        Spec = FromJsonb<RenderJobSpec>(reader, 1),
        State = Enum.Parse<JobState>(reader.GetString(2)),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(3),
        FinishedAt = NullableTime(reader, 4),
        Error = NullableString(reader, 5),
        Settlement = reader.IsDBNull(6) ? null : FromJsonb<JobSettlement>(reader, 6),
        Owner = NullableString(reader, 7),
        Paused = reader.GetBoolean(8),
    };

    private static ApiKeyRecord ReadApiKey(NpgsqlDataReader reader) => new()
    {
        Id = reader.GetString(0),
        Account = reader.GetString(1),
        Sha256 = reader.GetString(2),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(3),
        RevokedAt = NullableTime(reader, 4),
    };

    private static TaskRecord ReadTask(NpgsqlDataReader reader) => new()
    {
        JobId = reader.GetGuid(0),
        Index = reader.GetInt32(1),
        FirstFrame = reader.GetInt32(2),
        LastFrame = reader.GetInt32(3),
        State = Enum.Parse<FarmTaskState>(reader.GetString(4)),
        HangfireJobId = NullableString(reader, 5),
        Provider = NullableString(reader, 6),
        LeaseId = NullableString(reader, 7),
        LeaseExpiresAt = NullableTime(reader, 8),
        Attempts = reader.GetInt32(9),
        FailedBy = FromJsonb<string[]>(reader, 10),
        Outputs = FromJsonb<FrameOutput[]>(reader, 11),
        StartedAt = NullableTime(reader, 12),
        FinishedAt = NullableTime(reader, 13),
        Error = NullableString(reader, 14),
        Version = reader.GetInt64(15),
        Checks = FromJsonb<SpotCheckRecord[]>(reader, 16),
        RejectedBy = FromJsonb<string[]>(reader, 17),
        Failures = FromJsonb<TaskFailure[]>(reader, 18),
    };

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? NullableTime(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);

    private static T FromJsonb<T>(DbDataReader reader, int ordinal) =>
        JsonSerializer.Deserialize<T>(reader.GetString(ordinal), FarmJson.Options)
        ?? throw new InvalidDataException($"Column {reader.GetName(ordinal)} holds JSON null.");

    private static JsonbValue Jsonb<T>(T value) => new(JsonSerializer.Serialize(value, FarmJson.Options));

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type, CancellationToken cancellationToken) =>
        value is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, type, cancellationToken);

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using NpgsqlCommand command = CreateCommand(sql, parameters);
        command.Connection = connection;
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlCommand CreateCommand(string sql, (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql);
        foreach ((string name, object? value) in parameters)
        {
            command.Parameters.Add(value switch
            {
                JsonbValue json => new NpgsqlParameter(name, NpgsqlDbType.Jsonb) { Value = json.Text },
                null => new NpgsqlParameter(name, DBNull.Value),
                _ => new NpgsqlParameter(name, value),
            });
        }

        return command;
    }

    private async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await ExecuteAsync(connection, sql, cancellationToken, parameters).ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await using NpgsqlCommand command = CreateCommand(sql, parameters);
            command.Connection = connection;
            NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var results = new List<T>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    results.Add(read(reader));
                }

                return results;
            }
        }
    }

    // Marks a parameter as jsonb text, so it is not sent as a plain text parameter.
    private readonly record struct JsonbValue(string Text);
}
