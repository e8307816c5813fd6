using Hangfire.Common;
using Hangfire.States;
using Npgsql;
using NpgsqlTypes;
using RenderFarm.Coordinator.Jobs;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// A Hangfire state that the farm record has already decided (Leased, Succeeded), written on Hangfire.PostgreSql in one
/// statement and one round trip: the rows Hangfire.PostgreSql's write transaction writes for <c>SetJobState</c> (and,
/// for a final state, <c>ExpireJob</c> and the dashboard's three <c>IncrementCounter</c>s), with the state data
/// serialized by Hangfire's own serializer. Through the write transaction the same change is a transaction of one to
/// five commands, each a round trip of its own.
/// </summary>
/// <remarks>
/// Guarded like <see cref="PostgresTaskBatches"/>: on a Hangfire.PostgreSql schema this code does not know,
/// <see cref="TryWrite"/> answers false and the caller writes through the storage API.
/// </remarks>
internal sealed class PostgresHangfireStates(string connectionString, string schema)
{
    private readonly string _quoted = "\"" + schema.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    private readonly Lock _gate = new();
    private bool? _known;

    /// <summary>
    /// Sets <paramref name="hangfireJobId"/>'s state; with <paramref name="expireIn"/>, also its expiry and the
    /// dashboard's counters of the state (<c>stats:name</c>, its daily and its hourly history).
    /// </summary>
    /// <returns>False when the schema is not one this code writes (nothing was written).</returns>
    public bool TryWrite(string hangfireJobId, IState state, TimeSpan? expireIn)
    {
        if (!KnownSchema())
        {
            return false;
        }

        long id = long.Parse(hangfireJobId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture);
        DateTime now = DateTime.UtcNow;
        string counters = "";
        if (expireIn is not null)
        {
            // As SucceededState's handler and StatisticsHistoryAttribute count them.
            counters = $"""
                , counted AS (
                    INSERT INTO {_quoted}."counter" ("key", "value", "expireat")
                    VALUES (@total, 1, NULL), (@daily, 1, @dailyExpiry), (@hourly, 1, @hourlyExpiry)
                )
                """;
        }

        string sql = $"""
            WITH added AS (
                INSERT INTO {_quoted}."state" ("jobid", "name", "reason", "createdat", "data")
                VALUES (@id, @name, @reason, @now, @data::jsonb)
                RETURNING "id"
            ){counters}
            UPDATE {_quoted}."job" j SET "stateid" = added."id", "statename" = @name{(expireIn is null ? "" : ", \"expireat\" = @expireAt")}
            FROM added WHERE j."id" = @id
            """;
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Bigint) { Value = id });
        command.Parameters.Add(new NpgsqlParameter("name", NpgsqlDbType.Text) { Value = state.Name });
        command.Parameters.Add(new NpgsqlParameter("reason", NpgsqlDbType.Text) { Value = (object?)state.Reason ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("now", NpgsqlDbType.TimestampTz) { Value = now });
        command.Parameters.Add(new NpgsqlParameter("data", NpgsqlDbType.Text) { Value = SerializationHelper.Serialize(state.SerializeData()) });
        if (expireIn is { } expiry)
        {
            string counter = "stats:" + state.Name.ToLowerInvariant();
            command.Parameters.Add(new NpgsqlParameter("expireAt", NpgsqlDbType.TimestampTz) { Value = now + expiry });
            command.Parameters.Add(new NpgsqlParameter("total", NpgsqlDbType.Text) { Value = counter });
            command.Parameters.Add(new NpgsqlParameter("daily", NpgsqlDbType.Text) { Value = $"{counter}:{now.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)}" });
            command.Parameters.Add(new NpgsqlParameter("dailyExpiry", NpgsqlDbType.TimestampTz) { Value = now.AddMonths(1) });
            command.Parameters.Add(new NpgsqlParameter("hourly", NpgsqlDbType.Text) { Value = $"{counter}:{now.ToString("yyyy-MM-dd-HH", System.Globalization.CultureInfo.InvariantCulture)}" });
            command.Parameters.Add(new NpgsqlParameter("hourlyExpiry", NpgsqlDbType.TimestampTz) { Value = now.AddDays(1) });
        }

        command.ExecuteNonQuery();
        return true;
    }

    /// <summary>
    /// The state names of the Hangfire jobs named, in one query (null for a job that is gone): the invariant sweep reads
    /// a page of Queued tasks' Hangfire states at once instead of one <c>GetJobData</c> round trip each.
    /// </summary>
    /// <returns>Null when the schema is not one this code reads, or an id is not one Hangfire.PostgreSql issues.</returns>
    public IReadOnlyDictionary<string, string?>? TryReadStates(IReadOnlyCollection<string> hangfireJobIds)
    {
        var ids = new List<long>(hangfireJobIds.Count);
        foreach (string hangfireJobId in hangfireJobIds)
        {
            if (!long.TryParse(hangfireJobId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long id))
            {
                return null;
            }

            ids.Add(id);
        }

        if (!KnownSchema())
        {
            return null;
        }

        var found = new Dictionary<long, string?>();
        using (var connection = new NpgsqlConnection(connectionString))
        {
            connection.Open();
            using var command = new NpgsqlCommand($"SELECT \"id\", \"statename\" FROM {_quoted}.\"job\" WHERE \"id\" = ANY(@ids)", connection);
            command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = ids.ToArray() });
            using NpgsqlDataReader reader = command.ExecuteReader();
            while (reader.Read())
            {
                found[reader.GetInt64(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
            }
        }

        var states = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (string hangfireJobId in hangfireJobIds)
        {
            states[hangfireJobId] = found.GetValueOrDefault(long.Parse(hangfireJobId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture));
        }

        return states;
    }

    // Read once; a failed read is tried again by the next write.
    private bool KnownSchema()
    {
        lock (_gate)
        {
            if (_known is { } known)
            {
                return known;
            }
        }

        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"SELECT max(\"version\") FROM {_quoted}.\"schema\"", connection);
        bool result = command.ExecuteScalar() is int version
            && version is >= PostgresTaskBatches.MinSchemaVersion and <= PostgresTaskBatches.MaxSchemaVersion;
        lock (_gate)
        {
            _known = result;
        }

        return result;
    }
}
