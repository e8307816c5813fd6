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
public sealed partial class PostgresFarmStore : IFarmStore, IAsyncDisposable, IDisposable
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
    public ValueTask DisposeAsync() => _ownsDataSource ? _dataSource.DisposeAsync() : ValueTask.CompletedTask;

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsDataSource)
        {
            _dataSource.Dispose();
        }
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

    private static NpgsqlBatchCommand BatchCommand(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach ((string name, object? value) in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
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
