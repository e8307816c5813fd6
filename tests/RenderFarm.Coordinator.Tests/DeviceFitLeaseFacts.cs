using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// A render job's tasks go only to providers whose advertised device holds its scene: a smaller one is told why and the
/// task stays queued for others. Before this, the task was leased to any provider and refused on its GPU.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DeviceFitLeaseFacts
{
    private const long MiB = 1L << 20;

    [Fact]
    public async Task A_scene_too_large_for_the_advertised_device_is_left_for_a_provider_whose_device_holds_it()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        JobRecord record = (await farm.Host.Services.GetRequiredService<IFarmStore>().GetJobAsync(job.Id))!;
        SceneFootprint footprint = Assert.IsType<SceneFootprint>(record.Spec.SceneFootprint);

        // One byte less than the scene's largest buffer: held back, with the reason in the answer.
        TestProvider small = await farm.LoginAsync();
        using (HttpResponseMessage refused = await small.SendAsync(
            HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 1, new LeaseDevice((long)footprint.LargestBufferBytes - 1, 8192 * MiB))))
        {
            Assert.Equal(HttpStatusCode.NoContent, refused.StatusCode);
            string reason = Assert.Single(refused.Headers.GetValues(LeaseDevice.RefusalHeader));
            Assert.StartsWith("Scene cornell-box.glb needs a ", reason, StringComparison.Ordinal);
            Assert.Contains("maxStorageBufferRange", reason, StringComparison.Ordinal);
        }

        // Enough per buffer but not in all: held back too.
        using (HttpResponseMessage refused = await small.SendAsync(
            HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 1, new LeaseDevice(4096 * MiB, (long)footprint.TotalBytes - 1))))
        {
            Assert.Equal(HttpStatusCode.NoContent, refused.StatusCode);
            Assert.Contains("of device memory", Assert.Single(refused.Headers.GetValues(LeaseDevice.RefusalHeader)), StringComparison.Ordinal);
        }

        Assert.Equal(FarmTaskState.Queued, (await farm.GetJobAsync(job.Id)).Tasks.Single().State);

        // A device that holds exactly the scene gets the task.
        TestProvider large = await farm.LoginAsync();
        using HttpResponseMessage granted = await large.SendAsync(
            HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 5, new LeaseDevice((long)footprint.LargestBufferBytes, (long)footprint.TotalBytes)));
        await TestFarm.ExpectAsync(granted, HttpStatusCode.OK);
        LeaseGrant grant = (await granted.Content.ReadFromJsonAsync<LeaseGrant>(TestFarm.Json))!;
        Assert.Equal(job.Id, grant.JobId);
        Assert.Equal((FarmTaskState.Leased, large.Address), ((await farm.GetJobAsync(job.Id)).Tasks.Single().State, (await farm.GetJobAsync(job.Id)).Tasks.Single().Provider));
    }

    [Fact]
    public async Task A_request_without_device_limits_is_leased_as_before()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        Assert.Equal(job.Id, grant.JobId);
    }

    [Theory]
    [InlineData(0L, 0L)]
    [InlineData(-1L, 0L)]
    [InlineData(LeaseDevice.MaxBytes + 1, 0L)]
    [InlineData(128 * MiB, -1L)]
    [InlineData(128 * MiB, LeaseDevice.MaxBytes + 1)]
    [InlineData(long.MaxValue, long.MaxValue)]
    public async Task Advertised_limits_out_of_bounds_are_400(long maxStorageBufferRange, long deviceLocalMemoryBytes)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        TestProvider provider = await farm.LoginAsync();
        using HttpResponseMessage response = await provider.SendAsync(
            HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 0, new LeaseDevice(maxStorageBufferRange, deviceLocalMemoryBytes)));
        string problem = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("device.", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_fit_decision_reads_only_a_render_jobs_footprint_and_an_advertised_device()
    {
        var footprint = new SceneFootprint("triangles", 200 * (ulong)MiB, 300 * (ulong)MiB);
        var job = new JobRecord
        {
            Id = Guid.NewGuid(),
            CreatedAt = DateTimeOffset.UnixEpoch,
            Spec = new RenderJobSpec
            {
                SceneKey = "scenes/ab.glb",
                SceneSha256 = "ab",
                SceneFileName = "city.glb",
                Frames = new FrameRange(1, 1),
                Settings = new RenderSettings(),
                SceneFootprint = footprint,
            },
        };
        Assert.Equal(
            "Scene city.glb needs a 200.0 MiB triangles buffer; this provider's device binds at most 128.0 MiB per buffer (maxStorageBufferRange).",
            LeaseService.TooLarge(job, new LeaseDevice(128 * MiB, 0)));
        Assert.Null(LeaseService.TooLarge(job, new LeaseDevice(256 * MiB, 0)));
        Assert.Null(LeaseService.TooLarge(job, null));
        Assert.Null(LeaseService.TooLarge(job with { Spec = job.Spec with { SceneFootprint = null } }, new LeaseDevice(1, 1)));
    }
}
