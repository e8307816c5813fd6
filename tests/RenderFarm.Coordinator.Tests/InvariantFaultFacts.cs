using System.Security.Cryptography;
using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Storage;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// The farm's invariant (a Queued task has its Hangfire job waiting in its queue, a Leased one a live lease) under
/// injected faults: the farm store or the Hangfire work queue throws at the K-th write of a job's life (before or after
/// the write applied), for every K. A provider works the job to its end through the lease API, retrying a report that
/// failed as a worker does, with the maintenance sweep running between its calls. Every run must end with the job
/// completed, every task done under exactly one lease, and no failure or catch counted against the provider.
/// </summary>
public sealed class InvariantFaultFacts
{
    private const string Provider = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4";
    private const int Tasks = 2;

    [Fact]
    public async Task A_fault_at_any_write_loses_no_task_and_charges_nobody_in_memory()
    {
        int writes = (await RunAsync(InMemoryBackend.Create, FaultPlan.None)).Writes;
        Assert.True(writes >= 4 * Tasks, $"only {writes} writes in a fault-free run");
        for (int step = 1; step <= writes; step++)
        {
            foreach (bool afterApply in (bool[])[false, true])
            {
                FaultPlan plan = new(step, afterApply);
                Outcome outcome = await RunAsync(InMemoryBackend.Create, plan);
                Assert.True(outcome.Injected, $"{plan}: no fault was injected");
            }
        }
    }

