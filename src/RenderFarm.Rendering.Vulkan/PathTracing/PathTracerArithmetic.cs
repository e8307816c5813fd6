namespace RenderFarm.Rendering.PathTracing;

/// <summary>Which arithmetic a <see cref="PathTracer"/>'s shader uses.</summary>
public enum PathTracerArithmetic
{
    /// <summary>The device's own: what every farm frame is rendered with.</summary>
    Device,

    /// <summary>
    /// A simulated other conforming Vulkan device: the ray-triangle products evaluated in another order with fused
    /// multiply-adds, and sin, cos, sqrt, inversesqrt and pow off by input-dependent errors at the bounds the Vulkan
    /// specification allows (shaders/pathtrace.glsl). For measuring honest divergence between drivers; never for a
    /// farm's frames.
    /// </summary>
    OtherConformingDevice,
}
