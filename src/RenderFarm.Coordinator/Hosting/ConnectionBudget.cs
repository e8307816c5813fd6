using Microsoft.Extensions.Configuration;
using Npgsql;
using RenderFarm.Core;

namespace RenderFarm.Coordinator;

/// <summary>
/// The PostgreSQL connections one coordinator may open, set explicitly rather than left to Npgsql's default of 100 per
/// pool (two pools of 100 exceed PostgreSQL's default <c>max_connections</c> of 100 on their own). docs/operations.md
/// adds them up for several coordinators.
/// </summary>
/// <remarks>
/// Per coordinator: the farm store's pool (<c>Postgres:FarmStorePoolSize</c>, default <see cref="DefaultFarmStorePoolSize"/>),
/// Hangfire's pool (<c>Postgres:HangfirePoolSize</c>, default <see cref="DefaultHangfirePoolSize"/>; it serves the
/// coordinator's Hangfire server, whose workers each hold a LISTEN connection while they wait, the dashboard, state
/// changes and the lease looks), one unpooled listening connection, and
/// <see cref="Leasing.PostgresQueueNotifications.NotifyPoolSize"/> for put-back notifications. Each pool's connections
/// carry an application name, so <c>pg_stat_activity</c> shows who holds what.
/// </remarks>
internal static class ConnectionBudget
{
    /// <summary>Default size of the farm store's pool.</summary>
    public const int DefaultFarmStorePoolSize = 30;

    /// <summary>Default size of Hangfire's pool.</summary>
    public const int DefaultHangfirePoolSize = 40;

    /// <summary>Largest pool size accepted from configuration.</summary>
    public const int MaxPoolSize = 1000;

    /// <summary>The farm store's and Hangfire's connection strings, each with its pool size and application name.</summary>
    /// <exception cref="UserInputException">A pool size is not a whole number from 2 to <see cref="MaxPoolSize"/>.</exception>
    public static (string FarmStore, string Hangfire) Apply(string connectionString, IConfiguration configuration)
    {
        int farm = PoolSize(configuration, "Postgres:FarmStorePoolSize", DefaultFarmStorePoolSize);
        int hangfire = PoolSize(configuration, "Postgres:HangfirePoolSize", DefaultHangfirePoolSize);
        var farmStore = new NpgsqlConnectionStringBuilder(With(connectionString, farm, "renderfarm-farm"))
        {
            // The farm store keeps no session state (no LISTEN, session locks, temporary tables or prepared statements),
            // so a connection going back to the pool needs no DISCARD ALL: profiled, a third of all statements per task.
            NoResetOnClose = true,
        };
        return (farmStore.ConnectionString, With(connectionString, hangfire, "renderfarm-hangfire"));
    }

    private static string With(string connectionString, int poolSize, string applicationName)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = poolSize,
        };
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = applicationName;
        }

        return builder.ConnectionString;
    }

    private static int PoolSize(IConfiguration configuration, string key, int fallback)
    {
        string? text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int size) && size is >= 2 and <= MaxPoolSize
            ? size
            : throw new UserInputException($"{key} must be a whole number from 2 to {MaxPoolSize}; got '{(text.Length > 20 ? text[..20] + "…" : text)}'.");
    }
}
