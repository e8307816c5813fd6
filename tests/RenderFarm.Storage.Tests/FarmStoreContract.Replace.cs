using RenderFarm.Core.Farm;

namespace RenderFarm.Storage.Tests;

/// <summary>A task replaced together with its tallies and timeline, and a task read with its job and a provider's tallies.</summary>
public abstract partial class FarmStoreContract
{
    [Fact]
    public async Task A_replace_writes_the_task_its_tallies_and_its_timeline_in_one_step()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1), NewTask(job, 1, 2, 2)]);
        TaskRecord read = (await Store.GetTaskAsync(job.Id, 0))!;
        TaskRecord failed = read with { FailedBy = ["0xAbC1"], State = FarmTaskState.Queued, Attempts = 1 };
        TaskEventRecord entry = new() { JobId = job.Id, TaskIndex = 0, At = s_start, Kind = TaskEventKind.Failed, Provider = "0xAbC1", Detail = "Failed on 0xAbC1: out of memory" };

        Assert.True(await Store.TryReplaceTaskAsync(read, failed, [entry]));

        AssertTaskEqual(failed with { Version = read.Version + 1 }, await Store.GetTaskAsync(job.Id, 0));
        Assert.Equal(new ProviderTally(1, 0, 0), await Store.GetProviderTallyAsync(job.Id, "0xabc1"));
        Assert.Equal(["Failed on 0xAbC1: out of memory"], (await Store.GetTaskEventsAsync(job.Id, 0, 10)).Select(e => e.Detail));

        TaskRecord succeeded = failed with { Version = read.Version + 1, State = FarmTaskState.Succeeded };
        Assert.True(await Store.TryReplaceTaskAsync(failed with { Version = read.Version + 1 }, succeeded, []));
        Assert.Equal(new JobTally(2, 1, 0), await Store.GetJobTallyAsync(job.Id));
    }

    [Fact]
    public async Task A_replace_that_loses_its_race_or_names_another_record_changes_nothing()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1)]);
        TaskRecord read = (await Store.GetTaskAsync(job.Id, 0))!;
        TaskEventRecord entry = new() { JobId = job.Id, TaskIndex = 0, At = s_start, Kind = TaskEventKind.Succeeded, Detail = "done" };
        Assert.True(await Store.TryUpdateTaskAsync(read with { LeaseId = "first" }));

        // An older version loses.
        Assert.False(await Store.TryReplaceTaskAsync(read, read with { State = FarmTaskState.Succeeded }, [entry]));

        // The right version with a stored record that is not the stored one (here: its failures list) is refused too, so a
        // wrong record cannot skew the job's counters.
        TaskRecord current = (await Store.GetTaskAsync(job.Id, 0))!;
        Assert.False(await Store.TryReplaceTaskAsync(current with { FailedBy = ["0xAbC1"] }, current with { State = FarmTaskState.Succeeded }, [entry]));

        AssertTaskEqual(current, await Store.GetTaskAsync(job.Id, 0));
        Assert.Equal(new JobTally(1, 1, 0), await Store.GetJobTallyAsync(job.Id));
        Assert.Empty(await Store.GetTaskEventsAsync(job.Id, 0, 10));
        Assert.Equal(new ProviderTally(0, 0, 0), await Store.GetProviderTallyAsync(job.Id, "0xabc1"));

        // Entries of another task and a stored record of another version are caller errors.
        await Assert.ThrowsAsync<ArgumentException>(() => Store.TryReplaceTaskAsync(current, current, [entry with { TaskIndex = 1 }]));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.TryReplaceTaskAsync(read, current, []));
    }

    [Fact]
    public async Task A_task_is_read_with_its_job_and_a_providers_tallies()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1), NewTask(job, 1, 2, 2) with { FailedBy = ["0xAbC1"], RejectedBy = ["0xabc1"] }]);

        TaskWithJob found = await Store.GetTaskWithJobAsync(job.Id, 1, "0xABC1");
        AssertTaskEqual((await Store.GetTaskAsync(job.Id, 1))!, found.Task);
        Assert.Equal(job.Id, found.Job?.Id);
        Assert.Equal(new ProviderTally(1, 1, 0), found.Tally);

        TaskWithJob withoutProvider = await Store.GetTaskWithJobAsync(job.Id, 0);
        Assert.Equal(0, withoutProvider.Task?.Index);
        Assert.Equal(new ProviderTally(0, 0, 0), withoutProvider.Tally);

        TaskWithJob missingTask = await Store.GetTaskWithJobAsync(job.Id, 9, "0xabc1");
        Assert.Null(missingTask.Task);
        Assert.Equal(job.Id, missingTask.Job?.Id);

        TaskWithJob missingJob = await Store.GetTaskWithJobAsync(Guid.NewGuid(), 0, "0xabc1");
        Assert.Null(missingJob.Task);
        Assert.Null(missingJob.Job);
        Assert.Equal(new ProviderTally(0, 0, 0), missingJob.Tally);
    }
}
