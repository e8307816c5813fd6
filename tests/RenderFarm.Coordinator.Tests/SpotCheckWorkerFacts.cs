using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// Spot checks end to end in one process: a coordinator and real workers rendering on the local Vulkan device
/// (lavapipe on a plain machine), one of them cheating.
/// </summary>
[Trait("Category", "Gpu")]
[Collection(GpuWorkers.Name)]
public sealed class SpotCheckWorkerFacts
{
    [Fact]
    public async Task Honest_job_with_two_workers_passes_every_check()
    {
        await using TestFarm farm = await SpotCheckWorkers.StartFarmAsync();
        JobSummary job = await farm.SubmitAsync(frames: "1-4");

        JobDetails done = await SpotCheckWorkers.RunHonestlyAsync(farm, job.Id);

        Assert.Equal(JobState.Completed, done.Job.State);
        foreach (TaskDetails task in done.Tasks)
        {
            Assert.Equal(FarmTaskState.Succeeded, task.State);
            SpotCheckRecord check = Assert.Single(task.Checks!, c => !c.WholeFrame);
            Assert.Equal(SpotCheckState.Passed, check.State);
            Assert.Equal(task.Provider, check.RenderedBy, ignoreCase: true);
            Assert.NotEqual(check.RenderedBy, check.Validator, StringComparer.OrdinalIgnoreCase);
            Assert.Equal(0, check.TilesFailed);
            Assert.Empty(task.RejectedBy!);
        }

        // Besides the tiles, each provider's first frame of the job (and any frame drawn at the new-provider rate) was
        // re-rendered whole by the other; honest renders on one device are identical, pHash distance 0.
        SpotCheckRecord[] samples = [.. done.Tasks.SelectMany(t => t.Checks!).Where(c => c.WholeFrame)];
        Assert.Equal(
            done.Tasks.Select(t => t.Provider!.ToLowerInvariant()).Distinct().Order(),
            samples.Select(c => c.RenderedBy.ToLowerInvariant()).Distinct().Order());
        Assert.All(samples, c => Assert.Equal((SpotCheckState.Passed, 0, 0, (double?)null), (c.State, c.TilesFailed, c.PHashDistance, c.MinPsnr)));
        Assert.All(samples, c => Assert.Equal(16, c.TilesCompared));
    }

    [Fact]
    public async Task A_worker_delivering_the_neighbouring_frame_is_caught_and_sampled_as_a_suspect_afterwards()
    {
        await using TestFarm farm = await SpotCheckWorkers.StartFarmAsync();
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        JobSummary job = await farm.SubmitAsync(frames: "1-2");

        (JobDetails done, string cheat, string first, string second) = await SpotCheckWorkers.RunWithCheatAsync(
            farm, job.Id, new SpotCheckWorkers.NeighbouringFrameRenderer(new VulkanFrameRenderer()));

        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Contains(done.Tasks, t => t.RejectedBy!.Contains(cheat, StringComparer.OrdinalIgnoreCase));
        Assert.All(done.Tasks, t => Assert.NotEqual(cheat, t.Provider, StringComparer.OrdinalIgnoreCase));
        // Every judged whole-frame sample of the cheat's output failed on its pixels. The pHash is no reliable judge of
        // a neighbouring frame: its distance sits near the threshold of 10 (12 measured for frame 3 delivered as 2).
        SpotCheckRecord[] judged = [.. done.Tasks.SelectMany(t => t.Checks!)
            .Where(c => c.WholeFrame && c.RenderedBy.Equals(cheat, StringComparison.OrdinalIgnoreCase) && c.State is SpotCheckState.Passed or SpotCheckState.Failed)];
        Assert.All(judged, c => Assert.Equal(SpotCheckState.Failed, c.State));
        Assert.All(judged, c => Assert.True(c.TilesFailed > 0, c.Verdict));

        ProviderRecord caught = (await store.GetProviderAsync(cheat))!;
        Assert.True(caught.TimesCaught >= 1);
        Assert.Equal(0, caught.VerifiedFrames);
        Assert.Equal(2, (await store.GetProviderAsync(first))!.VerifiedFrames + (await store.GetProviderAsync(second))!.VerifiedFrames);
    }

    [Fact]
    public async Task Cheating_worker_is_caught_and_its_frames_are_redone_by_honest_ones()
    {
        await using TestFarm farm = await SpotCheckWorkers.StartFarmAsync();
        JobSummary job = await farm.SubmitAsync(frames: "1-4");

        // The cheat starts alone, so it surely delivers frames before the honest workers arrive.
        (JobDetails done, string cheat, _, _) = await SpotCheckWorkers.RunWithCheatAsync(
            farm, job.Id, new SpotCheckWorkers.CheapRenderer(new VulkanFrameRenderer()));

        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Contains(done.Tasks, t => t.RejectedBy!.Contains(cheat, StringComparer.OrdinalIgnoreCase));
        foreach (TaskDetails task in done.Tasks)
        {
            Assert.Equal(FarmTaskState.Succeeded, task.State);
            Assert.NotEqual(cheat, task.Provider, StringComparer.OrdinalIgnoreCase);
            // The final output passed its check; no check was ever done by the output's own provider.
            SpotCheckRecord last = task.Checks!.Last(c => c.State != SpotCheckState.Cancelled);
            Assert.Equal(SpotCheckState.Passed, last.State);
            Assert.Equal(task.Provider, last.RenderedBy, ignoreCase: true);
            Assert.All(task.Checks!, c => Assert.NotEqual(c.RenderedBy, c.Validator, StringComparer.OrdinalIgnoreCase));
        }

        // Every output of the cheat failed its check, and each failure was settled by a third execution.
        SpotCheckRecord[] cheatChecks = [.. done.Tasks.SelectMany(t => t.Checks!).Where(c => c.RenderedBy.Equals(cheat, StringComparison.OrdinalIgnoreCase) && c.State != SpotCheckState.Cancelled)];
        Assert.NotEmpty(cheatChecks);
        Assert.All(cheatChecks, c => Assert.Equal(SpotCheckState.Failed, c.State));
        Assert.Contains(cheatChecks, c => c.Arbitrates is not null && c.AgreesWithArbitrated == true);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GpuWorkers
{
    public const string Name = "GPU workers";
}
