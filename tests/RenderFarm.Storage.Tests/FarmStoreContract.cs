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
    public async Task Api_keys_read_back_and_are_revoked_once()
    {
        var key = new ApiKeyRecord { Id = "k1", Account = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4", Sha256 = new string('a', 64), CreatedAt = s_start };
        await Store.CreateApiKeyAsync(key);

        Assert.Equal(key, await Store.GetApiKeyAsync("k1"));
        Assert.Null(await Store.GetApiKeyAsync("k2"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CreateApiKeyAsync(key with { Account = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2" }));
        Assert.Equal(key.Account, (await Store.GetApiKeyAsync("k1"))!.Account);

        DateTimeOffset revoked = s_start.AddMinutes(5);
        Assert.True(await Store.TryRevokeApiKeyAsync("k1", revoked));
        Assert.False(await Store.TryRevokeApiKeyAsync("k1", revoked.AddMinutes(1)));
        Assert.False(await Store.TryRevokeApiKeyAsync("k2", revoked));
        Assert.Equal(key with { RevokedAt = revoked }, await Store.GetApiKeyAsync("k1"));
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

    [Fact]
    public async Task A_task_update_applies_only_at_the_stored_version()
    {
        JobRecord job = NewJob(s_start);
        TaskRecord task = NewTask(job, 0, 1, 2);
        await Store.CreateJobAsync(job, [task]);

        TaskRecord leased = task with
        {
            State = FarmTaskState.Leased,
            Provider = "0xAbC0000000000000000000000000000000000001",
            LeaseId = "lease-1",
            LeaseExpiresAt = s_start.AddMinutes(5),
            StartedAt = s_start,
            Attempts = 1,
        };
        Assert.True(await Store.TryUpdateTaskAsync(leased));

        TaskRecord? stored = await Store.GetTaskAsync(job.Id, 0);
        AssertTaskEqual(leased with { Version = task.Version + 1 }, stored);

        // A second writer still holding the old version loses and changes nothing.
        Assert.False(await Store.TryUpdateTaskAsync(task with { State = FarmTaskState.Cancelled }));
        AssertTaskEqual(leased with { Version = task.Version + 1 }, await Store.GetTaskAsync(job.Id, 0));

        TaskRecord succeeded = FullTask(job, 0, 1, 2) with { Version = stored!.Version };
        Assert.True(await Store.TryUpdateTaskAsync(succeeded));
        AssertTaskEqual(succeeded with { Version = stored.Version + 1 }, await Store.GetTaskAsync(job.Id, 0));

        Assert.False(await Store.TryUpdateTaskAsync(NewTask(job, 5, 1, 1)));
        Assert.False(await Store.TryUpdateTaskAsync(NewTask(NewJob(s_start), 0, 1, 1)));
    }

    [Fact]
    public async Task Concurrent_updates_of_one_version_have_exactly_one_winner()
    {
        const int Rounds = 5;
        const int Writers = 12;
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);

        for (int round = 0; round < Rounds; round++)
        {
            TaskRecord current = (await Store.GetTaskAsync(job.Id, 0))!;
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<bool>[] writers = [.. Enumerable.Range(0, Writers).Select(writer => Task.Run(async () =>
            {
                await start.Task;
                return await Store.TryUpdateTaskAsync(current with { LeaseId = $"round-{round}-writer-{writer}" });
            }))];
            start.SetResult();
            bool[] won = await Task.WhenAll(writers);

            Assert.Single(won, w => w);
            TaskRecord after = (await Store.GetTaskAsync(job.Id, 0))!;
            Assert.Equal(current.Version + 1, after.Version);
            Assert.Equal($"round-{round}-writer-{Array.IndexOf(won, true)}", after.LeaseId);
        }
    }

    // Guards the O(1) lease path: blocked providers and job completion are read from tallies the store keeps with every
    // task write, never by reading all of a job's tasks.
    [Fact]
    public async Task Job_tallies_follow_every_task_write()
    {
        const string Cheat = "0xAbC0000000000000000000000000000000000003";
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1), FullTask(job, 1, 2, 2) with { Version = 0 }, NewTask(job, 2, 3, 3)]);

        // The full task is succeeded, failed by ...0001, rejected ...0003; its live whole-frame checks: none.
        Assert.Equal(new JobTally(3, 2, 0), await Store.GetJobTallyAsync(job.Id));
        Assert.Equal(new ProviderTally(1, 0, 0), await Store.GetProviderTallyAsync(job.Id, "0xABC0000000000000000000000000000000000001"));
        Assert.Equal(new ProviderTally(0, 1, 0), await Store.GetProviderTallyAsync(job.Id, Cheat.ToLowerInvariant()));
        Assert.Equal([Cheat.ToLowerInvariant()], await Store.ListRejectedProvidersAsync(job.Id));

        TaskRecord first = (await Store.GetTaskAsync(job.Id, 0))!;
        var sample = new SpotCheckRecord { Number = 1, Frame = 1, RenderedBy = "0xDEF", OutputSha256 = "ab", Tiles = [], WholeFrame = true };
        Assert.True(await Store.TryUpdateTaskAsync(first with
        {
            State = FarmTaskState.Verifying,
            FailedBy = ["0xabc0000000000000000000000000000000000001", "0xABC0000000000000000000000000000000000001"],
            Checks = [sample, sample with { Number = 2, Canary = true }],
        }));
        Assert.Equal(new JobTally(3, 2, 1), await Store.GetJobTallyAsync(job.Id));
        Assert.Equal(new ProviderTally(2, 0, 0), await Store.GetProviderTallyAsync(job.Id, "0xAbC0000000000000000000000000000000000001"));
        Assert.Equal(new ProviderTally(0, 0, 1), await Store.GetProviderTallyAsync(job.Id, "0xdef"));

        // A losing write changes no tally; a winning one moves them back.
        Assert.False(await Store.TryUpdateTaskAsync(first with { State = FarmTaskState.Succeeded }));
        first = (await Store.GetTaskAsync(job.Id, 0))!;
        Assert.True(await Store.TryUpdateTaskAsync(first with { State = FarmTaskState.Succeeded, Checks = [sample with { State = SpotCheckState.Cancelled }] }));
        Assert.Equal(new JobTally(3, 1, 0), await Store.GetJobTallyAsync(job.Id));
        Assert.Equal(new ProviderTally(0, 0, 0), await Store.GetProviderTallyAsync(job.Id, "0xdef"));
        Assert.Equal(new JobTally(0, 0, 0), await Store.GetJobTallyAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task Concurrent_completions_of_a_jobs_tasks_all_count()
    {
        const int Tasks = 24;
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [.. Enumerable.Range(0, Tasks).Select(i => NewTask(job, i, i + 1, i + 1))]);
        IReadOnlyList<TaskRecord> tasks = await Store.GetTasksAsync(job.Id);

        bool[] won = await Task.WhenAll(tasks.Select(task => Task.Run(() => Store.TryUpdateTaskAsync(task with { State = FarmTaskState.Succeeded, FailedBy = ["0x01"] }))));

        Assert.All(won, Assert.True);
        Assert.Equal(new JobTally(Tasks, 0, 0), await Store.GetJobTallyAsync(job.Id));
        Assert.Equal(new ProviderTally(Tasks, 0, 0), await Store.GetProviderTallyAsync(job.Id, "0x01"));
    }

    [Fact]
    public async Task Tasks_of_one_state_are_paged_each_once_across_jobs()
    {
        var expected = new HashSet<(Guid, int)>();
        for (int j = 0; j < 3; j++)
        {
            JobRecord job = NewJob(s_start);
            TaskRecord[] tasks = [.. Enumerable.Range(0, 5).Select(i => NewTask(job, i, i + 1, i + 1) with { State = i % 2 == 0 ? FarmTaskState.Queued : FarmTaskState.Leased })];
            await Store.CreateJobAsync(job, tasks);
            expected.UnionWith(tasks.Where(t => t.State == FarmTaskState.Queued).Select(t => (t.JobId, t.Index)));
        }

        var seen = new List<(Guid, int)>();
        (Guid JobId, int Index)? cursor = null;
        for (IReadOnlyList<TaskRecord> page; (page = await Store.ListTasksInStateAsync(FarmTaskState.Queued, cursor, 2)).Count > 0;)
        {
            Assert.All(page, task => Assert.Equal(FarmTaskState.Queued, task.State));
            seen.AddRange(page.Select(t => (t.JobId, t.Index)));
            cursor = (page[^1].JobId, page[^1].Index);
        }

        Assert.Equal(9, seen.Count);
        Assert.Equal(expected, seen.ToHashSet());
    }

    [Fact]
    public async Task Lapsed_leases_are_listed_earliest_end_first()
    {
        JobRecord job = NewJob(s_start);
        DateTimeOffset now = s_start.AddMinutes(10);
        await Store.CreateJobAsync(job,
        [
            NewTask(job, 0, 1, 1) with { State = FarmTaskState.Leased, LeaseExpiresAt = now.AddMinutes(-1) },
            NewTask(job, 1, 2, 2) with { State = FarmTaskState.Leased, LeaseExpiresAt = now.AddMinutes(1) },
            NewTask(job, 2, 3, 3) with { State = FarmTaskState.Leased, LeaseExpiresAt = now.AddMinutes(-5) },
            NewTask(job, 3, 4, 4) with { State = FarmTaskState.Queued, LeaseExpiresAt = now.AddMinutes(-9) },
        ]);

        Assert.Equal([2, 0], (await Store.ListLapsedLeasesAsync(now, 10)).Select(t => t.Index));
        Assert.Equal([2], (await Store.ListLapsedLeasesAsync(now, 1)).Select(t => t.Index));
    }

    [Fact]
    public async Task Changing_a_list_after_handing_it_over_does_not_change_the_store()
    {
        JobRecord job = NewJob(s_start);
        var failedBy = new List<string> { "0x01" };
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1) with { FailedBy = failedBy }]);

        failedBy.Add("0x02");

        Assert.Equal(["0x01"], (await Store.GetTaskAsync(job.Id, 0))!.FailedBy);
    }

    [Fact]
    public async Task Providers_are_upserted_and_found_by_address_in_any_case()
    {
        var provider = new ProviderRecord
        {
            Address = "0xAbCdEf0000000000000000000000000000000042",
            RegisteredAt = s_start,
            LastSeenAt = s_start,
            Device = "llvmpipe (LLVM 15.0.6, 256 bits)",
        };

        await Store.UpsertProviderAsync(provider);
        Assert.Equal(provider, await Store.GetProviderAsync(provider.Address.ToLowerInvariant()));
        Assert.Equal(provider, await Store.GetProviderAsync("0xABCDEF0000000000000000000000000000000042"));

        ProviderRecord seenAgain = provider with { LastSeenAt = s_start.AddMinutes(9), Device = null };
        await Store.UpsertProviderAsync(seenAgain);
        Assert.Equal(seenAgain, await Store.GetProviderAsync(provider.Address));

        Assert.Null(await Store.GetProviderAsync("0x0000000000000000000000000000000000000000"));
    }

    [Fact]
    public async Task Provider_counts_add_up_and_a_login_upsert_keeps_them()
    {
        var provider = new ProviderRecord
        {
            Address = "0xAbCdEf0000000000000000000000000000000043",
            RegisteredAt = s_start,
            LastSeenAt = s_start,
            Device = "llvmpipe",
        };
        await Store.UpsertProviderAsync(provider);

        ProviderRecord afterFrames = await Store.AddProviderCountsAsync(provider.Address.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal), 3, 0);
        Assert.Equal(provider with { VerifiedFrames = 3 }, afterFrames);
        ProviderRecord afterCatch = await Store.AddProviderCountsAsync(provider.Address, 2, 1);
        Assert.Equal(provider with { VerifiedFrames = 5, TimesCaught = 1 }, afterCatch);

        // A login writes the record it read earlier (counters 0): the stored counters stay.
        ProviderRecord seenAgain = provider with { LastSeenAt = s_start.AddMinutes(3) };
        await Store.UpsertProviderAsync(seenAgain);
        Assert.Equal(seenAgain with { VerifiedFrames = 5, TimesCaught = 1 }, await Store.GetProviderAsync(provider.Address));
    }

    [Fact]
    public async Task Adding_counts_to_an_unknown_provider_registers_it_now()
    {
        ProviderRecord added = await Store.AddProviderCountsAsync("0xAbC0000000000000000000000000000000000044", 0, 1);

        ProviderRecord expected = new()
        {
            Address = "0xAbC0000000000000000000000000000000000044",
            RegisteredAt = Clock.GetUtcNow(),
            LastSeenAt = Clock.GetUtcNow(),
            TimesCaught = 1,
        };
        Assert.Equal(expected, added);
        Assert.Equal(expected, await Store.GetProviderAsync(expected.Address));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.AddProviderCountsAsync(expected.Address, -1, 0));
    }

    [Fact]
    public async Task Provider_evidence_starts_empty_and_concurrent_updates_all_apply()
    {
        const string Address = "0xAbC0000000000000000000000000000000000046";
        Assert.Equal((0L, 0.0, 0.0), await Store.GetProviderEvidenceAsync(Address));

        // Each update counts one frame and adds 0.5 upward: 12 racing updates must give 12 frames and 6.
        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() =>
            Store.UpdateProviderEvidenceAsync(Address.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal), e => (e.Frames + 1, e.Upper + 0.5, e.Lower)))));

        Assert.Equal((12L, 6.0, 0.0), await Store.GetProviderEvidenceAsync(Address));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderEvidenceAsync(Address, e => e));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderEvidenceAsync(Address, e => (e.Frames + 1, double.NaN, 0)));
    }

    [Fact]
    public async Task Concurrent_count_additions_all_count()
    {
        const int Adders = 16;
        const string Address = "0xAbC0000000000000000000000000000000000045";
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task[] adders = [.. Enumerable.Range(0, Adders).Select(i => Task.Run(async () =>
        {
            await start.Task;
            await Store.AddProviderCountsAsync(Address, 2, i % 2);
        }))];

        start.SetResult();
        await Task.WhenAll(adders);

        ProviderRecord stored = (await Store.GetProviderAsync(Address))!;
        Assert.Equal((2L * Adders, Adders / 2), (stored.VerifiedFrames, stored.TimesCaught));
    }

    [Fact]
    public async Task A_once_value_is_consumed_once()
    {
        DateTimeOffset expires = Clock.GetUtcNow().AddMinutes(5);

        Assert.True(await Store.TryConsumeOnceAsync("challenge-1", expires));
        Assert.False(await Store.TryConsumeOnceAsync("challenge-1", expires));
        Assert.True(await Store.TryConsumeOnceAsync("challenge-2", expires));
        Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.False(await Store.TryConsumeOnceAsync("challenge-1", expires.AddHours(1)));
    }

    [Fact]
    public async Task Concurrent_consumers_of_one_value_have_exactly_one_winner()
    {
        const int Consumers = 12;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool>[] consumers = [.. Enumerable.Range(0, Consumers).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            return await Store.TryConsumeOnceAsync("challenge", Clock.GetUtcNow().AddMinutes(5));
        }))];

        start.SetResult();
        bool[] won = await Task.WhenAll(consumers);

        Assert.Single(won, w => w);
    }

    // Guards coordinator restarts: a generated secret is stored once and every later caller gets that first value, so
    // lease ids and signed URLs made before a restart still open after it.
    [Fact]
    public async Task A_secret_is_stored_once_and_later_candidates_are_ignored()
    {
        Assert.Equal("first-value", await Store.GetOrAddSecretAsync("Coordinator:SpotCheckSecret", "first-value"));
        Assert.Equal("first-value", await Store.GetOrAddSecretAsync("Coordinator:SpotCheckSecret", "second-value"));
        Assert.Equal("other-value", await Store.GetOrAddSecretAsync("Coordinator:TokenSigningKey", "other-value"));
    }

    [Fact]
    public async Task Concurrent_first_secrets_agree_on_one_value()
    {
        const int Callers = 12;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string>[] callers = [.. Enumerable.Range(0, Callers).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await Store.GetOrAddSecretAsync("secret", $"candidate-{i}");
        }))];

        start.SetResult();
        string[] values = await Task.WhenAll(callers);

        Assert.Single(values.Distinct());
        Assert.StartsWith("candidate-", values[0], StringComparison.Ordinal);
    }

    // Task writes of one job run concurrently on a farm (PostgreSQL spreads a job's counters over shards so that they do
    // not wait on one row): every write is counted once, whatever task it came from.
    [Fact]
    public async Task Concurrent_task_writes_of_one_job_are_all_counted()
    {
        const int Tasks = 40;
        const string Provider = "0xAbC0000000000000000000000000000000000003";
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [.. Enumerable.Range(0, Tasks).Select(i => NewTask(job, i, i + 1, i + 1))]);

        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool>[] writers = [.. Enumerable.Range(0, Tasks).Select(i => Task.Run(async () =>
        {
            await start.Task;
            TaskRecord task = (await Store.GetTaskAsync(job.Id, i))!;
            return await Store.TryUpdateTaskAsync(task with
            {
                State = i % 4 == 0 ? FarmTaskState.Queued : FarmTaskState.Succeeded,
                FailedBy = i % 2 == 0 ? [Provider] : [],
                RejectedBy = i == Tasks - 1 ? [Provider] : [],
            });
        }))];
        start.SetResult();

        Assert.All(await Task.WhenAll(writers), Assert.True);
        Assert.Equal(new JobTally(Tasks, Tasks / 4, 0), await Store.GetJobTallyAsync(job.Id));
        ProviderTally provider = await Store.GetProviderTallyAsync(job.Id, Provider);
        Assert.Equal(Tasks / 2, provider.Failed);
        Assert.Equal(1, provider.Rejected);
        Assert.Equal([Provider.ToLowerInvariant()], await Store.ListRejectedProvidersAsync(job.Id));
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
