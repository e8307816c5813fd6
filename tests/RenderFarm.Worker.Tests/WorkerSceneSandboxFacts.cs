using RenderFarm.Testing;

namespace RenderFarm.Worker.Tests;

/// <summary>
/// A worker opens nothing but the scene file it downloaded (DESIGN.md, decision 9), whatever the coordinator
/// let through. Before, a .gltf whose image named a path on the provider's machine was drawn with that file as
/// its texture and the frame delivered to the client: a client could read files from provider machines.
/// </summary>
[Trait("Category", "Gpu")]
public sealed class WorkerSceneSandboxFacts : IDisposable
{
    private readonly DirectoryInfo _providerFiles = Directory.CreateTempSubdirectory("renderfarm-provider-files-");

    public void Dispose() => _providerFiles.Delete(recursive: true);

    [Fact]
    public async Task A_scene_naming_a_file_on_the_provider_machine_fails_without_reading_it()
    {
        string secret = Path.Combine(_providerFiles.FullName, "secret.png");
        await File.WriteAllBytesAsync(secret, TestGltf.BlankPng(4, 4));
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        using var renderer = new VulkanFrameRenderer();
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        // A file beside the cached scene is outside the scene just the same.
        Directory.CreateDirectory(Path.Combine(run.CacheDirectory, "scenes"));
        File.Copy(secret, Path.Combine(run.CacheDirectory, "scenes", "secret.png"));
        FakeTask absolute = coordinator.Enqueue(TestGltf.Triangle(imageUri: secret), 1, 1, sceneFileName: "scene.gltf");
        FakeTask beside = coordinator.Enqueue(TestGltf.Triangle(imageUri: "secret.png"), 1, 1, sceneFileName: "scene.gltf");
        FakeTask fine = coordinator.Enqueue(TestGltf.Triangle(imageUri: TestGltf.PngDataUri(TestGltf.BlankPng(4, 4))), 1, 1, sceneFileName: "scene.gltf");

        FakeLease first = await coordinator.WaitForLeaseAsync(absolute, LeaseState.Failed, TimeSpan.FromSeconds(60));
        FakeLease second = await coordinator.WaitForLeaseAsync(beside, LeaseState.Failed, TimeSpan.FromSeconds(60));
        await coordinator.WaitForLeaseAsync(fine, LeaseState.Completed, TimeSpan.FromSeconds(60));

        Assert.Contains($"'{secret}'", first.FailureReason, StringComparison.Ordinal);
        Assert.Contains("outside the scene", first.FailureReason, StringComparison.Ordinal);
        Assert.Contains("'secret.png'", second.FailureReason, StringComparison.Ordinal);
        Assert.Contains("outside the scene", second.FailureReason, StringComparison.Ordinal);
    }
}
