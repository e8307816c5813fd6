using RenderFarm.Gpu;
using Xunit;

namespace RenderFarm.Gpu.Tests;

/// <summary>
/// Vulkan tests run one at a time: some change <see cref="ComputeDevice.DeviceEnvironmentVariable"/>, and the
/// CPU renderer gains nothing from running several devices on a small machine at once.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GpuCollection : ICollectionFixture<GpuFixture>
{
    public const string Name = "Gpu";
}

/// <summary>One device shared by the tests that do not care which device or mode they get.</summary>
public sealed class GpuFixture : IDisposable
{
    public GpuFixture()
    {
        // Deliberately no skip: on a machine without Vulkan these tests fail with the install hint.
        Device = ComputeDevice.Open();
    }

    public ComputeDevice Device { get; }

    public void Dispose() => Device.Dispose();
}

internal static class TestShaders
{
    public static byte[] Load(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "shaders", name + ".spv");
        Assert.True(File.Exists(path), $"{path} is missing; run scripts/compile-shaders.sh.");
        return File.ReadAllBytes(path);
    }
}

internal static class RepositoryRoot
{
    public static string Find()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RenderFarm.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No RenderFarm.sln above {AppContext.BaseDirectory}.");
    }
}
