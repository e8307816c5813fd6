using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage.Tests;

/// <summary>
/// What every <see cref="IFarmStore"/> must do. Each implementation runs this suite through one
/// concrete subclass that says how to create an empty store on a given clock.
/// </summary>
public abstract partial class FarmStoreContract : IAsyncLifetime
{
    // Whole microseconds and a non-UTC offset: stores keep instants to the microsecond, not offsets.
    private static readonly DateTimeOffset s_start = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_234_560);

    private IFarmStore? _store;

    protected ManualTimeProvider Clock { get; } = new(s_start.AddHours(1));

    protected IFarmStore Store => _store ?? throw new InvalidOperationException("The store has not been created.");

    public async Task InitializeAsync() => _store = await CreateStoreAsync(Clock);

    public virtual async Task DisposeAsync()
    {
        switch (_store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    [Fact]
    public async Task A_created_job_and_its_tasks_read_back_equal()
    {
        JobRecord job = NewJob(s_start) with
        {
            Spec = NewJob(s_start).Spec with
            {
                Frames = new FrameRange(5, 12),
                ChunkSize = 4,
                Priority = 3,
                Budget = 1_000_000,
                Settings = new RenderSettings
                {
                    Size = new ImageSize(640, 360),
                    SamplesPerPixel = 256,
                    Seed = 4_000_000_000,
                    MaxBounces = 12,
                    FramesPerSecond = 29.97,
                    ToneMapping = ToneMapping.Clamp,
                    ExposureStops = -1.5f,
                    Background = new LinearColor(0.1f, 0.2f, 0.3f),
                    SixteenBit = true,
                },
            },
            Error = "none yet",
            Owner = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
        };
        TaskRecord[] tasks = [NewTask(job, 0, 5, 8), FullTask(job, 1, 9, 12)];

        await Store.CreateJobAsync(job, tasks);

        Assert.Equal(job, await Store.GetJobAsync(job.Id));
        AssertTasksEqual(tasks, await Store.GetTasksAsync(job.Id));
        AssertTaskEqual(tasks[1], await Store.GetTaskAsync(job.Id, 1));
    }

    [Fact]
    public async Task Missing_jobs_and_tasks_read_as_null_or_empty()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);

        Assert.Null(await Store.GetJobAsync(Guid.NewGuid()));
        Assert.Empty(await Store.GetTasksAsync(Guid.NewGuid()));
        Assert.Null(await Store.GetTaskAsync(job.Id, 1));
        Assert.Null(await Store.GetTaskAsync(job.Id, -1));
        Assert.Null(await Store.GetTaskAsync(Guid.NewGuid(), 0));
    }

    [Fact]
    public async Task Creating_a_job_twice_or_with_foreign_tasks_fails()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);

        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]));
        JobRecord other = NewJob(s_start);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateJobAsync(other, [NewTask(job, 0, 1, 1)]));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateJobAsync(other, [NewTask(other, 0, 1, 1), NewTask(other, 2, 2, 2)]));
        Assert.Null(await Store.GetJobAsync(other.Id));
    }

    [Fact]
    public async Task Tasks_come_back_in_index_order()
    {
        JobRecord job = NewJob(s_start);
        TaskRecord[] tasks = [.. Enumerable.Range(0, 25).Select(i => NewTask(job, i, i + 1, i + 1))];

        await Store.CreateJobAsync(job, [.. tasks.Reverse()]);

        Assert.Equal(Enumerable.Range(0, 25), (await Store.GetTasksAsync(job.Id)).Select(task => task.Index));
    }

    [Fact]
    public async Task Jobs_are_listed_newest_first_up_to_the_limit()
    {
        JobRecord[] jobs = [.. Enumerable.Range(0, 5).Select(i => NewJob(s_start.AddMinutes(i * 7 % 5)))];
        foreach (JobRecord job in jobs)
        {
            await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);
        }

        IReadOnlyList<JobRecord> listed = await Store.ListJobsAsync(3);

        Assert.Equal(jobs.OrderByDescending(job => job.CreatedAt).Take(3).Select(job => job.Id), listed.Select(job => job.Id));
        Assert.Equal(5, (await Store.ListJobsAsync(100)).Count);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ListJobsAsync(0));
    }

    [Fact]
    public async Task An_accounts_jobs_are_listed_without_anyone_elses()
    {
        const string Alice = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4";
        const string Bob = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2";
        JobRecord[] jobs = [.. Enumerable.Range(0, 6).Select(i => NewJob(s_start.AddMinutes(i)) with { Owner = i % 3 == 0 ? Bob : i % 3 == 1 ? Alice : null })];
        foreach (JobRecord job in jobs)
        {
            await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);
        }

        IReadOnlyList<JobRecord> alices = await Store.ListJobsOfAsync(Alice, 100);

        Assert.Equal([jobs[4].Id, jobs[1].Id], alices.Select(job => job.Id));
        Assert.All(alices, job => Assert.Equal(Alice, job.Owner));
        Assert.Equal([jobs[3].Id], (await Store.ListJobsOfAsync(Bob, 1)).Select(job => job.Id));

        // Owners compare exactly: an address in other letter case is another string, not the same account.
        Assert.Empty(await Store.ListJobsOfAsync(Alice.ToLowerInvariant(), 100));
        Assert.Null((await Store.GetJobAsync(jobs[2].Id))!.Owner);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ListJobsOfAsync(Alice, 0));
    }

    [Fact]
    public async Task Job_state_moves_only_from_the_expected_state()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);

        Assert.True(await Store.TryUpdateJobStateAsync(job.Id, JobState.Queued, JobState.Running));
        Assert.False(await Store.TryUpdateJobStateAsync(job.Id, JobState.Queued, JobState.Cancelled));
        Assert.Equal(JobState.Running, (await Store.GetJobAsync(job.Id))?.State);
        Assert.Null((await Store.GetJobAsync(job.Id))?.FinishedAt);

        Clock.Advance(TimeSpan.FromMinutes(3));
        Assert.True(await Store.TryUpdateJobStateAsync(job.Id, JobState.Running, JobState.Failed, "frame 3 failed on 3 providers"));

        JobRecord? failed = await Store.GetJobAsync(job.Id);
        Assert.Equal(JobState.Failed, failed?.State);
        Assert.Equal("frame 3 failed on 3 providers", failed?.Error);
        Assert.Equal(Clock.GetUtcNow(), failed?.FinishedAt);
        Assert.False(await Store.TryUpdateJobStateAsync(Guid.NewGuid(), JobState.Queued, JobState.Running));

        // An ended job keeps its first error; one requeued in place (back to Running) carries none, nor an end.
        Assert.True(await Store.TryUpdateJobStateAsync(job.Id, JobState.Failed, JobState.Failed));
        Assert.Equal("frame 3 failed on 3 providers", (await Store.GetJobAsync(job.Id))?.Error);
        Assert.True(await Store.TryUpdateJobStateAsync(job.Id, JobState.Failed, JobState.Running));
        JobRecord? requeued = await Store.GetJobAsync(job.Id);
        Assert.Equal(JobState.Running, requeued?.State);
        Assert.Null(requeued?.Error);
        Assert.Null(requeued?.FinishedAt);
    }

    [Fact]
    public async Task A_job_settlement_is_recorded_once_and_round_trips()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);
        Assert.Null((await Store.GetJobAsync(job.Id))?.Settlement);
        var settlement = new JobSettlement(
            s_start.AddMinutes(5),
            "1000000000000000000",
            [new ProviderPayout("0xAbC0000000000000000000000000000000000002", 3, "3000000000000000000", $"{job.Id:N}:0xabc0000000000000000000000000000000000002", "offline-7")],
            [new ProviderSlash("0xAbC0000000000000000000000000000000000003", "500", "offline-8"), new ProviderSlash("0xAbC0000000000000000000000000000000000004", "0", null)],
            "offline-9",
            null);

        Assert.True(await Store.TrySetJobSettlementAsync(job.Id, settlement));
        Assert.False(await Store.TrySetJobSettlementAsync(job.Id, settlement with { Note = "again" }));
        Assert.False(await Store.TrySetJobSettlementAsync(Guid.NewGuid(), settlement));

        JobSettlement? stored = (await Store.GetJobAsync(job.Id))?.Settlement;
        Assert.NotNull(stored);
        Assert.Equal(settlement.Payouts, stored.Payouts);
        Assert.Equal(settlement.Slashes, stored.Slashes);
        Assert.Equal(settlement, stored with { Payouts = settlement.Payouts, Slashes = settlement.Slashes });
    }

    [Fact]
    public async Task A_job_is_paused_and_resumed_only_while_it_has_not_ended()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);
        Assert.False((await Store.GetJobAsync(job.Id))!.Paused);

        Assert.True(await Store.TrySetJobPausedAsync(job.Id, true));
        Assert.True((await Store.GetJobAsync(job.Id))!.Paused);
        Assert.True((await Store.ListJobsAsync(10)).Single(j => j.Id == job.Id).Paused);
        Assert.True(await Store.TrySetJobPausedAsync(job.Id, false));
        Assert.False((await Store.GetJobAsync(job.Id))!.Paused);
        Assert.False(await Store.TrySetJobPausedAsync(Guid.NewGuid(), true));

        Assert.True(await Store.TryUpdateJobStateAsync(job.Id, job.State, JobState.Cancelled));
        Assert.False(await Store.TrySetJobPausedAsync(job.Id, true));
        Assert.False((await Store.GetJobAsync(job.Id))!.Paused);
    }

    /// <summary>Creates an empty store for one test, reading time from <paramref name="clock"/>.</summary>
    protected abstract Task<IFarmStore> CreateStoreAsync(TimeProvider clock);

    protected static JobRecord NewJob(DateTimeOffset createdAt) => new()
    {
        Id = Guid.NewGuid(),
        CreatedAt = createdAt,
        Spec = new RenderJobSpec
        {
            SceneKey = "scenes/3f2a9c.glb",
            SceneSha256 = "3f2a9c",
            SceneFileName = "Box.glb",
            Frames = new FrameRange(1, 2),
            Settings = new RenderSettings(),
        },
    };

    protected static TaskRecord NewTask(JobRecord job, int index, int firstFrame, int lastFrame) => new()
    {
        JobId = job.Id,
        Index = index,
        FirstFrame = firstFrame,
        LastFrame = lastFrame,
    };

    // Every optional field set, to show each one survives a round trip.
    private static TaskRecord FullTask(JobRecord job, int index, int firstFrame, int lastFrame) => NewTask(job, index, firstFrame, lastFrame) with
    {
        State = FarmTaskState.Succeeded,
        HangfireJobId = "42",
        Provider = "0xAbC0000000000000000000000000000000000002",
        LeaseId = "lease-2",
        LeaseExpiresAt = s_start.AddMinutes(10),
        Attempts = 2,
        FailedBy = ["0xAbC0000000000000000000000000000000000001"],
        Outputs = [.. Enumerable.Range(firstFrame, lastFrame - firstFrame + 1)
            .Select(frame => new FrameOutput(frame, $"outputs/{job.Id:N}/{frame:D4}.png", "ab12", 123_456 + frame, 0.1 * frame))],
        StartedAt = s_start.AddMinutes(1),
        FinishedAt = s_start.AddMinutes(2),
        Error = "first provider timed out",
        Checks =
        [
            new SpotCheckRecord
            {
                Number = 1,
                Frame = firstFrame,
                RenderedBy = "0xAbC0000000000000000000000000000000000003",
                OutputSha256 = "ab12",
                Tiles = [new PixelTile(8, 16, 8, 8), new PixelTile(24, 0, 8, 8)],
                State = SpotCheckState.Failed,
                HangfireJobId = "43",
                Validator = "0xAbC0000000000000000000000000000000000002",
                LeaseId = "lease-3",
                LeaseExpiresAt = s_start.AddMinutes(3),
                TilesKey = "jobs/x/checks/1.png",
                TilesCompared = 2,
                TilesFailed = 1,
                MinPsnr = 21.5,
                MaxDifference = 0.25,
                MaxShareBeyondTolerance = 0.5,
                Verdict = "1 of 2 tiles differ",
                FinishedAt = s_start.AddMinutes(4),
            },
            new SpotCheckRecord
            {
                Number = 2,
                Frame = firstFrame,
                RenderedBy = "0xAbC0000000000000000000000000000000000003",
                OutputSha256 = "ab12",
                Tiles = [new PixelTile(8, 16, 8, 8)],
                Arbitrates = 1,
                AgreesWithArbitrated = true,
            },
        ],
        RejectedBy = ["0xAbC0000000000000000000000000000000000003"],
        Failures = [new TaskFailure("0xAbC0000000000000000000000000000000000001", "Lease of 0xAbC…0001 lapsed", s_start.AddMinutes(1), Standing: true, Count: 2, Origin: "203.0.113.7")],
        Version = 7,
    };

    // Records compare their lists by reference, so compare those element by element.
    private static void AssertTaskEqual(TaskRecord expected, TaskRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.FailedBy, actual.FailedBy);
        Assert.Equal(expected.Outputs, actual.Outputs);
        Assert.Equal(expected.RejectedBy, actual.RejectedBy);
        Assert.Equal(expected.Failures, actual.Failures);
        Assert.Equal(expected.Checks.Count, actual.Checks.Count);
        for (int i = 0; i < expected.Checks.Count; i++)
        {
            Assert.Equal(expected.Checks[i].Tiles, actual.Checks[i].Tiles);
            Assert.Equal(expected.Checks[i], actual.Checks[i] with { Tiles = expected.Checks[i].Tiles });
        }

        Assert.Equal(expected, actual with { FailedBy = expected.FailedBy, Outputs = expected.Outputs, Checks = expected.Checks, RejectedBy = expected.RejectedBy, Failures = expected.Failures });
    }

    private static void AssertTasksEqual(IReadOnlyList<TaskRecord> expected, IReadOnlyList<TaskRecord> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            AssertTaskEqual(expected[i], actual[i]);
        }
    }
}
