using System.Net;
using System.Net.Http.Json;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

[Trait("Category", "Integration")]
public sealed class JobPauseFacts
{
    // Guards the pause: a paused job's queued tasks are passed over by leases (and keep their queue entries through the
    // invariant sweep), a task leased before the pause finishes, and after the resume the rest is leased and the job
    // completes. Another account's pause or resume answers 404, as a missing job does.
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

        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));
        using (HttpResponseMessage completed = await provider.CompleteAsync(before.LeaseId, await provider.UploadFramesAsync(before)))
        {
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);
        }

        await farm.RunMaintenanceAsync();
        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));
        JobDetails waiting = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Running, waiting.Job.State);
        Assert.Equal(2, waiting.Tasks.Count(t => t.State == FarmTaskState.Queued));

        using (HttpResponseMessage foreign = await stranger.PostAsync($"api/jobs/{job.Id}/resume", null))
        {
            await TestFarm.ExpectProblemAsync(foreign, HttpStatusCode.NotFound);
        }

        JobSummary resumed = await PostAsync(farm.Client, $"api/jobs/{job.Id}/resume");
        Assert.False(resumed.Paused);
        for (int i = 0; i < 2; i++)
        {
            LeaseGrant grant = await provider.LeaseRequiredAsync();
            using HttpResponseMessage completed = await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant));
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);
        }

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.False(done.Job.Paused);
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

    private static async Task<JobSummary> PostAsync(HttpClient client, string path)
    {
        using HttpResponseMessage response = await client.PostAsync(path, null);
        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
    }
}