    [Fact]
    [Trait("Category", "Integration")]
    public async Task A_fault_at_any_write_loses_no_task_and_charges_nobody_on_postgresql()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        await using var store = new PostgresFarmStore(connectionString);
        await store.MigrateAsync();
        var hangfireOptions = new PostgreSqlStorageOptions { SchemaName = "hangfire", PrepareSchemaIfNecessary = true, QueuePollInterval = TimeSpan.FromMilliseconds(200) };
        var storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, hangfireOptions), hangfireOptions);

        // One database for every run: each run has its own job, and entries left by earlier runs are dropped as stale.
        Backend Create() => new(storage, store);
        int writes = (await RunAsync(Create, FaultPlan.None)).Writes;
        Assert.True(writes >= 4 * Tasks, $"only {writes} writes in a fault-free run");
        for (int step = 1; step <= writes; step++)
        {
            // After the write applied: the ambiguous case (a commit whose answer was lost), the harder of the two.
            FaultPlan plan = new(step, AfterApply: true);
            Assert.True((await RunAsync(Create, plan)).Injected, $"{plan}: no fault was injected");
        }
    }

    // The hang of the issue: RemoveFromQueue threw after the task was recorded Leased; the next fetch of the entry put
    // back deleted the task's Hangfire job, so when the lease lapsed the task went back to Queued in the farm store but
    // never into a queue. Here the grant stands, the stale entry is only removed, and a lapsed lease is leased again,
    // without the maintenance sweep.
    [Fact]
    public async Task Remove_from_queue_failing_after_the_lease_was_recorded_does_not_hang_the_job()
    {
        Backend backend = InMemoryBackend.Create();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var plan = new FaultPlan(0, false) { FailEvery = "Remove" };
        (LeaseService leases, _, Guid jobId, IFarmStore store) = await StartAsync(backend, plan, time);

        LeaseGrant? grant = await leases.LeaseAsync(Provider, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None);
        Assert.NotNull(grant);
        Assert.True(plan.Injected);
        Assert.Equal(FarmTaskState.Leased, (await store.GetTaskAsync(jobId, grant.TaskIndex))!.State);

        // The entry the failed removal left is fetched again, and dropped without touching the leased task's Hangfire job.
        plan.FailEvery = null;
        LeaseGrant? other = await leases.LeaseAsync(Provider, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None);
        Assert.NotNull(other);
        Assert.NotEqual(grant.TaskIndex, other.TaskIndex);
        Assert.Null(await leases.LeaseAsync(Provider, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None));

        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(2, await leases.ExpireLapsedLeasesAsync(CancellationToken.None));

        // Two lapses block the first provider from the job; another takes both tasks again.
        const string Other = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2";
        Assert.NotNull(await leases.LeaseAsync(Other, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None));
        Assert.NotNull(await leases.LeaseAsync(Other, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None));
    }

    // A coordinator killed between a task's record (Queued) and its Hangfire write: the sweep puts it back in its queue
    // on its second look, not before (a transition may still be on its way), whatever state Hangfire was left in.
    [Fact]
    public async Task The_sweep_puts_a_queued_task_whose_hangfire_job_left_its_queue_back_in_two_passes()
    {
        Backend backend = InMemoryBackend.Create();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        (LeaseService leases, InvariantSweep sweep, Guid jobId, IFarmStore store) = await StartAsync(backend, FaultPlan.None, time);
        var client = new BackgroundJobClient(backend.Storage);
        using (IStorageConnection connection = backend.Storage.GetConnection())
        {
            // Both entries taken off the queue, as by leases whose coordinator died before recording them.
            for (int i = 0; i < Tasks; i++)
            {
                using IFetchedJob fetched = connection.FetchNextJob([FarmQueues.RenderNormal], CancellationToken.None);
                fetched.RemoveFromQueue();
            }
        }

        TaskRecord stranded = (await store.GetTaskAsync(jobId, 0))!;
        client.ChangeState(stranded.HangfireJobId!, new LeasedState(Provider, "gone", time.GetUtcNow(), time.GetUtcNow()));
        TaskRecord deleted = (await store.GetTaskAsync(jobId, 1))!;
        client.Delete(deleted.HangfireJobId!);

        Assert.Equal(0, await sweep.RepairQueuedAsync(CancellationToken.None));
        Assert.Null(await leases.LeaseAsync(Provider, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None));

        Assert.Equal(2, await sweep.RepairQueuedAsync(CancellationToken.None));
        LeaseGrant? first = await leases.LeaseAsync(Provider, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None);
        LeaseGrant? second = await leases.LeaseAsync(Provider, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None);
        Assert.Equal([0, 1], new[] { first!.TaskIndex, second!.TaskIndex }.Order());
        Assert.Equal(0, await sweep.RepairQueuedAsync(CancellationToken.None));
    }

    private static async Task<Outcome> RunAsync(Func<Backend> backends, FaultPlan plan)
    {
        Backend backend = backends();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new CoordinatorOptions { SpotChecks = false };
        (LeaseService leases, InvariantSweep sweep, Guid jobId, IFarmStore store) = await StartAsync(backend, plan, time, options);
        var completedUnder = new Dictionary<int, HashSet<string>>();
        bool completed = false;
        for (int round = 0; round < 30 && !completed; round++)
        {
            LeaseGrant? grant = await TryAsync(() => leases.LeaseAsync(Provider, new LeaseRequest([FarmQueues.Render], 0), CancellationToken.None));
            if (grant is not null)
            {
                CompleteRequest report = await UploadAsync(backend.Objects, grant);
                for (int attempt = 0; attempt < 3; attempt++)
                {
                    try
                    {
                        // A worker retries a report that failed; a retry of an accepted one is answered the same.
                        await leases.CompleteAsync(Provider, grant.LeaseId, report, null, CancellationToken.None);
                        (completedUnder.TryGetValue(grant.TaskIndex, out HashSet<string>? set) ? set : completedUnder[grant.TaskIndex] = []).Add(grant.LeaseId);
                        break;
                    }
                    catch (InjectedFaultException)
                    {
                    }
                }
            }
            else
            {
                time.Advance(options.LeaseDuration + TimeSpan.FromSeconds(1));
            }

            await TryAsync(() => leases.ExpireLapsedLeasesAsync(CancellationToken.None));
            await TryAsync(() => sweep.RepairQueuedAsync(CancellationToken.None));
            completed = (await store.GetJobAsync(jobId))!.State == JobState.Completed;
        }

        IReadOnlyList<TaskRecord> tasks = await store.GetTasksAsync(jobId);
        Assert.True(completed, $"{plan}: the job is {(await store.GetJobAsync(jobId))!.State}; tasks {string.Join(", ", tasks.Select(t => t.State))}");
        Assert.Equal(Tasks, tasks.Count);
        foreach (TaskRecord task in tasks)
        {
            Assert.Equal(FarmTaskState.Succeeded, task.State);
            Assert.Single(task.Outputs);
            Assert.True(completedUnder.TryGetValue(task.Index, out HashSet<string>? leasesDone) && leasesDone.Count == 1, $"{plan}: task {task.Index} was done under {leasesDone?.Count ?? 0} leases");
            Assert.Empty(task.FailedBy);
            Assert.Empty(task.Failures);
        }

        Assert.Equal(0, (await store.GetProviderAsync(Provider))?.TimesCaught ?? 0);
        return new Outcome(plan.Writes, plan.Injected);
    }

    private static async Task<(LeaseService Leases, InvariantSweep Sweep, Guid JobId, IFarmStore Store)> StartAsync(
        Backend backend, FaultPlan plan, FakeTimeProvider time, CoordinatorOptions? options = null)
    {
        options ??= new CoordinatorOptions { SpotChecks = false };
        var store = new FaultyFarmStore(backend.Store, plan);
        // One fetcher for the splitter and the leases, so that the split's enqueues wake the lease polls in-process.
        var fetcher = new QueueFetcher();
        var queue = new FaultyWorkQueue(new HangfireWorkQueue(backend.Storage, new BackgroundJobClient(backend.Storage), fetcher), plan);
        var standing = new ProviderStanding(backend.Store, Options.Create(new ProviderLimits()));
        var leases = new LeaseService(queue, new ProviderPresence(backend.Storage), store, backend.Objects, time, options, standing, NullLoggerFactory.Instance);
        var sweep = new InvariantSweep(store, leases.Transitions, NullLogger<InvariantSweep>.Instance);

        var job = new JobRecord
        {
            Id = Guid.NewGuid(),
            CreatedAt = time.GetUtcNow(),
            Owner = Provider,
            Spec = new RenderJobSpec
            {
                SceneKey = "scenes/none.glb",
                SceneSha256 = new string('0', 64),
                SceneFileName = "none.glb",
                Frames = new FrameRange(1, Tasks),
                Settings = new RenderSettings { Size = new ImageSize(8, 8), SamplesPerPixel = 1 },
            },
        };
        await backend.Store.CreateJobAsync(job, [.. Enumerable.Range(0, Tasks).Select(i => new TaskRecord { JobId = job.Id, Index = i, FirstFrame = i + 1, LastFrame = i + 1 })]);
        await new JobSplitter(backend.Store, fetcher, new HangfireTaskBatches(backend.Storage), NullLogger<JobSplitter>.Instance).SplitAsync(job.Id, CancellationToken.None);
        plan.Arm();
        return (leases, sweep, job.Id, backend.Store);
    }

    private static async Task<CompleteRequest> UploadAsync(IObjectStore objects, LeaseGrant grant)
    {
        var frames = new List<CompletedFrame>();
        foreach (FrameUpload upload in grant.Uploads)
        {
            using var image = new Image<Rgb24>(grant.Settings.Size.Width, grant.Settings.Size.Height, new Rgb24((byte)upload.Frame, 40, 80));
            using var png = new MemoryStream();
            await image.SaveAsPngAsync(png, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 });
            byte[] bytes = png.ToArray();
            await objects.PutAsync(FarmKeys.Upload(grant.JobId, upload.Frame, grant.LeaseId), new MemoryStream(bytes));
            frames.Add(new CompletedFrame(upload.Frame, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length, 0.1));
        }

        return new CompleteRequest(frames);
    }

    private static async Task<T?> TryAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (InjectedFaultException)
        {
            return default;
        }
    }

    private sealed record Outcome(int Writes, bool Injected);

    private sealed record Backend(JobStorage Storage, IFarmStore Store)
    {
        public IObjectStore Objects { get; } = new LocalDirectoryObjectStore(Path.Combine(Path.GetTempPath(), "renderfarm-faults-" + Guid.NewGuid().ToString("N")))
        {
            PublicBaseUrl = new Uri("http://127.0.0.1:9/"),
        };
    }

    private static class InMemoryBackend
    {
        public static Backend Create() => new(new InMemoryStorage(), new InMemoryFarmStore());
    }
}

