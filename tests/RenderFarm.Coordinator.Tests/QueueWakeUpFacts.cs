using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Waiting lease polls on PostgreSQL: woken by LISTEN/NOTIFY, holding no connection while they wait.</summary>
[Trait("Category", "Integration")]
public sealed class QueueWakeUpFacts
{
    private const int Polls = 100;

    // Guards availability: each waiting poll held a LISTEN connection inside FetchNextJob, so 200 waiting providers took
    // Npgsql's whole pool. Now 100 waiting polls hold none (the coordinator's one listening session aside), and work
    // enqueued by another process (its own storage and connection) wakes one of them through that session.
    [Fact]
    public async Task Waiting_polls_hold_no_connection_and_a_NOTIFY_from_another_connection_wakes_one()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        CoordinatorBackends backends = CoordinatorBackends.FromConfiguration(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = connectionString }).Build());
        var signals = new QueueSignals();
        var notifications = new PostgresQueueNotifications(backends.QueueNotifications!, signals, NullLogger.Instance);
        await using var fetcher = new QueueFetcher(signals, backends.FetchStorage, notifications, fallbackInterval: Timeout.InfiniteTimeSpan);
        notifications.Start();
        await notifications.Listening;

        using var stop = new CancellationTokenSource();
        using IStorageConnection connection = backends.JobStorage.GetConnection();
        List<Task<IFetchedJob?>> polls = [.. Enumerable.Range(0, Polls).Select(_ => fetcher.FetchAsync(connection, [FarmQueues.RenderNormal], TimeSpan.FromMinutes(2), stop.Token))];
        await WaitUntilAsync(() => Task.FromResult(signals.Waiting == Polls));

        // Idle pooled connections closed, whatever is still open is held by someone: only the listener may be.
        NpgsqlConnection.ClearAllPools();
        await WaitUntilAsync(async () => await CountAsync(connectionString, "renderfarm-hangfire") == 0);
        Assert.Equal(1, await CountAsync(connectionString, "renderfarm-listen"));
        Assert.Equal(Polls, signals.Waiting);

        // Another coordinator enqueues: Hangfire.PostgreSql NOTIFYs inside its transaction.
        var otherOptions = new PostgreSqlStorageOptions { SchemaName = "hangfire", PrepareSchemaIfNecessary = false, EnableLongPolling = true };
        var other = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, otherOptions), otherOptions);
        Guid jobId = Guid.NewGuid();
        string enqueued = new BackgroundJobClient(other).Create(() => FrameTaskJob.Render(jobId, 0), new EnqueuedState(FarmQueues.RenderNormal));

        Task<IFetchedJob?> woken = await Task.WhenAny(polls);
        polls.Remove(woken);
        using IFetchedJob fetched = (await woken)!;
        Assert.Equal(enqueued, fetched.JobId);

        // Put back (a provider that may not take it): the announcement wakes another waiting poll, which takes it.
        fetched.Requeue();
        Task<IFetchedJob?> next = await Task.WhenAny(polls);
        polls.Remove(next);
        using IFetchedJob again = (await next)!;
        Assert.Equal(enqueued, again.JobId);
        again.RemoveFromQueue();

        Assert.All(polls, poll => Assert.False(poll.IsCompleted));
        await stop.CancelAsync();
        foreach (Task<IFetchedJob?> poll in polls)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => poll);
        }

        Assert.Equal(0, signals.Waiting);
    }

    private static async Task<int> CountAsync(string connectionString, string applicationName)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "renderfarm-test" }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = @name", connection);
        command.Parameters.AddWithValue("name", applicationName);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (int i = 0; i < 600; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail("The condition did not come true within 30 s.");
    }
}
