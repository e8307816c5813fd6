using RenderFarm.Gpu;

namespace RenderFarm.Inference.Tests;

/// <summary>Inference tests share one Vulkan device and run one at a time (the CPU device gains nothing from overlap).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GpuCollection : ICollectionFixture<GpuFixture>
{
    public const string Name = "InferenceGpu";
}

/// <summary>The shared device. No skip: without Vulkan these tests fail with the install hint.</summary>
public sealed class GpuFixture : IDisposable
{
    public GpuFixture()
    {
        Device = ComputeDevice.Open();
    }

    public ComputeDevice Device { get; }

    public void Dispose() => Device.Dispose();
}
