using System.Security.Cryptography;
using RenderFarm.Core;
using RenderFarm.Testing;

namespace RenderFarm.Worker.Tests;

/// <summary>
/// A worker fetches the environment map its lease links, checks it against the hash the settings name, and renders the
/// scene lit by it with the settings' strength and rotation; a lease whose map is missing or whose bytes are another
/// file's fails in one line instead of rendering without it.
/// </summary>
[Trait("Category", "Gpu")]
public sealed class WorkerEnvironmentFacts
{
    private static readonly byte[] s_scene = File.ReadAllBytes(RepositoryPaths.Combine("samples/environment/environment.glb"));
    private static readonly byte[] s_sky = File.ReadAllBytes(RepositoryPaths.Combine("samples/environment/sky.hdr"));

    [Fact]
    public async Task The_linked_map_lights_the_frame_and_a_missing_or_wrong_map_fails_the_task()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        using var renderer = new VulkanFrameRenderer();
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);
        var map = new EnvironmentMapSettings(Convert.ToHexStringLower(SHA256.HashData(s_sky)), 0.5f, 0);
        var settings = new RenderSettings { Size = new ImageSize(16, 8), SamplesPerPixel = 2, ToneMapping = ToneMapping.Clamp, Environment = map };

        FakeTask lit = coordinator.Enqueue(s_scene, 1, 1, settings, environment: s_sky);
        FakeTask turned = coordinator.Enqueue(s_scene, 1, 1, settings with { Environment = map with { RotationDegrees = 180 } }, environment: s_sky);
        FakeTask unlinked = coordinator.Enqueue(s_scene, 1, 1, settings);
        // A map not cached yet whose link serves another file's bytes (a cached map is never fetched again).
        string exrSha256 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(RepositoryPaths.Combine("samples/environment/sky.exr"))));
        FakeTask otherBytes = coordinator.Enqueue(s_scene, 1, 1, settings with { Environment = map with { Sha256 = exrSha256 } }, environment: s_sky);

        FakeLease first = await EndedAsync(coordinator, lit, LeaseState.Completed);
        FakeLease second = await EndedAsync(coordinator, turned, LeaseState.Completed);
        FakeLease third = await EndedAsync(coordinator, unlinked, LeaseState.Failed);
        FakeLease fourth = await EndedAsync(coordinator, otherBytes, LeaseState.Failed);

        // The rotation reached the renderer: the cached map is reloaded with it, and the frames differ.
        Assert.NotEqual(coordinator.Uploaded(first.Id, 1), coordinator.Uploaded(second.Id, 1));
        Assert.Contains("carries no link to it", third.FailureReason, StringComparison.Ordinal);
        Assert.Contains($"but {exrSha256} was expected", fourth.FailureReason, StringComparison.Ordinal);
    }

    // The lease once it has ended, which must be in the state expected (its failure reason is the message otherwise).
    private static async Task<FakeLease> EndedAsync(FakeCoordinator coordinator, FakeTask task, LeaseState expected)
    {
        FakeLease? lease = null;
        await FakeCoordinator.WaitUntilAsync(() => (lease = coordinator.LeaseOf(task)) is { State: not LeaseState.Active }, TimeSpan.FromMinutes(5));
        Assert.True(lease!.State == expected, $"{lease.State}: {lease.FailureReason}");
        return lease;
    }
}