/// <summary>The exception a <see cref="FaultPlan"/> throws.</summary>
internal sealed class InjectedFaultException(string message) : Exception(message);

/// <summary>
/// Where a test makes the farm fail: the <see cref="Step"/>-th write (counted from <see cref="Arm"/>) throws, before or
/// after it applied; or every call named <see cref="FailEvery"/> throws.
/// </summary>
internal sealed record FaultPlan(int Step, bool AfterApply)
{
    public static FaultPlan None => new(0, false);

    private bool _armed;

    /// <summary>Writes seen since <see cref="Arm"/>.</summary>
    public int Writes { get; private set; }

    /// <summary>Whether a fault was thrown.</summary>
    public bool Injected { get; private set; }

    /// <summary>A call that always fails, e.g. <c>Remove</c>; null for none.</summary>
    public string? FailEvery { get; set; }

    /// <summary>Starts counting: the job's set-up is not under test.</summary>
    public void Arm() => _armed = true;

    /// <summary>Throws when this write is the chosen one (for <paramref name="applied"/> as the plan says).</summary>
    public void Hit(string what, bool applied)
    {
        if (!_armed)
        {
            return;
        }

        if (FailEvery == what && !applied)
        {
            Injected = true;
            throw new InjectedFaultException($"{what} failed (always)");
        }

        if (!applied)
        {
            Writes++;
        }

        if (Writes == Step && applied == AfterApply && !Injected)
        {
            Injected = true;
            throw new InjectedFaultException($"{what} failed at write {Step} ({(applied ? "after" : "before")} it applied)");
        }
    }

