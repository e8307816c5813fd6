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
    private static readonly Dictionary<string, string?> s_spotChecks = new() { ["Coordinator:SpotChecks"] = "true" };

    [Fact]
    public async Task An_honest_exr_job_passes_every_check()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        JobSummary job = await SubmitExrAsync(farm, "1-3");
        await using var first = new InProcessWorker(farm, new VulkanFrameRenderer());
        await using var second = new InProcessWorker(farm, new VulkanFrameRenderer());

        JobDetails done = await WaitForAsync(farm, job.Id, d => d.Job.State is JobState.Completed or JobState.Failed);

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
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        JobSummary job = await SubmitExrAsync(farm, "1-2");
        await using var cheat = new InProcessWorker(farm, new CheapRenderer(new VulkanFrameRenderer()));
        await WaitForAsync(farm, job.Id, d => d.Tasks.Any(t => t.State == FarmTaskState.Verifying));
        await using var first = new InProcessWorker(farm, new VulkanFrameRenderer());
        await using var second = new InProcessWorker(farm, new VulkanFrameRenderer());

        JobDetails done = await WaitForAsync(farm, job.Id, d => d.Job.State is JobState.Completed or JobState.Failed);

        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Contains(done.Tasks, t => t.RejectedBy!.Contains(cheat.Address, StringComparer.OrdinalIgnoreCase));
        Assert.All(done.Tasks, t => Assert.NotEqual(cheat.Address, t.Provider, StringComparer.OrdinalIgnoreCase));
    }

    private static async Task<JobSummary> SubmitExrAsync(TestFarm farm, string frames)
    {
        SceneUploaded scene = await farm.UploadSceneAsync();
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, frames, 1, "32x32", 4, Format: "exr", ExrDepth: "half", Denoise: true), TestFarm.Json);
        await TestFarm.ExpectAsync(response, System.Net.HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
    }

    private static async Task<JobDetails> WaitForAsync(TestFarm farm, Guid jobId, Func<JobDetails, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (true)
        {
            JobDetails details = await farm.GetJobAsync(jobId);
            if (done(details))
            {
                return details;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Timed out; job is {details.Job.State}: {string.Join(", ", details.Tasks.Select(t => $"{t.Index} {t.State} {t.Error}"))}");
            await Task.Delay(100);
        }
    }

    /// <summary>Delivers 1-sample EXRs instead of the job's samples, and validates honestly.</summary>
    private sealed class CheapRenderer(VulkanFrameRenderer inner) : IFrameRenderer, ITileRenderer, IDisposable
    {
        public string DeviceName => inner.DeviceName;

        public Task<RenderedFrame> RenderAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken) =>
            inner.RenderAsync(scenePath, frame, settings with { SamplesPerPixel = 1 }, pngPath, cancellationToken);

        public Task<byte[]> RenderTilesAsync(string scenePath, int frame, RenderSettings settings, IReadOnlyList<PixelTile> tiles, CancellationToken cancellationToken) =>
            inner.RenderTilesAsync(scenePath, frame, settings, tiles, cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
