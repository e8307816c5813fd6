using System.Globalization;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using Npgsql;
using NpgsqlTypes;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// Batches on Hangfire.PostgreSql in one statement each: a batch's jobs are created by one multi-row insert and enqueued
/// by one statement that writes their states, their queue entries and their expiry together. The rows are those that
/// Hangfire.PostgreSql's <c>CreateExpiredJob</c>, <c>SetJobState</c>, <c>AddToQueue</c> and <c>PersistJob</c> write, with
/// the job and state data serialized by Hangfire's own serializer; the library has no batched job creation of its own
/// (its write transaction does not implement Hangfire 1.8's <c>CreateJob</c>, and runs each command as a round trip).
/// </summary>
/// <remarks>
/// Writing another library's tables is guarded by its schema version: on a schema this code does not know (a later
/// Hangfire.PostgreSql) every batch goes through <paramref name="fallback"/>, the storage API, instead.
/// </remarks>
internal sealed class PostgresTaskBatches(string connectionString, string schema, ITaskBatches fallback) : ITaskBatches
{
    /// <summary>
    /// Hangfire.PostgreSql schema versions whose job, state and jobqueue tables have the columns written here (v19 made
    /// the timestamps <c>timestamptz</c>; 1.21.x installs v23).
    /// </summary>
    internal const int MinSchemaVersion = 19;

    /// <inheritdoc cref="MinSchemaVersion"/>
    internal const int MaxSchemaVersion = 23;

    private readonly string _quoted = "\"" + schema.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    private readonly Lock _gate = new();
    private Task<bool>? _known;

    /// <inheritdoc/>
    public async Task<IReadOnlyList<(int Index, string HangfireJobId)>> CreateAsync(Guid jobId, IReadOnlyList<int> indexes, TimeSpan expireIn, CancellationToken cancellationToken)
    {
        if (!await KnownSchemaAsync(cancellationToken).ConfigureAwait(false))
        {
            return await fallback.CreateAsync(jobId, indexes, expireIn, cancellationToken).ConfigureAwait(false);
        }

        var invocations = new string[indexes.Count];
        var arguments = new string[indexes.Count];
        for (int i = 0; i < indexes.Count; i++)
        {
            var invocation = InvocationData.SerializeJob(new Job(HangfireTaskBatches.RenderMethod, jobId, indexes[i]));
            invocations[i] = SerializationHelper.Serialize(invocation);
            arguments[i] = invocation.Arguments;
        }

        DateTime createdAt = DateTime.UtcNow;

        // Ids drawn from the job table's own sequence in the input's order, so each row's id is known without relying
        // on the order of RETURNING.
        string sql = $"""
            WITH input AS MATERIALIZED (
                SELECT nextval(pg_get_serial_sequence('{_quoted}."job"', 'id')) AS id, t.task_index, t.invocation, t.arguments
                FROM unnest(@indexes, @invocations, @arguments) WITH ORDINALITY AS t(task_index, invocation, arguments, n)
                ORDER BY t.n
            ), created AS (
                INSERT INTO {_quoted}."job" ("id", "invocationdata", "arguments", "createdat", "expireat")
                SELECT id, invocation::jsonb, arguments::jsonb, @created, @expire FROM input
            )
            SELECT task_index, id FROM input
            """;
        await using NpgsqlConnection connection = new(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter("indexes", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = indexes.ToArray() });
        command.Parameters.Add(new NpgsqlParameter("invocations", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = invocations });
        command.Parameters.Add(new NpgsqlParameter("arguments", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = arguments });
        command.Parameters.Add(new NpgsqlParameter("created", NpgsqlDbType.TimestampTz) { Value = createdAt });
        command.Parameters.Add(new NpgsqlParameter("expire", NpgsqlDbType.TimestampTz) { Value = createdAt.Add(expireIn) });
        var created = new List<(int Index, string HangfireJobId)>(indexes.Count);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            created.Add((reader.GetInt32(0), reader.GetInt64(1).ToString(CultureInfo.InvariantCulture)));
        }

        return created;
    }

    /// <inheritdoc/>
    public async Task<int> EnqueueAsync(IReadOnlyList<string> hangfireJobIds, string queue, CancellationToken cancellationToken)
    {
        if (hangfireJobIds.Count == 0)
        {
            return 0;
        }

        if (!await KnownSchemaAsync(cancellationToken).ConfigureAwait(false))
        {
            return await fallback.EnqueueAsync(hangfireJobIds, queue, cancellationToken).ConfigureAwait(false);
        }

        long[] ids = new long[hangfireJobIds.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = long.Parse(hangfireJobIds[i], NumberStyles.None, CultureInfo.InvariantCulture);
        }

        var state = new EnqueuedState(queue);

        // Only jobs still without a state (locked, so a concurrent enqueue of the same job waits and then skips it): the
        // state row and the job's current state as SetJobState writes them, the queue entry as AddToQueue does, the
        // expiry cleared as PersistJob does. One statement, so all or none. The notification (one per transaction: PostgreSQL
        // folds identical ones) reaches every coordinator's listener as the statement commits, as Hangfire.PostgreSql's own
        // NOTIFY inside its enqueue transaction did, rather than a round trip later.
        string sql = $"""
            WITH target AS MATERIALIZED (
                SELECT j."id" FROM {_quoted}."job" j WHERE j."id" = ANY(@ids) AND j."statename" IS NULL FOR UPDATE
            ), states AS (
                INSERT INTO {_quoted}."state" ("jobid", "name", "reason", "createdat", "data")
                SELECT "id", @name, NULL, @now, @data::jsonb FROM target
                RETURNING "id", "jobid"
            ), jobs AS (
                UPDATE {_quoted}."job" j SET "stateid" = s."id", "statename" = @name, "expireat" = NULL
                FROM states s WHERE j."id" = s."jobid"
            ), entries AS (
                INSERT INTO {_quoted}."jobqueue" ("jobid", "queue") SELECT "id", @queue FROM target
            )
            SELECT count(*) FROM (SELECT pg_notify(@channel, @queue) FROM target) AS announced
            """;
        await using NpgsqlConnection connection = new(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = ids });
        command.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = state.Name });
        command.Parameters.Add(new NpgsqlParameter("now", NpgsqlDbType.TimestampTz) { Value = DateTime.UtcNow });
        command.Parameters.Add(new NpgsqlParameter("data", NpgsqlDbType.Text) { Value = SerializationHelper.Serialize(state.SerializeData()) });
        command.Parameters.Add(new NpgsqlParameter("queue", NpgsqlDbType.Text) { Value = queue });
        command.Parameters.Add(new NpgsqlParameter("channel", NpgsqlDbType.Text) { Value = Leasing.PostgresQueueNotifications.PutBackChannel });
        return checked((int)(long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!);
    }

    // Read once per instance; a failed read is tried again by the next batch.
    private Task<bool> KnownSchemaAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_known is null || _known.IsFaulted || _known.IsCanceled)
            {
                _known = ReadSchemaVersionAsync(cancellationToken);
            }

            return _known;
        }
    }

    private async Task<bool> ReadSchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using NpgsqlConnection connection = new(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT max(\"version\") FROM {_quoted}.\"schema\"", connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is int version
            && version is >= MinSchemaVersion and <= MaxSchemaVersion;
    }
}
