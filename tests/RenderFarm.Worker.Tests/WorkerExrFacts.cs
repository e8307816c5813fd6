using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Testing;

namespace RenderFarm.Worker.Tests;

/// <summary>
/// A worker given an EXR task uploads the linear frame with its AOVs and the denoiser's guides (<see cref="FarmFrame"/>),
/// and that frame is the one a PNG task renders: the coordinator's judged picture of it (its view transform) is
/// byte for byte the PNG the worker uploads for the same settings as a PNG task.
/// </summary>
[Trait("Category", "Gpu")]
public sealed class WorkerExrFacts
{
    private static readonly byte[] s_scene = File.ReadAllBytes(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));

    [Fact]
    public async Task An_exr_task_uploads_the_linear_frame_of_the_png_task_with_its_aovs()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        using var renderer = new VulkanFrameRenderer();
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);
        var png = new RenderSettings { Size = new ImageSize(16, 12), SamplesPerPixel = 2, Seed = 7 };
        RenderSettings exr = png with { Format = FrameFormat.Exr, ExrDepth = ExrDepth.Float, Denoise = true };

        FakeTask exrTask = coordinator.Enqueue(s_scene, 2, 2, exr);
        FakeTask pngTask = coordinator.Enqueue(s_scene, 2, 2, png);
        FakeLease exrLease = await EndedAsync(coordinator, exrTask);
        FakeLease pngLease = await EndedAsync(coordinator, pngTask);

        (HdrImage image, FrameAovs aovs) = FarmFrame.Read(coordinator.Uploaded(exrLease.Id, 2), exr.Size, ExrDepth.Float);
        Assert.Equal(coordinator.Uploaded(pngLease.Id, 2), FarmFrame.ToPng(image, exr));
        // Linear and unclamped: the light seen directly is far above 1; the AOVs are those of the Cornell box's walls.
        Assert.True(image.Pixels.Max() > 1.5f, $"brightest value {image.Pixels.Max()}");
        Assert.Contains(aovs.Coverage, c => c == 1f);
        Assert.All(aovs.Depth, z => Assert.InRange(z, 0.01f, 100f));
        Assert.Contains(aovs.Emission, e => e > 1f);
    }

    private static async Task<FakeLease> EndedAsync(FakeCoordinator coordinator, FakeTask task)
    {
        FakeLease? lease = null;
        await FakeCoordinator.WaitUntilAsync(() => (lease = coordinator.LeaseOf(task)) is { State: not LeaseState.Active }, TimeSpan.FromMinutes(5));
        Assert.True(lease!.State == LeaseState.Completed, $"{lease.State}: {lease.FailureReason}");
        return lease;
    }
}
