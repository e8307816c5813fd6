using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Npgsql;

namespace RenderFarm.Benchmarks;

/// <summary>
/// <c>leases --profile</c>: where a task's time goes. Listens to the coordinator's stage histogram (meter
/// <c>RenderFarm.Coordinator.LeasePath</c>) while the providers work, and on PostgreSQL reads pg_stat_statements
/// (the bench's server preloads it) for every statement the run sent: calls per task and server time.
/// </summary>
internal sealed class LeaseProfile : IDisposable
{
    /// <summary>Settings for the bench's PostgreSQL server when profiling.</summary>
    public const string PostgresSettings = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.max=1000";

    // The coordinator's names (LeasePathProfile is internal to it).
    private const string MeterName = "RenderFarm.Coordinator.LeasePath";
    private const string InstrumentName = "renderfarm.lease_path.stage";

    private readonly ConcurrentDictionary<string, ConcurrentBag<double>> _stages = new(StringComparer.Ordinal);
    private readonly MeterListener _listener = new();
    private readonly string? _connectionString;

    private LeaseProfile(string? connectionString)
    {
        _connectionString = connectionString;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && instrument.Name == InstrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string stage = "?";
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "stage" && tag.Value is string name)
                {
                    stage = name;
                }
            }

            _stages.GetOrAdd(stage, _ => []).Add(value);
        });
    }

    /// <summary>Starts listening and, on PostgreSQL, resets the statement statistics.</summary>
    public static async Task<LeaseProfile> StartAsync(string? connectionString)
    {
        if (connectionString is not null)
        {
            await ExecuteAsync(connectionString, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();");
        }

        var profile = new LeaseProfile(connectionString);
        profile._listener.Start();
        return profile;
    }

    /// <summary>Stops listening and prints both tables, per task of <paramref name="tasks"/>.</summary>
    public async Task PrintAsync(int tasks)
    {
        _listener.Dispose();
        Console.WriteLine();
        Console.WriteLine($"  profile: coordinator stages over {tasks} tasks (ms; a stage of the lease loop counts once per look or grant)");
        Console.WriteLine("| stage | per task | mean | p50 | p99 | ms per task |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach ((string stage, ConcurrentBag<double> values) in _stages.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var stats = new Stats(values);
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {stage} | {(double)stats.Count / tasks:0.00} | {stats.Mean:0.00} | {stats.Percentile(50):0.00} | {stats.Percentile(99):0.00} | {values.Sum() / tasks:0.00} |"));
        }

        if (_connectionString is null)
        {
            return;
        }

        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false, ApplicationName = "bench-profile" }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT calls, total_exec_time, rows, regexp_replace(query, '\s+', ' ', 'g')
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND query NOT ILIKE '%pg_stat_%'
            ORDER BY calls DESC
            """,
            connection);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        var rows = new List<(long Calls, double Ms, long Rows, string Query)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt64(0), reader.GetDouble(1), reader.GetInt64(2), reader.GetString(3)));
        }

        long calls = rows.Sum(r => r.Calls);
        double ms = rows.Sum(r => r.Ms);
        Console.WriteLine();
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  profile: PostgreSQL statements during the run (pg_stat_statements, server execution time only): {calls} calls = {(double)calls / tasks:0.0} per task, {ms / tasks:0.00} ms of server time per task"));
        Console.WriteLine("| calls per task | server ms per task | mean ms | statement |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach ((long rowCalls, double rowMs, _, string query) in rows.Where(r => r.Calls >= tasks / 20).Take(30))
        {
            string text = query.Length > 160 ? query[..160] + " …" : query;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {(double)rowCalls / tasks:0.00} | {rowMs / tasks:0.000} | {rowMs / rowCalls:0.000} | `{text.Replace("|", "\\|", StringComparison.Ordinal)}` |"));
        }
    }

    public void Dispose() => _listener.Dispose();

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "bench-profile" }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