    public override string ToString() => $"fault at write {Step} {(AfterApply ? "after" : "before")} it applied";
}

/// <summary>A farm store whose writes fail where a <see cref="FaultPlan"/> says.</summary>
internal sealed class FaultyFarmStore(IFarmStore inner, FaultPlan plan) : IFarmStore
{
    public async Task<bool> TryUpdateTaskAsync(TaskRecord updated, CancellationToken cancellationToken = default) =>
        await WriteAsync(nameof(TryUpdateTaskAsync), () => inner.TryUpdateTaskAsync(updated, cancellationToken));

    public async Task<bool> TryUpdateJobStateAsync(Guid jobId, JobState from, JobState to, string? error = null, CancellationToken cancellationToken = default) =>
        await WriteAsync(nameof(TryUpdateJobStateAsync), () => inner.TryUpdateJobStateAsync(jobId, from, to, error, cancellationToken));

    public Task<bool> TrySetJobPausedAsync(Guid jobId, bool paused, CancellationToken cancellationToken = default) =>
        WriteAsync(nameof(TrySetJobPausedAsync), () => inner.TrySetJobPausedAsync(jobId, paused, cancellationToken));

    public Task<ProviderRecord> AddProviderCountsAsync(string address, long verifiedFrames, int timesCaught, CancellationToken cancellationToken = default) =>
        WriteAsync(nameof(AddProviderCountsAsync), () => inner.AddProviderCountsAsync(address, verifiedFrames, timesCaught, cancellationToken));

    public Task CreateJobAsync(JobRecord job, IReadOnlyList<TaskRecord> tasks, CancellationToken cancellationToken = default) => inner.CreateJobAsync(job, tasks, cancellationToken);

