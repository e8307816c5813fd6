using Hangfire;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

/// <summary>The split of a job into one queued Hangfire job per task, in batches.</summary>
public sealed class JobSplitterFacts
{
    [Fact]
    public async Task A_job_larger_than_a_batch_gets_one_enqueued_Hangfire_job_per_task_and_a_second_split_adds_none()
    {
        const int Tasks = (JobSplitter.BatchSize * 2) + 7;
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync($"1-{Tasks}");
        await farm.WaitForQueuedRenderTasksAsync(Tasks);

        JobStorage storage = farm.Host.Services.GetRequiredService<JobStorage>();
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        IReadOnlyList<TaskRecord> tasks = await store.GetTasksAsync(job.Id);
        Assert.Equal(Tasks, tasks.Count);
        Assert.All(tasks, task => Assert.Equal(FarmTaskState.Queued, task.State));
        Assert.Equal(Tasks, tasks.Select(t => t.HangfireJobId).Distinct().Count(id => id is not null));
        using (IStorageConnection connection = storage.GetConnection())
        {
            foreach (TaskRecord task in tasks)
            {
                JobData data = connection.GetJobData(task.HangfireJobId!)!;
                Assert.Equal(EnqueuedState.StateName, data.State);
                Assert.Equal([job.Id, task.Index], data.Job.Args.Cast<object>());
            }
        }

        IMonitoringApi monitoring = storage.GetMonitoringApi();
        Assert.Equal(Tasks, monitoring.EnqueuedCount(FarmQueues.RenderNormal));

        // Hangfire retries a split that failed late: the retry must not queue any task twice.
        await farm.Host.Services.GetRequiredService<JobSplitter>().SplitAsync(job.Id, CancellationToken.None);
        Assert.Equal(Tasks, monitoring.EnqueuedCount(FarmQueues.RenderNormal));
        Assert.Equal(tasks.Select(t => t.HangfireJobId), (await store.GetTasksAsync(job.Id)).Select(t => t.HangfireJobId));
    }

    // Guards the batch's crash window: a split that died after linking a batch and before enqueueing it left Queued
    // tasks whose Hangfire jobs were in no queue; its retry enqueues them.
    [Fact]
    public async Task A_task_linked_but_not_enqueued_by_a_split_that_died_is_enqueued_by_the_retry()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary submitted = await farm.SubmitAsync("1-2");
        await farm.WaitForQueuedRenderTasksAsync(2);
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        JobStorage storage = farm.Host.Services.GetRequiredService<JobStorage>();
        JobRecord original = (await store.GetJobAsync(submitted.Id))!;

        // A job of the same spec, stored but never split, whose first task is linked to a created, unqueued job.
        JobRecord job = original with { Id = Guid.NewGuid(), State = JobState.Queued };
        await store.CreateJobAsync(job, [
            new TaskRecord { JobId = job.Id, Index = 0, FirstFrame = 1, LastFrame = 1 },
            new TaskRecord { JobId = job.Id, Index = 1, FirstFrame = 2, LastFrame = 2 },
        ]);
        string orphan;
        using (IStorageConnection connection = storage.GetConnection())
        {
            orphan = connection.CreateExpiredJob(
                Hangfire.Common.Job.FromExpression(() => FrameTaskJob.Render(job.Id, 0)), new Dictionary<string, string?>(), DateTime.UtcNow, TimeSpan.FromDays(1));
        }

        Assert.Equal([0], await store.LinkHangfireJobsAsync(job.Id, [(0, orphan)]));
        long before = storage.GetMonitoringApi().EnqueuedCount(FarmQueues.RenderNormal);

        await farm.Host.Services.GetRequiredService<JobSplitter>().SplitAsync(job.Id, CancellationToken.None);

        using (IStorageConnection connection = storage.GetConnection())
        {
            Assert.Equal(EnqueuedState.StateName, connection.GetJobData(orphan)!.State);
        }

        Assert.Equal(before + 2, storage.GetMonitoringApi().EnqueuedCount(FarmQueues.RenderNormal));
        Assert.Equal(orphan, (await store.GetTaskAsync(job.Id, 0))!.HangfireJobId);
    }
}
