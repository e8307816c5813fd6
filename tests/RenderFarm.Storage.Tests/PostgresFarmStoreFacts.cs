using Npgsql;
using RenderFarm.Core.Farm;
using RenderFarm.Testing;

namespace RenderFarm.Storage.Tests;

[Trait("Category", "Integration")]
[Collection(PostgresCollection.Name)]
public sealed class PostgresFarmStoreFacts(PostgresFixture fixture) : FarmStoreContract
{
    private string? _connectionString;

    private PostgresFarmStore PostgresStore => (PostgresFarmStore)Store;

    [Fact]
    public async Task Migrations_apply_once_and_again_is_a_no_op()
    {
        Assert.Empty(await PostgresStore.MigrateAsync());
        Assert.Empty(await PostgresStore.MigrateAsync());

        await using var dataSource = NpgsqlDataSource.Create(_connectionString!);
        await using NpgsqlCommand command = dataSource.CreateCommand("SELECT array_agg(id ORDER BY id) FROM renderfarm.migrations");
        object? applied = await command.ExecuteScalarAsync();
        Assert.Equal(new[] { 1, 2, 3, 4 }, (int[])applied!);
    }

    [Fact]
    public async Task Coordinators_starting_together_apply_each_migration_once()
    {
        string connectionString = await fixture.Server.CreateDatabaseAsync();
        PostgresFarmStore[] stores = [.. Enumerable.Range(0, 4).Select(_ => new PostgresFarmStore(connectionString))];
        try
        {
            IReadOnlyList<int>[] applied = await Task.WhenAll(stores.Select(store => Task.Run(() => store.MigrateAsync())));

            Assert.Equal([1, 2, 3, 4], applied.SelectMany(ids => ids).Order());
        }
        finally
        {
            foreach (PostgresFarmStore store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Expired_once_values_can_be_deleted()
    {
        Assert.True(await Store.TryConsumeOnceAsync("old", Clock.GetUtcNow().AddMinutes(1)));
        Assert.True(await Store.TryConsumeOnceAsync("new", Clock.GetUtcNow().AddMinutes(10)));
        Clock.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(1, await PostgresStore.DeleteExpiredOnceValuesAsync());
        Assert.False(await Store.TryConsumeOnceAsync("new", Clock.GetUtcNow().AddMinutes(10)));
    }

    protected override async Task<IFarmStore> CreateStoreAsync(TimeProvider clock)
    {
        _connectionString = await fixture.Server.CreateDatabaseAsync();
        var store = new PostgresFarmStore(_connectionString, clock);
        Assert.Equal([1, 2, 3, 4], await store.MigrateAsync());
        return store;
    }
}
