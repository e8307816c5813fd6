using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Microsoft.Extensions.Configuration;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Ledger;
using RenderFarm.Core.Storage;
using RenderFarm.Ledger;
using RenderFarm.Storage;

namespace RenderFarm.Coordinator;

/// <summary>The three stores a coordinator runs on: farm records, objects and Hangfire's queues.</summary>
public sealed class CoordinatorBackends
{
    private readonly Lock _initializeGate = new();
    private Task? _initialization;

    /// <summary>Wraps existing stores; the caller keeps ownership of them.</summary>
    /// <param name="farmStore">Jobs, tasks and providers.</param>
    /// <param name="objectStore">Scenes and frames.</param>
    /// <param name="jobStorage">Hangfire's storage: queues and job states.</param>
    public CoordinatorBackends(IFarmStore farmStore, IObjectStore objectStore, JobStorage jobStorage)
    {
        ArgumentNullException.ThrowIfNull(farmStore);
        ArgumentNullException.ThrowIfNull(objectStore);
        ArgumentNullException.ThrowIfNull(jobStorage);
        FarmStore = farmStore;
        ObjectStore = objectStore;
        JobStorage = jobStorage;
    }

    /// <summary>Jobs, tasks and providers.</summary>
    public IFarmStore FarmStore { get; }

    /// <summary>Scenes and frames.</summary>
    public IObjectStore ObjectStore { get; }

    /// <summary>Hangfire's storage.</summary>
    public JobStorage JobStorage { get; }

    /// <summary>
    /// The one-process farm: Hangfire.InMemory, an in-memory farm store and a local-directory object
    /// store under <paramref name="dataDirectory"/> whose presigned URLs point at the coordinator.
    /// </summary>
    /// <param name="dataDirectory">Folder for objects; created when missing.</param>
    /// <param name="timeProvider">Clock of the farm store, of presigned URLs and of the ledger's stake withdrawals; the system clock when null.</param>
    /// <param name="ledgerPath">The offline ledger file; by default <c>ledger/offline-ledger.json</c> in <paramref name="dataDirectory"/> (beside the objects, out of their reach).</param>
    public static CoordinatorBackends CreateEmbedded(string dataDirectory, TimeProvider? timeProvider = null, string? ledgerPath = null) => new(
        new InMemoryFarmStore(timeProvider),
        new LocalDirectoryObjectStore(dataDirectory, timeProvider: timeProvider),
        new InMemoryStorage())
    {
        Ledger = new OfflineLedger(ledgerPath ?? Path.Combine(dataDirectory, "ledger", "offline-ledger.json"), timeProvider: timeProvider),
    };

    /// <summary>
    /// Stores chosen by configuration: with <c>ConnectionStrings:Postgres</c> Hangfire.PostgreSql and
    /// the PostgreSQL farm store, otherwise the in-memory ones; with <c>Storage:S3:ServiceUrl</c> (plus
    /// <c>Bucket</c>, <c>AccessKey</c>, <c>SecretKey</c>, <c>Region</c>, and <c>PublicServiceUrl</c> for the address
    /// presigned URLs name when providers reach the store elsewhere) an S3-compatible store,
    /// otherwise a local-directory store under <c>Storage:Directory</c> (default: renderfarm-data in
    /// the temporary folder). Call <see cref="InitializeAsync"/> before serving (the host does). No ledger:
    /// <see cref="FromConfigurationAsync"/> adds the configured one.
    /// </summary>
    /// <param name="configuration">The application's configuration.</param>
    /// <param name="timeProvider">Clock of the stores; the system clock when null.</param>
    public static CoordinatorBackends FromConfiguration(IConfiguration configuration, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        IObjectStore objects;
        IConfigurationSection s3 = configuration.GetSection("Storage:S3");
        if (s3["ServiceUrl"] is { Length: > 0 } serviceUrl)
        {
            objects = new S3ObjectStore(new S3StorageOptions(
                new Uri(serviceUrl),
                s3["Bucket"] ?? "renderfarm",
                s3["AccessKey"] ?? throw new InvalidOperationException("Storage:S3:AccessKey is required with Storage:S3:ServiceUrl."),
                s3["SecretKey"] ?? throw new InvalidOperationException("Storage:S3:SecretKey is required with Storage:S3:ServiceUrl."),
                s3["Region"] ?? "us-east-1",
                s3["PublicServiceUrl"] is { Length: > 0 } publicUrl ? new Uri(publicUrl) : null));
        }
        else
        {
            string directory = configuration["Storage:Directory"] is { Length: > 0 } configured
                ? configured
                : Path.Combine(Path.GetTempPath(), "renderfarm-data");
            objects = new LocalDirectoryObjectStore(directory, timeProvider: timeProvider);
        }

        if (configuration.GetConnectionString("Postgres") is { Length: > 0 } connectionString)
        {
            var hangfireOptions = new PostgreSqlStorageOptions
            {
                SchemaName = HangfireSchema,
                PrepareSchemaIfNecessary = true,

                // Every enqueue NOTIFYs new_job inside its transaction; one listening connection per coordinator turns
                // that into in-process wake-ups of waiting lease polls (PostgresQueueNotifications).
                EnableLongPolling = true,
                QueuePollInterval = TimeSpan.FromSeconds(2),

                // Locks are rows: one left by a killed coordinator blocks its successor until it times out
                // (10 minutes by default). Every lock here is held for milliseconds, so a minute is ample.
                DistributedLockTimeout = TimeSpan.FromMinutes(1),

                // An entry a lease request fetched is invisible to others while the request holds it. Sliding: the
                // holder's coordinator refreshes it every few seconds (a Hangfire server component), so one killed
                // mid-lease frees its entries within InvisibilityTimeout instead of the default 30 minutes.
                UseSlidingInvisibilityTimeout = true,
                InvisibilityTimeout = TimeSpan.FromSeconds(15),
            };

            // Lease looks run on a second storage over the same database and pool without long polling: with it, every
            // FetchNextJob opens a LISTEN connection of its own for the length of the call.
            var fetchOptions = new PostgreSqlStorageOptions
            {
                SchemaName = hangfireOptions.SchemaName,
                PrepareSchemaIfNecessary = false,
                EnableLongPolling = false,
                QueuePollInterval = hangfireOptions.QueuePollInterval,
                DistributedLockTimeout = hangfireOptions.DistributedLockTimeout,

                // Entries are fetched through this storage, so its options decide how long they stay invisible.
                UseSlidingInvisibilityTimeout = hangfireOptions.UseSlidingInvisibilityTimeout,
                InvisibilityTimeout = hangfireOptions.InvisibilityTimeout,
            };
            (string farmConnection, string hangfireConnection) = ConnectionBudget.Apply(connectionString, configuration);
            return new CoordinatorBackends(
                new PostgresFarmStore(farmConnection, timeProvider),
                objects,
                new PostgreSqlStorage(new NpgsqlConnectionFactory(hangfireConnection, hangfireOptions), hangfireOptions))
            {
                FetchStorage = new PostgreSqlStorage(new NpgsqlConnectionFactory(hangfireConnection, fetchOptions), fetchOptions),
                QueueNotifications = hangfireConnection,
            };
        }

        return new CoordinatorBackends(new InMemoryFarmStore(timeProvider), objects, new InMemoryStorage());
    }

