using RenderFarm.Core.Farm;

namespace RenderFarm.Storage.Tests;

/// <summary>The batched link of Hangfire jobs to tasks (the split of large jobs).</summary>
public abstract partial class FarmStoreContract
{
    [Fact]
    public async Task Linking_in_a_batch_links_only_Queued_tasks_without_a_Hangfire_job()
    {
        JobRecord job = NewJob(DateTimeOffset.UtcNow);
        await Store.CreateJobAsync(job, [.. Enumerable.Range(0, 4).Select(i => NewTask(job, i, i + 1, i + 1))]);

        // Task 1 is linked already, task 2 is no longer Queued: both keep what they have.
        TaskRecord one = (await Store.GetTaskAsync(job.Id, 1))!;
        Assert.True(await Store.TryUpdateTaskAsync(one with { HangfireJobId = "earlier" }));
        TaskRecord two = (await Store.GetTaskAsync(job.Id, 2))!;
        Assert.True(await Store.TryUpdateTaskAsync(two with { State = FarmTaskState.Cancelled }));
        long versionBefore = (await Store.GetTaskAsync(job.Id, 0))!.Version;

        IReadOnlyList<int> linked = await Store.LinkHangfireJobsAsync(job.Id, [(0, "h0"), (1, "h1"), (2, "h2"), (3, "h3"), (9, "h9")]);

        Assert.Equal([0, 3], linked.Order());
        IReadOnlyList<TaskRecord> tasks = await Store.GetTasksAsync(job.Id);
        Assert.Equal(["h0", "earlier", null, "h3"], tasks.Select(t => t.HangfireJobId));
        Assert.Equal(versionBefore + 1, tasks[0].Version);

        // A second batch over the same tasks changes nothing: the split's retry is a no-op.
        Assert.Empty(await Store.LinkHangfireJobsAsync(job.Id, [(0, "again"), (3, "again")]));
        Assert.Empty(await Store.LinkHangfireJobsAsync(Guid.NewGuid(), [(0, "h0")]));
    }

    [Fact]
    public async Task Linking_refuses_repeated_indexes_and_bad_ids()
    {
        JobRecord job = NewJob(DateTimeOffset.UtcNow);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);

        await Assert.ThrowsAsync<ArgumentException>(() => Store.LinkHangfireJobsAsync(job.Id, [(0, "a"), (0, "b")]));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.LinkHangfireJobsAsync(job.Id, [(0, "")]));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.LinkHangfireJobsAsync(job.Id, [(0, new string('x', 101))]));
        Assert.Null((await Store.GetTaskAsync(job.Id, 0))!.HangfireJobId);
    }
}
