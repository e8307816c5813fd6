using Npgsql;
using NpgsqlTypes;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <content>Jobs: their records, states and tallies.</content>
public sealed partial class PostgresFarmStore
{
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
}
