using System.Net;
using Hangfire;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

[Trait("Category", "Integration")]
public sealed class LeaseFacts
{
    [Fact]
    public async Task Long_poll_returns_204_when_empty_and_a_grant_when_a_task_appears()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        TestProvider provider = await farm.LoginAsync();
        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));

        Task<LeaseGrant?> waiting = provider.LeaseAsync(waitSeconds: 20);
        await Task.Delay(300);
        JobSummary job = await farm.SubmitAsync("7");
        LeaseGrant? grant = await waiting;
        Assert.NotNull(grant);
        Assert.Equal((job.Id, 7, 7), (grant.JobId, grant.FirstFrame, grant.LastFrame));
        Assert.Equal(farm.Time.GetUtcNow() + TimeSpan.FromSeconds(60), grant.LeaseExpiresAt);

        TaskDetails task = (await farm.GetJobAsync(job.Id)).Tasks.Single();
        Assert.Equal((FarmTaskState.Leased, provider.Address, 1), (task.State, task.Provider, task.Attempts));
    }

    // Leased and Succeeded are written to Hangfire by one write transaction instead of ChangeState: the dashboard must
    // still show each task's state (its counters: WorkQueueFacts).
    [Fact]
    public async Task A_leased_then_completed_task_shows_on_Hangfire_as_Leased_then_Succeeded()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobStorage storage = farm.Host.Services.GetRequiredService<JobStorage>();
        JobSummary job = await farm.SubmitAsync("3");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        TaskRecord task = (await farm.Host.Services.GetRequiredService<IFarmStore>().GetTaskAsync(job.Id, grant.TaskIndex))!;
        using (IStorageConnection connection = storage.GetConnection())
        {
            StateData leased = connection.GetStateData(task.HangfireJobId!);
            Assert.Equal((LeasedState.StateName, grant.LeaseId), (leased.Name, leased.Data["LeaseId"]));
        }

        using HttpResponseMessage complete = await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant));
        await TestFarm.ExpectAsync(complete, HttpStatusCode.OK);

        using (IStorageConnection connection = storage.GetConnection())
        {
            Assert.Equal(SucceededState.StateName, connection.GetJobData(task.HangfireJobId!)!.State);
        }
    }

    [Fact]
    public async Task Unknown_queues_and_waits_are_400()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        TestProvider provider = await farm.LoginAsync();
        using HttpResponseMessage queue = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["mining"], 0));
        await TestFarm.ExpectProblemAsync(queue, HttpStatusCode.BadRequest);
        using HttpResponseMessage wait = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 31));
        await TestFarm.ExpectProblemAsync(wait, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Higher_priority_jobs_are_leased_first()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary low = await farm.SubmitAsync("1", priority: -3);
        JobSummary normal = await farm.SubmitAsync("1", priority: 0);
        JobSummary high = await farm.SubmitAsync("1", priority: 5);
        foreach (JobSummary job in new[] { low, normal, high })
        {
            await WaitUntilAsync(async () => (await farm.GetJobAsync(job.Id)).Job.State == JobState.Running);
        }

        await farm.WaitForQueuedRenderTasksAsync(3);

        TestProvider provider = await farm.LoginAsync();
        Assert.Equal(high.Id, (await provider.LeaseRequiredAsync()).JobId);
        Assert.Equal(normal.Id, (await provider.LeaseRequiredAsync()).JobId);
        Assert.Equal(low.Id, (await provider.LeaseRequiredAsync()).JobId);
    }

    [Fact]
    public async Task Heartbeat_extends_the_lease()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        await farm.SubmitAsync("1");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        farm.Time.Advance(TimeSpan.FromSeconds(45));
        using HttpResponseMessage response = await provider.HeartbeatAsync(grant.LeaseId);
        await TestFarm.ExpectAsync(response, HttpStatusCode.OK);
        HeartbeatResponse beat = (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<HeartbeatResponse>(response.Content, TestFarm.Json))!;
        Assert.Equal(farm.Time.GetUtcNow() + TimeSpan.FromSeconds(60), beat.LeaseExpiresAt);

        // Past the first lease's end but within the extended one: maintenance leaves it alone.
        farm.Time.Advance(TimeSpan.FromSeconds(30));
        await farm.RunMaintenanceAsync();
        Assert.Equal(FarmTaskState.Leased, (await farm.GetJobAsync(grant.JobId)).Tasks.Single().State);
    }

    [Fact]
    public async Task A_lapsed_lease_is_requeued_and_counted_and_another_provider_gets_it()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        TestProvider first = await farm.LoginAsync();
        TestProvider second = await farm.LoginAsync();
        LeaseGrant lapsed = await first.LeaseRequiredAsync();

        farm.Time.Advance(TimeSpan.FromSeconds(61));
        await farm.RunMaintenanceAsync();
        TaskDetails task = (await farm.GetJobAsync(job.Id)).Tasks.Single();
        Assert.Equal(FarmTaskState.Queued, task.State);
        Assert.Contains("lapsed", task.Error, StringComparison.Ordinal);

        LeaseGrant again = await second.LeaseRequiredAsync();
        Assert.Equal(lapsed.TaskIndex, again.TaskIndex);
        Assert.NotEqual(lapsed.LeaseId, again.LeaseId);
        using HttpResponseMessage late = await first.HeartbeatAsync(lapsed.LeaseId);
        await TestFarm.ExpectProblemAsync(late, HttpStatusCode.Conflict);
        using HttpResponseMessage done = await second.CompleteAsync(again.LeaseId, await second.UploadFramesAsync(again));
        await TestFarm.ExpectAsync(done, HttpStatusCode.OK);
        Assert.Equal(2, (await farm.GetJobAsync(job.Id)).Tasks.Single().Attempts);
    }

    [Fact]
    public async Task A_task_failed_by_three_providers_with_standing_fails_the_job()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1-2");
        for (int i = 0; i < 3; i++)
        {
            TestProvider provider = await farm.LoginAsync();

            // Standing: verified frames on this farm (fresh identities' failures weigh less; FailureStandingFacts).
            await farm.Host.Services.GetRequiredService<IFarmStore>().AddProviderCountsAsync(provider.Address, 10, 0);
            LeaseGrant grant = await provider.LeaseRequiredAsync();
            while (grant.TaskIndex != 0)
            {
                // Only task 0 is failed; task 1 is handed back untouched.
                using HttpResponseMessage back = await provider.HandBackAsync(grant.LeaseId);
                await TestFarm.ExpectAsync(back, HttpStatusCode.OK);
                grant = await provider.LeaseRequiredAsync();
            }

            using HttpResponseMessage failed = await provider.FailAsync(grant.LeaseId, $"crash {i}");
            await TestFarm.ExpectAsync(failed, HttpStatusCode.OK);
        }

        JobDetails details = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Failed, details.Job.State);
        Assert.Contains("3 providers (3 with standing)", details.Job.Error, StringComparison.Ordinal);
        Assert.Equal(FarmTaskState.Failed, details.Tasks[0].State);
        Assert.Equal(FarmTaskState.Cancelled, details.Tasks[1].State);
        Assert.Null(await (await farm.LoginAsync()).LeaseAsync(waitSeconds: 1));
    }

    [Fact]
    public async Task A_provider_that_failed_twice_gets_no_more_of_that_job()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1-3");
        TestProvider flaky = await farm.LoginAsync();
        var failedTasks = new HashSet<int>();
        while (failedTasks.Count < 2)
        {
            LeaseGrant grant = await flaky.LeaseRequiredAsync();
            using HttpResponseMessage failed = await flaky.FailAsync(grant.LeaseId);
            await TestFarm.ExpectAsync(failed, HttpStatusCode.OK);
            failedTasks.Add(grant.TaskIndex);
        }

        Assert.Null(await flaky.LeaseAsync(waitSeconds: 1));
        TestProvider steady = await farm.LoginAsync();
        for (int i = 0; i < 3; i++)
        {
            LeaseGrant grant = await steady.LeaseRequiredAsync();
            using HttpResponseMessage done = await steady.CompleteAsync(grant.LeaseId, await steady.UploadFramesAsync(grant));
            await TestFarm.ExpectAsync(done, HttpStatusCode.OK);
        }

        Assert.Equal(JobState.Completed, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Fact]
    public async Task Handing_back_requeues_without_counting_a_failure()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        using HttpResponseMessage back = await provider.HandBackAsync(grant.LeaseId);
        await TestFarm.ExpectAsync(back, HttpStatusCode.OK);

        TaskDetails task = (await farm.GetJobAsync(job.Id)).Tasks.Single();
        Assert.Equal(FarmTaskState.Queued, task.State);
        Assert.Null(task.Error);
        LeaseGrant again = await provider.LeaseRequiredAsync();
        Assert.Equal(2, (await farm.GetJobAsync(job.Id)).Tasks.Single().Attempts);
        using HttpResponseMessage stale = await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(again));
        await TestFarm.ExpectProblemAsync(stale, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Another_providers_lease_id_is_403_and_changes_nothing()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        TestProvider owner = await farm.LoginAsync();
        TestProvider intruder = await farm.LoginAsync();
        LeaseGrant grant = await owner.LeaseRequiredAsync();
        CompleteRequest report = await owner.UploadFramesAsync(grant);

        foreach (HttpResponseMessage response in new[]
        {
            await intruder.HeartbeatAsync(grant.LeaseId),
            await intruder.CompleteAsync(grant.LeaseId, report),
            await intruder.FailAsync(grant.LeaseId),
            await intruder.HandBackAsync(grant.LeaseId),
        })
        {
            await TestFarm.ExpectProblemAsync(response, HttpStatusCode.Forbidden);
            response.Dispose();
        }

        using HttpResponseMessage unknown = await intruder.HeartbeatAsync("not-a-lease");
        await TestFarm.ExpectProblemAsync(unknown, HttpStatusCode.NotFound);
        TaskDetails task = (await farm.GetJobAsync(job.Id)).Tasks.Single();
        Assert.Equal((FarmTaskState.Leased, owner.Address, 1), (task.State, task.Provider, task.Attempts));
    }

    [Fact]
    public async Task Completion_is_refused_until_every_upload_matches_its_report()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1-2", chunkSize: 2);
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        byte[] png1 = TestFarm.FakePng(1);
        byte[] png2 = TestFarm.FakePng(2);
        var honest = new CompleteRequest([new(1, TestFarm.Sha256(png1), png1.Length, 1), new(2, TestFarm.Sha256(png2), png2.Length, 1)]);

        string missing = await TestFarm.ExpectProblemAsync(await provider.CompleteAsync(grant.LeaseId, honest), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("Frame 1", missing, StringComparison.Ordinal);

        await provider.UploadFramesAsync(grant);
        var wrongHash = honest with { Frames = [honest.Frames[0], honest.Frames[1] with { Sha256 = TestFarm.Sha256(png1) }] };
        string hash = await TestFarm.ExpectProblemAsync(await provider.CompleteAsync(grant.LeaseId, wrongHash), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("Frame 2", hash, StringComparison.Ordinal);

        var wrongSize = honest with { Frames = [honest.Frames[0] with { Size = 999 }, honest.Frames[1]] };
        string size = await TestFarm.ExpectProblemAsync(await provider.CompleteAsync(grant.LeaseId, wrongSize), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("Frame 1", size, StringComparison.Ordinal);

        var partial = new CompleteRequest([honest.Frames[0]]);
        await TestFarm.ExpectProblemAsync(await provider.CompleteAsync(grant.LeaseId, partial), HttpStatusCode.BadRequest);

        Assert.Equal(FarmTaskState.Leased, (await farm.GetJobAsync(job.Id)).Tasks.Single().State);
        await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, honest), HttpStatusCode.OK);
        Assert.Equal(JobState.Completed, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Fact]
    public async Task An_accepted_frame_cannot_be_replaced_through_its_upload_url()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        await provider.UploadFramesAsync(grant);
        byte[] accepted = TestFarm.FakePng(1);
        var report = new CompleteRequest([new(1, TestFarm.Sha256(accepted), accepted.Length, 1)]);
        await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, report), HttpStatusCode.OK);

        // The presigned PUT is still valid, but it names the upload, not the coordinator's copy.
        Uri put = grant.Uploads.Single().Upload.Url;
        using (HttpResponseMessage replaced = await farm.Client.PutAsync(put, new ByteArrayContent(TestFarm.FakePng(7))))
        {
            Assert.True(replaced.IsSuccessStatusCode);
        }

        using HttpResponseMessage download = await farm.Client.GetAsync($"api/jobs/{job.Id}/frames/1");
        Assert.Equal(accepted, await download.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Presigned_urls_allow_only_their_method_object_and_time()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        await farm.SubmitAsync("1");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        Uri put = grant.Uploads.Single().Upload.Url;

        using HttpResponseMessage wrongMethod = await farm.Client.GetAsync(put);
        await TestFarm.ExpectProblemAsync(wrongMethod, HttpStatusCode.Forbidden);
        var otherKey = new Uri(put.ToString().Replace("/000001.", "/000002.", StringComparison.Ordinal));
        using HttpResponseMessage wrongKey = await farm.Client.PutAsync(otherKey, new ByteArrayContent(TestFarm.FakePng(1)));
        await TestFarm.ExpectProblemAsync(wrongKey, HttpStatusCode.Forbidden);
        farm.Time.Advance(TimeSpan.FromHours(2));
        using HttpResponseMessage expired = await farm.Client.PutAsync(put, new ByteArrayContent(TestFarm.FakePng(1)));
        await TestFarm.ExpectProblemAsync(expired, HttpStatusCode.Forbidden);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (int i = 0; i < 200; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail("The condition did not become true within 10 s.");
    }
}
