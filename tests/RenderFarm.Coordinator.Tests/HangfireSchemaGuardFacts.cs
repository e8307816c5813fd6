using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using Npgsql;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// The set-based writes into Hangfire.PostgreSql's tables (<see cref="PostgresTaskBatches"/>,
/// <see cref="PostgresHangfireStates"/>) run only on the schema versions whose columns they write: on a schema this code
/// does not know (a later Hangfire.PostgreSql) the split goes through the storage API and the state writer writes nothing,
/// so an upgrade of the library can slow the farm down but never corrupt its queues.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HangfireSchemaGuardFacts
{
    [Fact]
    public async Task On_a_hangfire_schema_this_code_does_not_know_the_split_goes_through_the_storage_api_and_states_are_not_written()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        var options = new PostgreSqlStorageOptions { SchemaName = CoordinatorBackends.HangfireSchema, PrepareSchemaIfNecessary = true };
        var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
        await SetSchemaVersionAsync(connectionString, PostgresTaskBatches.MaxSchemaVersion + 1);

        var fallback = new CountingBatches(new HangfireTaskBatches(storage));
        var batches = new PostgresTaskBatches(connectionString, CoordinatorBackends.HangfireSchema, fallback);
        IReadOnlyList<(int Index, string HangfireJobId)> created = await batches.CreateAsync(Guid.NewGuid(), [0, 1, 2], TimeSpan.FromHours(1), CancellationToken.None);
        int enqueued = await batches.EnqueueAsync([.. created.Select(c => c.HangfireJobId)], FarmQueues.RenderNormal, CancellationToken.None);

        Assert.Equal((1, 1), (fallback.Creates, fallback.Enqueues));
        Assert.Equal(3, enqueued);
        Assert.Equal(3, storage.GetMonitoringApi().EnqueuedCount(FarmQueues.RenderNormal));

        string first = created[0].HangfireJobId;
        var states = new PostgresHangfireStates(connectionString, CoordinatorBackends.HangfireSchema);
        Assert.False(states.TryWrite(first, new DeletedState(), TimeSpan.FromDays(1)));
        using IStorageConnection connection = storage.GetConnection();
        Assert.Equal(EnqueuedState.StateName, connection.GetJobData(first)!.State);
    }

    [Fact]
    public async Task On_the_installed_hangfire_schema_states_are_written_in_one_statement()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        var options = new PostgreSqlStorageOptions { SchemaName = CoordinatorBackends.HangfireSchema, PrepareSchemaIfNecessary = true };
        var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);

        var fallback = new CountingBatches(new HangfireTaskBatches(storage));
        var batches = new PostgresTaskBatches(connectionString, CoordinatorBackends.HangfireSchema, fallback);
        IReadOnlyList<(int Index, string HangfireJobId)> created = await batches.CreateAsync(Guid.NewGuid(), [0], TimeSpan.FromHours(1), CancellationToken.None);
        await batches.EnqueueAsync([created[0].HangfireJobId], FarmQueues.RenderNormal, CancellationToken.None);
        Assert.Equal((0, 0), (fallback.Creates, fallback.Enqueues));

        var states = new PostgresHangfireStates(connectionString, CoordinatorBackends.HangfireSchema);
        Assert.True(states.TryWrite(created[0].HangfireJobId, new DeletedState(), TimeSpan.FromDays(1)));
        using IStorageConnection connection = storage.GetConnection();
        Assert.Equal(DeletedState.StateName, connection.GetJobData(created[0].HangfireJobId)!.State);
    }

    private static async Task SetSchemaVersionAsync(string connectionString, int version)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"UPDATE \"{CoordinatorBackends.HangfireSchema}\".\"schema\" SET \"version\" = @version", connection);
        command.Parameters.AddWithValue("version", version);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private sealed class CountingBatches(ITaskBatches inner) : ITaskBatches
    {
        public int Creates { get; private set; }

        public int Enqueues { get; private set; }

        public Task<IReadOnlyList<(int Index, string HangfireJobId)>> CreateAsync(Guid jobId, IReadOnlyList<int> indexes, TimeSpan expireIn, CancellationToken cancellationToken)
        {
            Creates++;
            return inner.CreateAsync(jobId, indexes, expireIn, cancellationToken);
        }

        public Task<int> EnqueueAsync(IReadOnlyList<string> hangfireJobIds, string queue, CancellationToken cancellationToken)
        {
            Enqueues++;
            return inner.EnqueueAsync(hangfireJobIds, queue, cancellationToken);
        }
    }
}