    /// <summary>
    /// <see cref="FromConfiguration"/> plus the ledger the configuration names (see <see cref="LedgerConfiguration"/>),
    /// connected and checked: the standalone coordinator's stores.
    /// </summary>
    /// <param name="configuration">The application's configuration.</param>
    /// <param name="timeProvider">Clock of the stores; the system clock when null.</param>
    /// <param name="cancellationToken">Stops connecting.</param>
    /// <exception cref="Core.UserInputException">A ledger setting is missing or malformed.</exception>
    /// <exception cref="LedgerException">The configured chain cannot be reached or does not match.</exception>
    public static async Task<CoordinatorBackends> FromConfigurationAsync(
        IConfiguration configuration, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        CoordinatorBackends stores = FromConfiguration(configuration, timeProvider);
        return new CoordinatorBackends(stores.FarmStore, stores.ObjectStore, stores.JobStorage)
        {
            FetchStorage = stores.FetchStorage,
            QueueNotifications = stores.QueueNotifications,
            Ledger = await LedgerConfiguration.OpenAsync(configuration, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>The schema of Hangfire.PostgreSql's tables.</summary>
    internal const string HangfireSchema = "hangfire";

    /// <summary>Storage that lease polls fetch from, when it differs from <see cref="JobStorage"/> (see <see cref="Leasing.QueueFetcher"/>).</summary>
    internal JobStorage? FetchStorage { get; init; }

    /// <summary>The Hangfire database's connection string where waiting polls are woken by LISTEN/NOTIFY; null: in-process signals.</summary>
    internal string? QueueNotifications { get; init; }

    /// <summary>The token ledger settlements pay through, or null when none is configured (settlements then pay nothing).</summary>
    public ILedger? Ledger { get; init; }

    /// <summary>
    /// Migrates the PostgreSQL farm store and creates the S3 bucket, where those are used; once per instance (a failed
    /// attempt is tried again by the next call).
    /// </summary>
    /// <param name="cancellationToken">Stops the work.</param>
    public Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        lock (_initializeGate)
        {
            if (_initialization is null || _initialization.IsFaulted || _initialization.IsCanceled)
            {
                _initialization = InitializeCoreAsync(cancellationToken);
            }

            return _initialization.WaitAsync(cancellationToken);
        }
    }

    private async Task InitializeCoreAsync(CancellationToken cancellationToken)
    {
        if (FarmStore is PostgresFarmStore postgres)
        {
            await postgres.MigrateAsync(cancellationToken);
        }

        if (ObjectStore is S3ObjectStore s3)
        {
            await s3.EnsureBucketAsync(cancellationToken);
        }
    }
}