    public Task<JobRecord?> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default) => inner.GetJobAsync(jobId, cancellationToken);

    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(int limit, CancellationToken cancellationToken = default) => inner.ListJobsAsync(limit, cancellationToken);

    public Task<IReadOnlyList<JobRecord>> ListJobsOfAsync(string owner, int limit, CancellationToken cancellationToken = default) => inner.ListJobsOfAsync(owner, limit, cancellationToken);

    public Task<bool> TrySetJobSettlementAsync(Guid jobId, JobSettlement settlement, CancellationToken cancellationToken = default) => inner.TrySetJobSettlementAsync(jobId, settlement, cancellationToken);

    public Task<IReadOnlyList<TaskRecord>> GetTasksAsync(Guid jobId, CancellationToken cancellationToken = default) => inner.GetTasksAsync(jobId, cancellationToken);

    public Task<TaskRecord?> GetTaskAsync(Guid jobId, int index, CancellationToken cancellationToken = default) => inner.GetTaskAsync(jobId, index, cancellationToken);

    public Task<JobTally> GetJobTallyAsync(Guid jobId, CancellationToken cancellationToken = default) => inner.GetJobTallyAsync(jobId, cancellationToken);

    public Task<ProviderTally> GetProviderTallyAsync(Guid jobId, string provider, CancellationToken cancellationToken = default) => inner.GetProviderTallyAsync(jobId, provider, cancellationToken);

    public Task<IReadOnlyList<string>> ListRejectedProvidersAsync(Guid jobId, CancellationToken cancellationToken = default) => inner.ListRejectedProvidersAsync(jobId, cancellationToken);

    public Task<IReadOnlyList<TaskRecord>> ListTasksInStateAsync(FarmTaskState state, (Guid JobId, int Index)? after, int limit, CancellationToken cancellationToken = default) =>
        inner.ListTasksInStateAsync(state, after, limit, cancellationToken);

    public Task<IReadOnlyList<TaskRecord>> ListLapsedLeasesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default) => inner.ListLapsedLeasesAsync(now, limit, cancellationToken);

    public Task UpsertProviderAsync(ProviderRecord provider, CancellationToken cancellationToken = default) => inner.UpsertProviderAsync(provider, cancellationToken);

    public Task<ProviderRecord?> GetProviderAsync(string address, CancellationToken cancellationToken = default) => inner.GetProviderAsync(address, cancellationToken);

    public Task<bool> TryConsumeOnceAsync(string value, DateTimeOffset expiresAt, CancellationToken cancellationToken = default) => inner.TryConsumeOnceAsync(value, expiresAt, cancellationToken);

    public Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default) => inner.CreateApiKeyAsync(key, cancellationToken);

    public Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default) => inner.GetApiKeyAsync(id, cancellationToken);

    public Task<bool> TryRevokeApiKeyAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => inner.TryRevokeApiKeyAsync(id, revokedAt, cancellationToken);

    public Task<string> GetOrAddSecretAsync(string name, string candidate, CancellationToken cancellationToken = default) => inner.GetOrAddSecretAsync(name, candidate, cancellationToken);

    public Task<IReadOnlyList<int>> LinkHangfireJobsAsync(Guid jobId, IReadOnlyList<(int Index, string HangfireJobId)> links, CancellationToken cancellationToken = default) =>
        inner.LinkHangfireJobsAsync(jobId, links, cancellationToken);

    public Task AppendTaskEventsAsync(IReadOnlyList<TaskEventRecord> events, CancellationToken cancellationToken = default) => inner.AppendTaskEventsAsync(events, cancellationToken);

    public Task<IReadOnlyList<TaskEventRecord>> GetTaskEventsAsync(Guid jobId, int taskIndex, int limit, CancellationToken cancellationToken = default) =>
        inner.GetTaskEventsAsync(jobId, taskIndex, limit, cancellationToken);

    public Task<IReadOnlyList<ProviderRecord>> ListProvidersAsync(int limit, CancellationToken cancellationToken = default) => inner.ListProvidersAsync(limit, cancellationToken);

    public Task<(long Frames, double Upper, double Lower)> GetProviderEvidenceAsync(string provider, CancellationToken cancellationToken = default) =>
        inner.GetProviderEvidenceAsync(provider, cancellationToken);

    public Task<(long Frames, double Upper, double Lower)> UpdateProviderEvidenceAsync(
        string provider, Func<(long Frames, double Upper, double Lower), (long Frames, double Upper, double Lower)> update, CancellationToken cancellationToken = default) =>
        inner.UpdateProviderEvidenceAsync(provider, update, cancellationToken);

    public Task<(long Checks, IReadOnlyList<double> Sums)> GetProviderSampleEvidenceAsync(string provider, CancellationToken cancellationToken = default) =>
        inner.GetProviderSampleEvidenceAsync(provider, cancellationToken);

    public Task<(long Checks, IReadOnlyList<double> Sums)> UpdateProviderSampleEvidenceAsync(
        string provider, Func<(long Checks, IReadOnlyList<double> Sums), (long Checks, IReadOnlyList<double> Sums)> update, CancellationToken cancellationToken = default) =>
        inner.UpdateProviderSampleEvidenceAsync(provider, update, cancellationToken);

    private async Task<T> WriteAsync<T>(string what, Func<Task<T>> write)
    {
        plan.Hit(what, applied: false);
        T result = await write();
        plan.Hit(what, applied: true);
        return result;
    }
}

