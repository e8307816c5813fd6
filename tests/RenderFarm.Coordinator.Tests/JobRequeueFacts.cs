using System.Net;
using System.Net.Http.Json;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Requeueing a failed job's failed tasks in place.</summary>
public sealed class JobRequeueFacts
{
    // Guards the in-place requeue: before, a failed job's frames could only be submitted again as a new job. The failed
    // task and the one the failure stopped go back to Queued with attempts and failures reset, the job leaves Failed
    // (its error with it), runs again and completes, keeping the frame verified before the failure. Another account gets
    // 404; a job that has not failed, or has completed, gets 409.
    [Fact]
    public async Task A_failed_jobs_failed_tasks_are_requeued_in_place_and_the_job_completes()
    {
        // One provider's failure fails a task, so the job fails at once.
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxFailingProvidersPerTask"] = "1" });
        JobSummary job = await farm.SubmitAsync("1-3");
        await farm.WaitForQueuedRenderTasksAsync(3);
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant first = await provider.LeaseRequiredAsync();
        await TestFarm.ExpectAsync(await provider.CompleteAsync(first.LeaseId, await provider.UploadFramesAsync(first)), HttpStatusCode.OK);
        using (HttpResponseMessage running = await farm.Client.PostAsync($"api/jobs/{job.Id}/requeue-failed", null))
        {
            await TestFarm.ExpectProblemAsync(running, HttpStatusCode.Conflict);
        }

        LeaseGrant failing = await provider.LeaseRequiredAsync();
        await TestFarm.ExpectAsync(await provider.FailAsync(failing.LeaseId, "out of device memory"), HttpStatusCode.OK);
        JobDetails failed = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Failed, failed.Job.State);
        Assert.Equal(FarmTaskState.Failed, failed.Tasks.Single(t => t.Index == failing.TaskIndex).State);
        Assert.Equal(FarmTaskState.Cancelled, Assert.Single(failed.Tasks, t => t.Index != first.TaskIndex && t.Index != failing.TaskIndex).State);

        using (HttpResponseMessage foreign = await farm.NewClient().PostAsync($"api/jobs/{job.Id}/requeue-failed", null))
        {
            await TestFarm.ExpectProblemAsync(foreign, HttpStatusCode.NotFound);
        }

        JobSummary requeued = await PostAsync(farm.Client, $"api/jobs/{job.Id}/requeue-failed");
        Assert.Equal(job.Id, requeued.Id);
        Assert.Equal(JobState.Running, requeued.State);
        Assert.Null(requeued.Error);
        Assert.Null(requeued.FinishedAt);
        JobDetails again = await farm.GetJobAsync(job.Id);
        Assert.Equal(FarmTaskState.Succeeded, again.Tasks.Single(t => t.Index == first.TaskIndex).State);
        TaskDetails[] queued = [.. again.Tasks.Where(t => t.State == FarmTaskState.Queued)];
        Assert.Equal(2, queued.Length);
        Assert.All(queued, t => Assert.Equal(0, t.Attempts));
        Assert.All(queued, t => Assert.Empty(t.Failures!));

        // The same provider may take them again: its failure no longer counts against the task.
        for (int i = 0; i < 2; i++)
        {
            LeaseGrant grant = await provider.LeaseRequiredAsync();
            Assert.Equal(job.Id, grant.JobId);
            await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant)), HttpStatusCode.OK);
        }

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Equal(3, done.Tasks.Sum(t => t.Frames.Count));
        using HttpResponseMessage completed = await farm.Client.PostAsync($"api/jobs/{job.Id}/requeue-failed", null);
        await TestFarm.ExpectProblemAsync(completed, HttpStatusCode.Conflict);
    }

    private static async Task<JobSummary> PostAsync(HttpClient client, string path)
    {
        using HttpResponseMessage response = await client.PostAsync(path, null);
        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
    }
}
