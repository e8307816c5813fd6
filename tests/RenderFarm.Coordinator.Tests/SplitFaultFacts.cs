using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Storage;
using RenderFarm.Storage;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// A split that dies between its batched steps (jobs created, records linked, jobs enqueued) keeps the invariant: every
/// Queued task ends with exactly one Hangfire job waiting in its queue, whether Hangfire's retry of the split or, once
/// its retries are spent, the maintenance sweep finishes the work. On PostgreSQL the batches are the set-based
/// statements of <see cref="PostgresTaskBatches"/>; in memory, Hangfire's storage API.
/// </summary>
/// <remarks>
/// Guards a hole of the split before these batches: on PostgreSQL its retry enqueued a linked job without a state through
/// <c>ChangeState</c>, which Hangfire does not apply to a job without a state, so the retry left those tasks out of every
/// queue (the "enqueue-before", retried case failed there).
/// </remarks>
public sealed class SplitFaultFacts
{
    private const int Tasks = 5;

    public static TheoryData<string, bool> Faults => new()
    {
        // Created, not linked: the tasks are untouched; the created jobs are in no queue and expire.
        { "create-after", true },

        // Linked, not enqueued: Queued tasks whose jobs wait in no queue.
        { "enqueue-before", true },
        { "enqueue-before", false },

        // Enqueued, but the split failed after: a retry must not queue any task twice.
        { "enqueue-after", true },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task A_split_that_dies_mid_batch_leaves_every_queued_task_one_waiting_job_in_memory(string fault, bool retried)
    {
        var storage = new InMemoryStorage();
        await RunAsync(storage, new InMemoryFarmStore(), new HangfireTaskBatches(storage), fault, retried);
    }

    [Theory]
    [MemberData(nameof(Faults))]
    [Trait("Category", "Integration")]
    public async Task A_split_that_dies_mid_batch_leaves_every_queued_task_one_waiting_job_on_postgresql(string fault, bool retried)
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        await using var store = new PostgresFarmStore(connectionString);
        await store.MigrateAsync();
        var options = new PostgreSqlStorageOptions { SchemaName = CoordinatorBackends.HangfireSchema, PrepareSchemaIfNecessary = true };
        var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
        var batches = new PostgresTaskBatches(connectionString, CoordinatorBackends.HangfireSchema, new FailingOnUseBatches());
        await RunAsync(storage, store, batches, fault, retried);
    }

    private static async Task RunAsync(JobStorage storage, IFarmStore store, ITaskBatches batches, string fault, bool retried)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var fetcher = new QueueFetcher();
        var client = new BackgroundJobClient(storage);
        var queue = new HangfireWorkQueue(storage, client, fetcher);
        var standing = new ProviderStanding(store, Options.Create(new ProviderLimits()));
        var objects = new LocalDirectoryObjectStore(Path.Combine(Path.GetTempPath(), "renderfarm-split-faults-" + Guid.NewGuid().ToString("N")));
        var leases = new LeaseService(queue, new ProviderPresence(storage), store, objects, time, new CoordinatorOptions { SpotChecks = false }, standing, NullLoggerFactory.Instance);
        var sweep = new InvariantSweep(store, leases.Transitions, NullLogger<InvariantSweep>.Instance);
        JobRecord job = await CreateJobAsync(store, time);

        var faulty = new FaultyBatches(batches, fault);
        await Assert.ThrowsAsync<InjectedFaultException>(
            () => new JobSplitter(store, fetcher, faulty, NullLogger<JobSplitter>.Instance).SplitAsync(job.Id, CancellationToken.None));

        if (retried)
        {
            // Hangfire retries the failed split.
            await new JobSplitter(store, fetcher, batches, NullLogger<JobSplitter>.Instance).SplitAsync(job.Id, CancellationToken.None);
        }
        else
        {
            // Its retries spent: the sweep finds the linked tasks out of their queue, and puts them back on its second look.
            await sweep.RepairQueuedAsync(CancellationToken.None);
            await sweep.RepairQueuedAsync(CancellationToken.None);
        }

        IReadOnlyList<TaskRecord> tasks = await store.GetTasksAsync(job.Id);
        Assert.All(tasks, task => Assert.Equal(FarmTaskState.Queued, task.State));
        Assert.Equal(Tasks, tasks.Select(t => t.HangfireJobId).Distinct().Count(id => id is not null));
        using (IStorageConnection connection = storage.GetConnection())
        {
            foreach (TaskRecord task in tasks)
            {
                Assert.Equal(EnqueuedState.StateName, connection.GetJobData(task.HangfireJobId!)!.State);
            }
        }

        // Exactly one entry per task: jobs created for a batch that never linked them wait in no queue.
        Assert.Equal(Tasks, storage.GetMonitoringApi().EnqueuedCount(FarmQueues.RenderNormal));
        Assert.Equal(0, await sweep.RepairQueuedAsync(CancellationToken.None));
    }

    private static async Task<JobRecord> CreateJobAsync(IFarmStore store, TimeProvider time)
    {
        var job = new JobRecord
        {
            Id = Guid.NewGuid(),
            CreatedAt = time.GetUtcNow(),
            Owner = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
            Spec = new RenderJobSpec
            {
                SceneKey = "scenes/none.glb",
                SceneSha256 = new string('0', 64),
                SceneFileName = "none.glb",
                Frames = new FrameRange(1, Tasks),
                Settings = new RenderSettings { Size = new ImageSize(8, 8), SamplesPerPixel = 1 },
            },
        };
        await store.CreateJobAsync(job, [.. Enumerable.Range(0, Tasks).Select(i => new TaskRecord { JobId = job.Id, Index = i, FirstFrame = i + 1, LastFrame = i + 1 })]);
        return job;
    }

    // Throws where the fault names: after the jobs were created (so never linked), before the enqueue, or after it applied.
    private sealed class FaultyBatches(ITaskBatches inner, string fault) : ITaskBatches
    {
        public async Task<IReadOnlyList<(int Index, string HangfireJobId)>> CreateAsync(Guid jobId, IReadOnlyList<int> indexes, TimeSpan expireIn, CancellationToken cancellationToken)
        {
            IReadOnlyList<(int Index, string HangfireJobId)> created = await inner.CreateAsync(jobId, indexes, expireIn, cancellationToken);
            return fault == "create-after" ? throw new InjectedFaultException("the split died after creating its jobs") : created;
        }

        public async Task<int> EnqueueAsync(IReadOnlyList<string> hangfireJobIds, string queue, CancellationToken cancellationToken)
        {
            if (fault == "enqueue-before")
            {
                throw new InjectedFaultException("the split died before enqueueing its jobs");
            }

            int enqueued = await inner.EnqueueAsync(hangfireJobIds, queue, cancellationToken);
            return fault == "enqueue-after" ? throw new InjectedFaultException("the split died after enqueueing its jobs") : enqueued;
        }
    }

    // The PostgreSQL batches' fallback: never used on the schema the tests install.
    private sealed class FailingOnUseBatches : ITaskBatches
    {
        public Task<IReadOnlyList<(int Index, string HangfireJobId)>> CreateAsync(Guid jobId, IReadOnlyList<int> indexes, TimeSpan expireIn, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The installed Hangfire.PostgreSql schema was not recognised.");

        public Task<int> EnqueueAsync(IReadOnlyList<string> hangfireJobIds, string queue, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("The installed Hangfire.PostgreSql schema was not recognised.");
    }
}
