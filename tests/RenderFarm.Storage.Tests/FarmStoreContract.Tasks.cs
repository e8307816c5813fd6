using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage.Tests;

/// <summary>Task updates at a version, the job tallies they keep, and the task listings.</summary>
public abstract partial class FarmStoreContract
{
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
}
