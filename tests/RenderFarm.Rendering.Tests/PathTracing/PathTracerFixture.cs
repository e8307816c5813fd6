using RenderFarm.Gpu;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>One device and one compiled path tracer for all GPU tests; they run one at a time.</summary>
public sealed class PathTracerFixture : IDisposable
{
    public PathTracerFixture()
    {
        // No skipping: a machine without a Vulkan device fails these tests, loudly.
        Device = ComputeDevice.Open();
        Tracer = new PathTracer(Device);
    }

    public ComputeDevice Device { get; }

    public PathTracer Tracer { get; }

    public void Dispose()
    {
        Tracer.Dispose();
        Device.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class PathTracerCollection : ICollectionFixture<PathTracerFixture>
{
    public const string Name = "Path tracer";
}