/// <summary>A Hangfire work queue whose writes fail where a <see cref="FaultPlan"/> says.</summary>
internal sealed class FaultyWorkQueue(IWorkQueue inner, FaultPlan plan) : IWorkQueue
{
    public IStorageConnection Connect() => inner.Connect();

    public Task<IFetchedJob?> FetchAsync(IStorageConnection connection, string[] queues, TimeSpan wait, CancellationToken cancellationToken) =>
        inner.FetchAsync(connection, queues, wait, cancellationToken);

    public JobData? Describe(IStorageConnection connection, string hangfireJobId) => inner.Describe(connection, hangfireJobId);

    public string? StateOf(IStorageConnection connection, string hangfireJobId) => inner.StateOf(connection, hangfireJobId);

    public void PutBack(IFetchedJob fetched) => Write(nameof(PutBack), () => inner.PutBack(fetched));

    public void Remove(IFetchedJob fetched) => Write(nameof(Remove), () => inner.Remove(fetched));

    public string CreateCheck(Guid jobId, int index, int number, string queue) => Write(nameof(CreateCheck), () => inner.CreateCheck(jobId, index, number, queue));

    public string CreateTask(Guid jobId, int index) => Write(nameof(CreateTask), () => inner.CreateTask(jobId, index));

    public bool Enqueue(string hangfireJobId, string queue, string? reason, string? expectedState = null) =>
        Write(nameof(Enqueue), () => inner.Enqueue(hangfireJobId, queue, reason, expectedState));

    public bool Pause(string hangfireJobId, string? expectedState) => Write(nameof(Pause), () => inner.Pause(hangfireJobId, expectedState));

    public bool MarkLeased(string hangfireJobId, LeasedState state, string? expectedState) => Write(nameof(MarkLeased), () => inner.MarkLeased(hangfireJobId, state, expectedState));

    public void MarkSucceeded(string hangfireJobId, long milliseconds) => Write(nameof(MarkSucceeded), () => inner.MarkSucceeded(hangfireJobId, milliseconds));

    public void MarkFailed(string hangfireJobId, string error) => Write(nameof(MarkFailed), () => inner.MarkFailed(hangfireJobId, error));

    public void Delete(string hangfireJobId, string? expectedState = null) => Write(nameof(Delete), () => inner.Delete(hangfireJobId, expectedState));

    public void EnqueueSettlement(Guid jobId) => Write(nameof(EnqueueSettlement), () => inner.EnqueueSettlement(jobId));

    private void Write(string what, Action write) => Write(what, () =>
    {
        write();
        return true;
    });

    private T Write<T>(string what, Func<T> write)
    {
        plan.Hit(what, applied: false);
        T result = write();
        plan.Hit(what, applied: true);
        return result;
    }
}
