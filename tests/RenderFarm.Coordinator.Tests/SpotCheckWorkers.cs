using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// The set-up the spot-check facts share (<see cref="SpotCheckWorkerFacts"/>, <see cref="ExrSpotCheckWorkerFacts"/>):
/// a farm with spot checks on, a cheating worker that starts alone so it surely delivers before honest ones join,
/// and cheating renderers that validate honestly.
/// </summary>
internal static class SpotCheckWorkers
{
    private static readonly Dictionary<string, string?> s_spotChecks = new() { ["Coordinator:SpotChecks"] = "true" };

    /// <summary>A farm whose coordinator spot-checks every delivered frame.</summary>
    public static Task<TestFarm> StartFarmAsync() => TestFarm.StartAsync(s_spotChecks);

    /// <summary>Runs <paramref name="jobId"/> on two honest workers to its end (completed or failed).</summary>
    public static async Task<JobDetails> RunHonestlyAsync(TestFarm farm, Guid jobId)
    {
        await using var first = new InProcessWorker(farm, new VulkanFrameRenderer());
        await using var second = new InProcessWorker(farm, new VulkanFrameRenderer());
        return await farm.WaitForJobEndAsync(jobId);
    }

    /// <summary>
    /// Runs <paramref name="jobId"/> with a worker on <paramref name="cheating"/> alone until one of its frames is being
    /// verified, then with two honest workers besides it to the job's end.
    /// </summary>
    /// <returns>The job at its end and the addresses of the cheat and of the two honest workers.</returns>
    public static async Task<(JobDetails Done, string Cheat, string First, string Second)> RunWithCheatAsync(
        TestFarm farm, Guid jobId, IFrameRenderer cheating)
    {
        await using var cheat = new InProcessWorker(farm, cheating);
        await farm.WaitForJobAsync(jobId, d => d.Tasks.Any(t => t.State == FarmTaskState.Verifying));
        await using var first = new InProcessWorker(farm, new VulkanFrameRenderer());
        await using var second = new InProcessWorker(farm, new VulkanFrameRenderer());
        JobDetails done = await farm.WaitForJobEndAsync(jobId);
        return (done, cheat.Address, first.Address, second.Address);
    }

    /// <summary>Delivers 1-sample frames (PNG or EXR, as the job asks) instead of the job's samples, and validates honestly.</summary>
    public sealed class CheapRenderer(VulkanFrameRenderer inner) : IFrameRenderer, ITileRenderer, IDisposable
    {
        public string DeviceName => inner.DeviceName;

        public Task<RenderedFrame> RenderAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken) =>
            inner.RenderAsync(scenePath, frame, settings with { SamplesPerPixel = 1 }, pngPath, cancellationToken);

        public Task<byte[]> RenderTilesAsync(string scenePath, int frame, RenderSettings settings, IReadOnlyList<PixelTile> tiles, CancellationToken cancellationToken) =>
            inner.RenderTilesAsync(scenePath, frame, settings, tiles, cancellationToken);

        public void Dispose() => inner.Dispose();
    }

    /// <summary>Delivers the next frame of the animation instead of the one asked for, and validates honestly.</summary>
    public sealed class NeighbouringFrameRenderer(VulkanFrameRenderer inner) : IFrameRenderer, ITileRenderer, IDisposable
    {
        public string DeviceName => inner.DeviceName;

        public Task<RenderedFrame> RenderAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken) =>
            inner.RenderAsync(scenePath, frame + 1, settings, pngPath, cancellationToken);

        public Task<byte[]> RenderTilesAsync(string scenePath, int frame, RenderSettings settings, IReadOnlyList<PixelTile> tiles, CancellationToken cancellationToken) =>
            inner.RenderTilesAsync(scenePath, frame, settings, tiles, cancellationToken);

        public void Dispose() => inner.Dispose();
    }
}
