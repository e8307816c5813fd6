using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace RenderFarm.Gpu;

/// <summary>
/// A host-visible buffer that carries uploads to and downloads from buffers the host cannot map (device-local
/// memory of discrete GPUs), in chunks of at most <see cref="MaxBytes"/>, so a huge transfer needs no second huge
/// allocation.
/// </summary>
internal sealed unsafe class StagingBuffer : IDisposable
{
    private readonly Vk _vk;
    private readonly MemoryAllocator _allocator;
    private readonly CommandRecorder _commands;

    private VkBuffer _buffer;
    private DeviceMemory _memory;
    private byte* _mapped;
    private ulong _capacity;

    public StagingBuffer(Vk vk, MemoryAllocator allocator, CommandRecorder commands)
    {
        _vk = vk;
        _allocator = allocator;
        _commands = commands;
    }

    /// <summary>The largest staging allocation.</summary>
    public ulong MaxBytes { get; set; } = 64UL << 20;

    public void Upload(ReadOnlySpan<byte> bytes, VkBuffer target, ulong offsetBytes)
    {
        Ensure((ulong)bytes.Length);
        int chunkSize = (int)_capacity;
        for (int done = 0; done < bytes.Length; done += chunkSize)
        {
            ReadOnlySpan<byte> chunk = bytes.Slice(done, Math.Min(chunkSize, bytes.Length - done));
            chunk.CopyTo(new Span<byte>(_mapped, chunk.Length));

            _commands.Begin();
            var region = new BufferCopy(0, offsetBytes + (ulong)done, (ulong)chunk.Length);
            _vk.CmdCopyBuffer(_commands.Buffer, _buffer, target, 1, &region);
            _commands.SubmitAndWait();
        }
    }

    public void Download(VkBuffer source, ulong offsetBytes, Span<byte> bytes)
    {
        Ensure((ulong)bytes.Length);
        int chunkSize = (int)_capacity;
        for (int done = 0; done < bytes.Length; done += chunkSize)
        {
            Span<byte> chunk = bytes.Slice(done, Math.Min(chunkSize, bytes.Length - done));

            _commands.Begin();
            var region = new BufferCopy(offsetBytes + (ulong)done, 0, (ulong)chunk.Length);
            _vk.CmdCopyBuffer(_commands.Buffer, source, _buffer, 1, &region);
            _commands.SubmitAndWait();

            new ReadOnlySpan<byte>(_mapped, chunk.Length).CopyTo(chunk);
        }
    }

    public void Dispose()
    {
        _allocator.Destroy(_buffer, _memory);
        _buffer = default;
        _memory = default;
        _mapped = null;
        _capacity = 0;
    }

    private void Ensure(ulong transferBytes)
    {
        ulong wanted = Math.Min(transferBytes, MaxBytes);
        if (_capacity >= wanted)
        {
            return;
        }

        // Grow geometrically (within the cap) so a series of slightly larger transfers does not reallocate each time.
        ulong capacity = Math.Min(Math.Max(wanted, _capacity * 2), MaxBytes);
        Dispose();
        (VkBuffer buffer, DeviceMemory memory, _) = _allocator.CreateBuffer(
            capacity,
            BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit,
            MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit,
            MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit | MemoryPropertyFlags.HostCachedBit);
        _mapped = _allocator.MapOrDestroy(buffer, memory);
        _buffer = buffer;
        _memory = memory;
        _capacity = capacity;
    }
}
