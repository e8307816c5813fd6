namespace RenderFarm.Gpu;

/// <summary>A Vulkan object owned by a <see cref="ComputeDevice"/>, released before the device itself.</summary>
internal interface IDeviceChild
{
    /// <summary>Destroys the Vulkan handles. Called once, by the device, under its lock.</summary>
    void DestroyHandles();
}
