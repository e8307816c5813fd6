using Npgsql;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <content>Tasks: their records, links to Hangfire jobs and timelines.</content>
public sealed partial class PostgresFarmStore
{
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
                        {TaskSetClause}
                    FROM (SELECT job_id, task_index, state, failed_by, rejected_by, checks FROM {Schema}.tasks
                          WHERE job_id = @job AND task_index = @index AND version = @version FOR UPDATE) old
                    WHERE t.job_id = old.job_id AND t.task_index = old.task_index AND t.version = @version
                    RETURNING old.state, old.failed_by, old.rejected_by, old.checks
                    """,
                    [
                        ("job", updated.JobId),
                        ("index", updated.Index),
                        ("version", updated.Version),
                        .. TaskSetValues(updated),
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
    public async Task<bool> TryReplaceTaskAsync(TaskRecord stored, TaskRecord updated, IReadOnlyList<TaskEventRecord> events, CancellationToken cancellationToken = default)
    {
        TaskEventRecord[] rows = FarmRecordRules.ValidateReplace(stored, updated, events);

        IReadOnlyList<(string Provider, JobTallyKind Kind, int Delta)> deltas = JobTallies.Difference(stored, updated);

        // One statement, so one round trip and atomic without a transaction of its own: the row is replaced when it is
        // still the record the caller read (its version, and the state and lists the tallies count, so a wrong record
        // given as stored cannot skew a counter), and only then are the tallies and the timeline written.
        IReadOnlyList<int> changed = await QueryAsync(
            $"""
            WITH changed AS (
                UPDATE {Schema}.tasks t SET
                    {TaskSetClause}
                WHERE t.job_id = @job AND t.task_index = @index AND t.version = @version AND t.state = @oldState
                    AND t.failed_by = @oldFailedBy AND t.rejected_by = @oldRejectedBy AND t.checks = @oldChecks
                RETURNING t.task_index
            ), tallied AS (
                INSERT INTO {Schema}.job_tallies AS j (job_id, kind, provider, shard, n)
                SELECT @job, d.kind, d.provider, @shard, d.delta
                FROM unnest(@kinds::text[], @providers::text[], @deltas::integer[]) WITH ORDINALITY AS d(kind, provider, delta, position)
                WHERE EXISTS (SELECT FROM changed)
                ORDER BY d.position
                ON CONFLICT (job_id, kind, provider, shard) DO UPDATE SET n = j.n + EXCLUDED.n
            ), logged AS (
                INSERT INTO {Schema}.task_events (job_id, task_index, at, kind, provider, detail)
                SELECT @job, @index, e.at, e.kind, e.provider, e.detail
                FROM unnest(@ats::timestamptz[], @eventKinds::text[], @eventProviders::text[], @details::text[]) WITH ORDINALITY AS e(at, kind, provider, detail, position)
                WHERE EXISTS (SELECT FROM changed)
                ORDER BY e.position
            )
            SELECT task_index FROM changed
            """,
            reader => reader.GetInt32(0),
            cancellationToken,
            [
                ("job", updated.JobId),
                ("index", updated.Index),
                ("version", updated.Version),
                ("oldState", stored.State.ToString()),
                ("oldFailedBy", Jsonb(stored.FailedBy)),
                ("oldRejectedBy", Jsonb(stored.RejectedBy)),
                ("oldChecks", Jsonb(stored.Checks)),
                .. TaskSetValues(updated),
                ("shard", (short)(updated.Index % TallyShards)),
                ("kinds", deltas.Select(d => d.Kind.ToString()).ToArray()),
                ("providers", deltas.Select(d => d.Provider).ToArray()),
                ("deltas", deltas.Select(d => d.Delta).ToArray()),
                ("ats", rows.Select(e => e.At.ToUniversalTime()).ToArray()),
                ("eventKinds", rows.Select(e => e.Kind.ToString()).ToArray()),
                ("eventProviders", rows.Select(e => e.Provider).ToArray()),
                ("details", rows.Select(e => e.Detail).ToArray()),
            ]).ConfigureAwait(false);
        return changed.Count == 1;
    }

    // The columns a task update writes, in the statements of both update paths.
    private const string TaskSetClause =
        """
        first_frame = @first, last_frame = @last, state = @state, hangfire_job_id = @hangfire,
        provider = @provider, lease_id = @lease, lease_expires_at = @leaseExpires, attempts = @attempts,
        failed_by = @failedBy, outputs = @outputs, started_at = @started, finished_at = @finished,
        error = @error, checks = @checks, rejected_by = @rejectedBy, failures = @failures, version = t.version + 1
        """;

    private static (string Name, object? Value)[] TaskSetValues(TaskRecord updated) =>
    [
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
    ];

    /// <inheritdoc/>
    public async Task<TaskWithJob> GetTaskWithJobAsync(Guid jobId, int index, string? provider = null, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Two or three queries in one batch: one round trip.
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommands.Add(BatchCommand($"SELECT {TaskColumns} FROM {Schema}.tasks WHERE job_id = @job AND task_index = @index", ("job", jobId), ("index", index)));
            batch.BatchCommands.Add(BatchCommand($"SELECT {JobColumns} FROM {Schema}.jobs WHERE id = @id", ("id", jobId)));
            if (provider is not null)
            {
                ArgumentException.ThrowIfNullOrEmpty(provider);
                batch.BatchCommands.Add(BatchCommand(
                    $"SELECT kind, sum(n)::integer FROM {Schema}.job_tallies WHERE job_id = @job AND provider = @provider GROUP BY kind",
                    ("job", jobId),
                    ("provider", JobTallies.Key(provider))));
            }

            NpgsqlDataReader reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                TaskRecord? task = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadTask(reader) : null;
                await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
                JobRecord? job = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadJob(reader) : null;
                var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
                if (provider is not null && await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        kinds[reader.GetString(0)] = reader.GetInt32(1);
                    }
                }

                int Of(JobTallyKind kind) => kinds.GetValueOrDefault(kind.ToString());
                return new TaskWithJob(task, job, new ProviderTally(Of(JobTallyKind.Failed), Of(JobTallyKind.Rejected), Of(JobTallyKind.Sampled)));
            }
        }
    }

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
}
