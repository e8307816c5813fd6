using System.Net;
using System.Net.Http.Json;
using Hangfire;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Pausing and resuming a job: what waits in the queues, what the sweep does, what other jobs see.</summary>
public sealed class JobPauseFacts
{
    // Guards the pause: a paused job's queued tasks are not leased (through the invariant sweep too), a task leased before
    // the pause finishes and its result is accepted, and after the resume the rest is leased and the job completes.
    // Another account's pause or resume answers 404, as a missing job does.
    [Fact]
    public async Task A_paused_job_is_not_leased_until_resumed_then_completes()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1-3");
        await farm.WaitForQueuedRenderTasksAsync(3);
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant before = await provider.LeaseRequiredAsync();

        using HttpClient stranger = farm.NewClient();
        using (HttpResponseMessage foreign = await stranger.PostAsync($"api/jobs/{job.Id}/pause", null))
        {
            await TestFarm.ExpectProblemAsync(foreign, HttpStatusCode.NotFound);
        }

        JobSummary paused = await PostAsync(farm.Client, $"api/jobs/{job.Id}/pause");
        Assert.True(paused.Paused);
        Assert.Equal(JobState.Running, paused.State);
        Assert.True((await farm.ListJobsAsync()).Single(j => j.Id == job.Id).Paused);
        Assert.Equal([PausedState.StateName, PausedState.StateName], await HangfireStatesAsync(farm, job.Id, FarmTaskState.Queued));

        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));
        using (HttpResponseMessage completed = await provider.CompleteAsync(before.LeaseId, await provider.UploadFramesAsync(before)))
        {
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);
        }

        await farm.RunMaintenanceAsync();
        await farm.RunMaintenanceAsync();
        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));
        JobDetails waiting = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Running, waiting.Job.State);
        Assert.Equal(FarmTaskState.Succeeded, waiting.Tasks.Single(t => t.Index == before.TaskIndex).State);
        Assert.Equal(2, waiting.Tasks.Count(t => t.State == FarmTaskState.Queued));

        using (HttpResponseMessage foreign = await stranger.PostAsync($"api/jobs/{job.Id}/resume", null))
        {
            await TestFarm.ExpectProblemAsync(foreign, HttpStatusCode.NotFound);
        }

        JobSummary resumed = await PostAsync(farm.Client, $"api/jobs/{job.Id}/resume");
        Assert.False(resumed.Paused);
        Assert.Equal([EnqueuedState.StateName, EnqueuedState.StateName], await HangfireStatesAsync(farm, job.Id, FarmTaskState.Queued));
        for (int i = 0; i < 2; i++)
        {
            LeaseGrant grant = await provider.LeaseRequiredAsync();
            Assert.Equal(job.Id, grant.JobId);
            using HttpResponseMessage completed = await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant));
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);
        }

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.False(done.Job.Paused);
    }

    // Guards the starvation of a design that left a paused job's entries in their queue and put them back at its head
    // when fetched: with more of them than one lease request looks past, a second job of the same priority was never
    // leased. Now the paused job's tasks wait in no queue; the sweep leaves them parked (and parks one found enqueued)
    // instead of putting them back; the resume enqueues them again.
    [Fact]
    public async Task A_paused_job_does_not_hold_up_another_of_the_same_priority_and_the_sweep_keeps_it_parked()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary first = await farm.SubmitAsync("1-40");
        await farm.WaitForQueuedRenderTasksAsync(40);
        await PostAsync(farm.Client, $"api/jobs/{first.Id}/pause");
        JobSummary second = await farm.SubmitAsync("1-3");
        await WaitForHangfireStatesAsync(farm, second.Id, 3, EnqueuedState.StateName);
        TestProvider provider = await farm.LoginAsync();

        // The first job's 40 stale entries sit ahead of the second job's in the same queue.
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        Assert.Equal(second.Id, grant.JobId);
        using (HttpResponseMessage completed = await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant)))
        {
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);
        }

        // The sweep leaves the parked tasks alone, and parks one that a stray write put back in its queue.
        TaskRecord stray = (await Store(farm).GetTasksAsync(first.Id)).First(t => t.State == FarmTaskState.Queued);
        Assert.True(farm.Host.Services.GetRequiredService<IBackgroundJobClient>().ChangeState(stray.HangfireJobId!, new EnqueuedState(FarmQueues.RenderNormal), PausedState.StateName));
        await farm.RunMaintenanceAsync();
        await farm.RunMaintenanceAsync();
        IReadOnlyList<string?> parked = await HangfireStatesAsync(farm, first.Id, FarmTaskState.Queued);
        Assert.Equal(40, parked.Count);
        Assert.All(parked, state => Assert.Equal(PausedState.StateName, state));

        for (int i = 0; i < 2; i++)
        {
            grant = await provider.LeaseRequiredAsync();
            Assert.Equal(second.Id, grant.JobId);
            using HttpResponseMessage completed = await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant));
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);
        }

        Assert.Equal(JobState.Completed, (await farm.GetJobAsync(second.Id)).Job.State);
        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));
        Assert.Equal(40, (await farm.GetJobAsync(first.Id)).Tasks.Count(t => t.State == FarmTaskState.Queued));

        await PostAsync(farm.Client, $"api/jobs/{first.Id}/resume");
        grant = await provider.LeaseRequiredAsync();
        Assert.Equal(first.Id, grant.JobId);
    }

    // Guards the ends of a pause: the operator may pause any job, a paused job can still be cancelled, and an ended job
    // is neither paused nor resumed (409).
    [Fact]
    public async Task A_paused_job_can_be_cancelled_and_an_ended_one_not_paused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1-2");
        Assert.True((await PostAsync(farm.Operator, $"api/jobs/{job.Id}/pause")).Paused);

        JobSummary cancelled = await PostAsync(farm.Client, $"api/jobs/{job.Id}/cancel");
        Assert.Equal(JobState.Cancelled, cancelled.State);
        Assert.False(cancelled.Paused);
        using HttpResponseMessage resume = await farm.Client.PostAsync($"api/jobs/{job.Id}/resume", null);
        await TestFarm.ExpectProblemAsync(resume, HttpStatusCode.Conflict);
        using HttpResponseMessage pause = await farm.Client.PostAsync($"api/jobs/{job.Id}/pause", null);
        await TestFarm.ExpectProblemAsync(pause, HttpStatusCode.Conflict);
    }

    private static IFarmStore Store(TestFarm farm) => farm.Host.Services.GetRequiredService<IFarmStore>();

    // The Hangfire state of each of the job's tasks in the given farm state, in task order.
    private static async Task<IReadOnlyList<string?>> HangfireStatesAsync(TestFarm farm, Guid jobId, FarmTaskState state)
    {
        using IStorageConnection connection = farm.Host.Services.GetRequiredService<JobStorage>().GetConnection();
        return [.. (await Store(farm).GetTasksAsync(jobId)).Where(t => t.State == state).Select(t => connection.GetJobData(t.HangfireJobId!)?.State)];
    }

    // The split runs on a Hangfire server: waits (a bounded number of looks) until it has linked and enqueued the tasks.
    private static async Task WaitForHangfireStatesAsync(TestFarm farm, Guid jobId, int count, string state)
    {
        for (int i = 0; i < 200; i++)
        {
            IReadOnlyList<TaskRecord> tasks = await Store(farm).GetTasksAsync(jobId);
            if (tasks.Count == count && tasks.All(t => t.HangfireJobId is not null)
                && (await HangfireStatesAsync(farm, jobId, FarmTaskState.Queued)).Count(s => s == state) == count)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"Job {jobId}'s {count} tasks were not {state} within 10 s.");
    }

    private static async Task<JobSummary> PostAsync(HttpClient client, string path)
    {
        using HttpResponseMessage response = await client.PostAsync(path, null);
        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
    }
}
