using System.Net.Http.Json;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// EXR jobs through the checks end to end in one process: a coordinator and real workers on the local Vulkan device.
/// The delivered frame is a half-float EXR; the tile checks and whole-frame samples judge its noisy linear RGB through
/// the job's view, so honest frames pass with the half rounding in them and a frame of fewer samples is caught.
/// </summary>
[Trait("Category", "Gpu")]
[Collection(GpuWorkers.Name)]
public sealed class ExrSpotCheckWorkerFacts
{
    [Fact]
    public async Task An_honest_exr_job_passes_every_check()
    {
        await using TestFarm farm = await SpotCheckWorkers.StartFarmAsync();
        JobSummary job = await SubmitExrAsync(farm, "1-3");

        JobDetails done = await SpotCheckWorkers.RunHonestlyAsync(farm, job.Id);

        Assert.Equal(JobState.Completed, done.Job.State);
        SpotCheckRecord[] checks = [.. done.Tasks.SelectMany(t => t.Checks!)];
        Assert.Contains(checks, c => c.WholeFrame);
        Assert.Contains(checks, c => !c.WholeFrame);
        Assert.All(checks, c => Assert.True(c.State == SpotCheckState.Passed, c.Verdict));
        Assert.All(checks.Where(c => c.WholeFrame), c => Assert.Equal(0, c.PHashDistance));
        using HttpResponseMessage frame = await farm.Client.GetAsync($"api/jobs/{job.Id}/frames/1");
        Assert.Equal("image/x-exr", frame.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_worker_delivering_one_sample_exrs_is_caught()
    {
        await using TestFarm farm = await SpotCheckWorkers.StartFarmAsync();
        JobSummary job = await SubmitExrAsync(farm, "1-2");

        (JobDetails done, string cheat, _, _) = await SpotCheckWorkers.RunWithCheatAsync(farm, job.Id, new SpotCheckWorkers.CheapRenderer(new VulkanFrameRenderer()));

        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Contains(done.Tasks, t => t.RejectedBy!.Contains(cheat, StringComparer.OrdinalIgnoreCase));
        Assert.All(done.Tasks, t => Assert.NotEqual(cheat, t.Provider, StringComparer.OrdinalIgnoreCase));
    }

    private static async Task<JobSummary> SubmitExrAsync(TestFarm farm, string frames)
    {
        SceneUploaded scene = await farm.UploadSceneAsync();
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, frames, 1, "32x32", 4, Format: "exr", ExrDepth: "half", Denoise: true), TestFarm.Json);
        await TestFarm.ExpectAsync(response, System.Net.HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
    }
}
