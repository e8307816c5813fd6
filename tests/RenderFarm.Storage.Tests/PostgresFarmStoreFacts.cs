using Npgsql;
using RenderFarm.Core.Farm;
using RenderFarm.Testing;

namespace RenderFarm.Storage.Tests;

[Trait("Category", "Integration")]
[Collection(PostgresCollection.Name)]
public sealed class PostgresFarmStoreFacts(PostgresFixture fixture) : FarmStoreContract
{
    // Every migration the store embeds (NNNN_description.sql), by number: 1, 2, 3, ...
    private static readonly int[] s_migrations = [.. typeof(PostgresFarmStore).Assembly.GetManifestResourceNames()
        .Where(name => name.StartsWith("RenderFarm.Storage.Migrations.", StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
        .Select(name => int.Parse(name["RenderFarm.Storage.Migrations.".Length..].Split('_')[0], System.Globalization.CultureInfo.InvariantCulture))
        .Order()];

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
        Assert.Equal(s_migrations, (int[])applied!);
    }

    // Binds migration 0007's backfill (SQL) to JobTallies.Of (C#): tallies rebuilt from stored tasks equal those the
    // store kept write by write.
    [Fact]
    public async Task The_tally_backfill_of_migration_7_counts_as_the_store_does()
    {
        JobRecord job = NewJob(DateTimeOffset.UtcNow);
        var sample = new SpotCheckRecord { Number = 1, Frame = 1, RenderedBy = "0xDEF", OutputSha256 = "ab", Tiles = [], WholeFrame = true };
        await Store.CreateJobAsync(job,
        [
            NewTask(job, 0, 1, 1) with { FailedBy = ["0xA", "0xa", "0xB"], Checks = [sample, sample with { Number = 2, Canary = true }] },
            NewTask(job, 1, 2, 2) with { State = FarmTaskState.Succeeded, RejectedBy = ["0xC"], Checks = [sample with { State = SpotCheckState.Cancelled }] },
            NewTask(job, 2, 3, 3) with { State = FarmTaskState.Verifying, FailedBy = ["0xB"], Checks = [sample with { RenderedBy = "0xdef" }] },
        ]);
        TaskRecord first = (await Store.GetTaskAsync(job.Id, 0))!;
        Assert.True(await Store.TryUpdateTaskAsync(first with { RejectedBy = ["0xa"] }));

        await using var dataSource = NpgsqlDataSource.Create(_connectionString!);
        string Tallies = $"SELECT string_agg(kind || ':' || provider || '=' || n, ',' ORDER BY kind, provider) FROM (SELECT kind, provider, sum(n) AS n FROM renderfarm.job_tallies WHERE job_id = '{job.Id}' GROUP BY kind, provider) t WHERE n <> 0";
        await using NpgsqlCommand kept = dataSource.CreateCommand(Tallies);
        string expected = (string)(await kept.ExecuteScalarAsync())!;

        using Stream stream = typeof(PostgresFarmStore).Assembly.GetManifestResourceStream("RenderFarm.Storage.Migrations.0007_job_tallies.sql")!;
        string migration = await new StreamReader(stream).ReadToEndAsync();
        string backfill = migration[migration.IndexOf("INSERT INTO renderfarm.job_tallies", StringComparison.Ordinal)..];
        await using (NpgsqlCommand clear = dataSource.CreateCommand("DELETE FROM renderfarm.job_tallies"))
        {
            await clear.ExecuteNonQueryAsync();
        }

        await using (NpgsqlCommand rebuild = dataSource.CreateCommand(backfill))
        {
            await rebuild.ExecuteNonQueryAsync();
        }

        await using NpgsqlCommand rebuilt = dataSource.CreateCommand(Tallies);
        Assert.Equal("Canaried:=1,Failed:0xa=1,Failed:0xb=2,Rejected:0xa=1,Rejected:0xc=1,Sampled:0xdef=2,Tasks:=3,Unfinished:=2", expected);
        Assert.Equal(expected, (string)(await rebuilt.ExecuteScalarAsync())!);
    }

    // Guards the lease path's throughput: with one row per counter, every completion of a job waited on the row lock of
    // its Unfinished counter until the completion before it committed (pg_stat_statements: 572 ms per upsert with 64
    // providers on one job). Writes of different tasks now land on different rows.
    [Fact]
    public async Task Task_writes_of_one_job_spread_its_counters_over_rows()
    {
        JobRecord job = NewJob(DateTimeOffset.UtcNow);
        await Store.CreateJobAsync(job, [.. Enumerable.Range(0, 8).Select(i => NewTask(job, i, i + 1, i + 1))]);
        foreach (TaskRecord task in await Store.GetTasksAsync(job.Id))
        {
            Assert.True(await Store.TryUpdateTaskAsync(task with { State = FarmTaskState.Succeeded }));
        }

        await using var dataSource = NpgsqlDataSource.Create(_connectionString!);
        await using NpgsqlCommand rows = dataSource.CreateCommand($"SELECT count(*) FROM renderfarm.job_tallies WHERE job_id = '{job.Id}' AND kind = 'Unfinished'");
        Assert.Equal(8L, (long)(await rows.ExecuteScalarAsync())!);
        Assert.Equal(new JobTally(8, 0, 0), await Store.GetJobTallyAsync(job.Id));
    }

    [Fact]
    public async Task Coordinators_starting_together_apply_each_migration_once()
    {
        string connectionString = await fixture.Server.CreateDatabaseAsync();
        PostgresFarmStore[] stores = [.. Enumerable.Range(0, 4).Select(_ => new PostgresFarmStore(connectionString))];
        try
        {
            IReadOnlyList<int>[] applied = await Task.WhenAll(stores.Select(store => Task.Run(() => store.MigrateAsync())));

            Assert.Equal(s_migrations, applied.SelectMany(ids => ids).Order());
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
        Assert.Equal(s_migrations, await store.MigrateAsync());
        return store;
    }
}
