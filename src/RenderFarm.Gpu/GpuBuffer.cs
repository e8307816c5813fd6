using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace RenderFarm.Gpu;

/// <summary>
/// A storage buffer on a <see cref="ComputeDevice"/>, created by <see cref="ComputeDevice.CreateBuffer"/>.
/// Disposing the device releases the buffer too; disposing it afterwards is harmless.
/// </summary>
public sealed unsafe class GpuBuffer : IDisposable, IDeviceChild
{
    private readonly MemoryAllocator _allocator;
    private readonly DeviceMemory _memory;

    internal GpuBuffer(ComputeDevice owner, MemoryAllocator allocator, VkBuffer handle, DeviceMemory memory, ulong sizeBytes, byte* mapped)
    {
        Owner = owner;
        _allocator = allocator;
        Handle = handle;
        _memory = memory;
        SizeBytes = sizeBytes;
        Mapped = mapped;
    }

    /// <summary>The size requested at creation, in bytes.</summary>
    public ulong SizeBytes { get; }

    internal ComputeDevice Owner { get; }

    internal VkBuffer Handle { get; }

    /// <summary>The persistently mapped memory when the buffer lives in host-visible coherent memory, else null.</summary>
    internal byte* Mapped { get; private set; }

    internal bool IsDisposed { get; private set; }

    /// <summary>Releases the buffer's memory. Safe to call more than once, and after the device was disposed.</summary>
    public void Dispose() => Owner.Release(this);

    void IDeviceChild.DestroyHandles()
    {
        IsDisposed = true;
        Mapped = null;
        _allocator.Destroy(Handle, _memory);
    }
}
