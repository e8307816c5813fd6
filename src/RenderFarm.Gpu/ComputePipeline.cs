using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>
/// A compute shader with its layout: storage buffers at set 0, bindings 0..<see cref="StorageBufferCount"/>-1,
/// and a push-constant block of <see cref="PushConstantBytes"/> bytes. Created by <see cref="ComputeDevice.CreatePipeline"/>.
/// Disposing the device releases the pipeline too; disposing it afterwards is harmless.
/// </summary>
public sealed unsafe class ComputePipeline : IDisposable, IDeviceChild
{
    private readonly Vk _vk;
    private readonly Device _device;
    private readonly DescriptorSetLayout _setLayout;
    private readonly DescriptorPool _descriptorPool;

    internal ComputePipeline(
        ComputeDevice owner,
        Vk vk,
        Device device,
        Pipeline handle,
        PipelineLayout layout,
        DescriptorSetLayout setLayout,
        DescriptorPool descriptorPool,
        DescriptorSet descriptorSet,
        int storageBufferCount,
        int pushConstantBytes)
    {
        Owner = owner;
        _vk = vk;
        _device = device;
        Handle = handle;
        Layout = layout;
        _setLayout = setLayout;
        _descriptorPool = descriptorPool;
        DescriptorSet = descriptorSet;
        StorageBufferCount = storageBufferCount;
        PushConstantBytes = pushConstantBytes;
    }

    /// <summary>How many storage buffers <see cref="ComputeDevice.Dispatch"/> must bind.</summary>
    public int StorageBufferCount { get; }

    /// <summary>The size of the push-constant block, in bytes (a multiple of 4; 0 when there is none).</summary>
    public int PushConstantBytes { get; }

    internal ComputeDevice Owner { get; }

    internal Pipeline Handle { get; }

    internal PipelineLayout Layout { get; }

    /// <summary>The layout of set 0 (default when the pipeline has no buffers), for sets allocated per recorded dispatch.</summary>
    internal DescriptorSetLayout SetLayout => _setLayout;

    /// <summary>
    /// The pipeline's one descriptor set (default when it has no buffers). Dispatch is synchronous, so each
    /// dispatch can rewrite it: the previous one has finished with it.
    /// </summary>
    internal DescriptorSet DescriptorSet { get; }

    internal bool IsDisposed { get; private set; }

    /// <summary>Releases the pipeline. Safe to call more than once, and after the device was disposed.</summary>
    public void Dispose() => Owner.Release(this);

    void IDeviceChild.DestroyHandles()
    {
        IsDisposed = true;
        _vk.DestroyPipeline(_device, Handle, null);
        _vk.DestroyPipelineLayout(_device, Layout, null);
        if (_descriptorPool.Handle != 0)
        {
            // Destroying the pool frees its descriptor set.
            _vk.DestroyDescriptorPool(_device, _descriptorPool, null);
        }

        if (_setLayout.Handle != 0)
        {
            _vk.DestroyDescriptorSetLayout(_device, _setLayout, null);
        }
    }
}
