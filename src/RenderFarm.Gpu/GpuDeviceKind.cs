namespace RenderFarm.Gpu;

/// <summary>What kind of hardware a Vulkan physical device is (mirrors <c>VkPhysicalDeviceType</c>).</summary>
public enum GpuDeviceKind
{
    /// <summary>A device that does not match any other kind.</summary>
    Other,

    /// <summary>A GPU embedded in or tightly coupled with the host CPU.</summary>
    IntegratedGpu,

    /// <summary>A separate GPU, typically with its own memory.</summary>
    DiscreteGpu,

    /// <summary>A virtual GPU in a virtualization environment.</summary>
    VirtualGpu,

    /// <summary>A software renderer running on the CPU, such as Mesa lavapipe (llvmpipe).</summary>
    Cpu,
}
