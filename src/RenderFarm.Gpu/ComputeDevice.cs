using System.Runtime.InteropServices;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace RenderFarm.Gpu;

/// <summary>
/// A headless Vulkan compute device: one compute queue, storage buffers, compute kernels and timed dispatches.
/// Every operation submits its own command buffer and waits for it, so results are ready when a call returns.
/// </summary>
/// <remarks>
/// Calls are serialized by a lock, so a device may be shared between threads, but work does not overlap.
/// Disposing the device releases every <see cref="GpuBuffer"/> and <see cref="ComputePipeline"/> it created;
/// using them afterwards throws <see cref="ObjectDisposedException"/>. The parts have their own types:
/// <see cref="DeviceSelection"/> (which device), <see cref="MemoryAllocator"/> and <see cref="StagingBuffer"/>
/// (memory and transfers), <see cref="SpirvValidation"/>, <see cref="DescriptorArena"/>, <see cref="CommandRecorder"/>
/// and <see cref="TimestampQueries"/>, with <see cref="DeviceLimitChecks"/> and <see cref="DispatchRecorder"/> for
/// dispatches; this class validates ownership and orders them.
/// </remarks>
public sealed unsafe class ComputeDevice : IDisposable
{
    /// <summary>
    /// Environment variable holding the device index <see cref="Open"/> uses when it is given none
    /// (see <see cref="EnumerateDevices"/> for the indices).
    /// </summary>
    public const string DeviceEnvironmentVariable = "RENDERFARM_VULKAN_DEVICE";

    private readonly Lock _sync = new();
    private readonly HashSet<IDeviceChild> _children = [];
    private readonly VulkanInstance _instance;
    private readonly Vk _vk;
    private readonly Device _device;
    private readonly MemoryAllocator _memory;
    private readonly CommandRecorder _commands;
    private readonly StagingBuffer _staging;
    private readonly TimestampQueries? _timestamps;
    private readonly DispatchRecorder _dispatcher;

    private bool _disposed;

    private ComputeDevice(VulkanInstance instance, PhysicalDeviceCandidate candidate)
    {
        _instance = instance;
        _vk = instance.Api;
        Info = candidate.Info;
        PhysicalDevice physicalDevice = candidate.Handle;

        PhysicalDeviceProperties properties;
        _vk.GetPhysicalDeviceProperties(physicalDevice, &properties);
        PhysicalDeviceLimits limits = properties.Limits;
        Limits = new DeviceLimits(
            limits.MaxStorageBufferRange,
            limits.MaxPerStageDescriptorStorageBuffers,
            limits.MaxPushConstantsSize,
            limits.MaxComputeWorkGroupCount[0],
            limits.MaxComputeWorkGroupCount[1],
            limits.MaxComputeWorkGroupCount[2],
            candidate.Info.DeviceLocalMemoryBytes);

        PhysicalDeviceMemoryProperties memoryProperties;
        _vk.GetPhysicalDeviceMemoryProperties(physicalDevice, &memoryProperties);

        uint family = (uint)candidate.ComputeQueueFamily;
        uint familyCount = 0;
        _vk.GetPhysicalDeviceQueueFamilyProperties(physicalDevice, &familyCount, null);
        var families = new QueueFamilyProperties[familyCount];
        fixed (QueueFamilyProperties* pFamilies = families)
        {
            _vk.GetPhysicalDeviceQueueFamilyProperties(physicalDevice, &familyCount, pFamilies);
        }

        float priority = 1.0f;
        var queueInfo = new DeviceQueueCreateInfo
        {
            SType = StructureType.DeviceQueueCreateInfo,
            QueueFamilyIndex = family,
            QueueCount = 1,
            PQueuePriorities = &priority,
        };
        var deviceInfo = new DeviceCreateInfo
        {
            SType = StructureType.DeviceCreateInfo,
            QueueCreateInfoCount = 1,
            PQueueCreateInfos = &queueInfo,
        };
        Device device;
        VulkanCheck.Check(_vk.CreateDevice(physicalDevice, &deviceInfo, null, &device), "vkCreateDevice");
        _device = device;
        try
        {
            _memory = new MemoryAllocator(_vk, _device, memoryProperties, Info.Name);
            _commands = new CommandRecorder(_vk, _device, family);
            _staging = new StagingBuffer(_vk, _memory, _commands);
            if (Info.SupportsTimestamps)
            {
                _timestamps = new TimestampQueries(_vk, _device, limits.TimestampPeriod, families[family].TimestampValidBits);
            }
        }
        catch
        {
            _commands?.Dispose();
            _vk.DestroyDevice(_device, null);
            throw;
        }

        _dispatcher = new DispatchRecorder(_vk, _device, _commands, _timestamps);
        Kernels = new KernelCache(this);
    }

    /// <summary>The device this instance runs on.</summary>
    public GpuDeviceInfo Info { get; }

    /// <summary>The device's limits on buffers, kernels and dispatches.</summary>
    public DeviceLimits Limits { get; }

    /// <summary>The kernels compiled on this device, shared by everything that runs on it.</summary>
    public KernelCache Kernels { get; }

    /// <summary>
    /// Makes buffers created from now on skip direct mapping and go through the staging buffer, as they must on
    /// GPUs whose device-local memory is not host-visible. Lets tests cover that path on integrated/CPU devices.
    /// </summary>
    internal bool ForceStaging { get; set; }

    /// <summary>
    /// The largest staging buffer; bigger transfers are split so a huge upload does not need a second huge allocation.
    /// </summary>
    internal ulong MaxStagingBytes
    {
        get => _staging.MaxBytes;
        set => _staging.MaxBytes = value;
    }

    /// <summary>Lists the Vulkan devices on this machine.</summary>
    /// <exception cref="GpuUnavailableException">No Vulkan loader, driver or device is installed.</exception>
    public static IReadOnlyList<GpuDeviceInfo> EnumerateDevices()
    {
        using VulkanInstance instance = VulkanInstance.Create();
        return instance.Devices.Select(d => d.Info).ToArray();
    }

    /// <summary>
    /// Opens a device. With no index, uses <see cref="DeviceEnvironmentVariable"/> when set, otherwise the best
    /// device: discrete GPU, then integrated, virtual, CPU (lavapipe), other.
    /// </summary>
    /// <param name="deviceIndex">An index from <see cref="EnumerateDevices"/>, or null to choose automatically.</param>
    /// <exception cref="GpuUnavailableException">
    /// Vulkan is not installed, the index does not exist (the message lists the devices), or the device cannot compute.
    /// </exception>
    public static ComputeDevice Open(int? deviceIndex = null)
    {
        VulkanInstance instance = VulkanInstance.Create();
        try
        {
            return new ComputeDevice(instance, DeviceSelection.Select(instance, deviceIndex));
        }
        catch
        {
            instance.Dispose();
            throw;
        }
    }

    /// <summary>Creates a storage buffer, in device-local memory when the device has it. Its contents start undefined.</summary>
    /// <param name="sizeBytes">The size in bytes: at least 1, at most the device's maxStorageBufferRange.</param>
    public GpuBuffer CreateBuffer(ulong sizeBytes)
    {
        ArgumentOutOfRangeException.ThrowIfZero(sizeBytes);

        // Rounded up to whole words so Fill (which works in 4-byte words) covers every requested byte.
        // The whole buffer is bound as one descriptor, so the rounded size must fit the storage-buffer range.
        ulong allocationSize = (sizeBytes + 3) & ~3UL;
        if (sizeBytes > ulong.MaxValue - 3 || allocationSize > Limits.MaxStorageBufferRange)
        {
            throw new ArgumentOutOfRangeException(
                nameof(sizeBytes),
                sizeBytes,
                $"Storage buffers on {Info.Name} are limited to {Limits.MaxStorageBufferRange} bytes (maxStorageBufferRange).");
        }

        lock (_sync)
        {
            ThrowIfDisposed();
            (VkBuffer buffer, DeviceMemory memory, MemoryPropertyFlags flags) = _memory.CreateBuffer(
                allocationSize,
                BufferUsageFlags.StorageBufferBit | BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit,
                MemoryPropertyFlags.DeviceLocalBit,
                MemoryPropertyFlags.DeviceLocalBit);

            // Integrated GPUs and lavapipe: copy straight into the memory, no staging round trip.
            const MemoryPropertyFlags directAccess = MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit;
            byte* mapped = !ForceStaging && (flags & directAccess) == directAccess ? _memory.MapOrDestroy(buffer, memory) : null;
            var gpuBuffer = new GpuBuffer(this, _memory, buffer, memory, sizeBytes, mapped);
            _children.Add(gpuBuffer);
            return gpuBuffer;
        }
    }

    /// <summary>Copies <paramref name="data"/> into <paramref name="buffer"/> at <paramref name="offsetBytes"/>.</summary>
    public void Upload<T>(GpuBuffer buffer, ReadOnlySpan<T> data, ulong offsetBytes = 0)
        where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(data);
        lock (_sync)
        {
            ValidateRange(buffer, offsetBytes, (ulong)bytes.Length, nameof(data));
            if (bytes.IsEmpty)
            {
                return;
            }

            if (buffer.Mapped != null)
            {
                bytes.CopyTo(new Span<byte>(buffer.Mapped + offsetBytes, bytes.Length));
                return;
            }

            _staging.Upload(bytes, buffer.Handle, offsetBytes);
        }
    }

    /// <summary>Copies bytes from <paramref name="buffer"/> at <paramref name="offsetBytes"/> into <paramref name="destination"/>.</summary>
    public void Download<T>(GpuBuffer buffer, Span<T> destination, ulong offsetBytes = 0)
        where T : unmanaged
    {
        Span<byte> bytes = MemoryMarshal.AsBytes(destination);
        lock (_sync)
        {
            ValidateRange(buffer, offsetBytes, (ulong)bytes.Length, nameof(destination));
            if (bytes.IsEmpty)
            {
                return;
            }

            if (buffer.Mapped != null)
            {
                new ReadOnlySpan<byte>(buffer.Mapped + offsetBytes, bytes.Length).CopyTo(bytes);
                return;
            }

            _staging.Download(buffer.Handle, offsetBytes, bytes);
        }
    }

    /// <summary>
    /// Sets every 4-byte word of <paramref name="buffer"/> to <paramref name="value"/> (vkCmdFillBuffer). When the size
    /// is not a multiple of 4, the trailing bytes get the low bytes of <paramref name="value"/> (little-endian).
    /// </summary>
    public void Fill(GpuBuffer buffer, uint value)
    {
        lock (_sync)
        {
            ValidateBuffer(buffer, nameof(buffer));
            _commands.Begin();
            _vk.CmdFillBuffer(_commands.Buffer, buffer.Handle, 0, Vk.WholeSize, value);
            _commands.SubmitAndWait();
        }
    }

    /// <summary>Creates a compute pipeline from SPIR-V code.</summary>
    /// <param name="spirv">The SPIR-V module, e.g. the bytes of a <c>.spv</c> file written by glslc.</param>
    /// <param name="storageBufferCount">How many storage buffers the shader declares at set 0, bindings 0..n-1.</param>
    /// <param name="pushConstantBytes">The size of the shader's push-constant block: a multiple of 4, at most the device's maxPushConstantsSize.</param>
    /// <param name="entryPoint">The name of the shader's GLCompute entry point.</param>
    public ComputePipeline CreatePipeline(ReadOnlySpan<byte> spirv, int storageBufferCount, int pushConstantBytes, string entryPoint = "main") =>
        CreatePipeline(spirv, new KernelDescription("unnamed", storageBufferCount, pushConstantBytes, entryPoint));

    /// <summary>
    /// Creates a compute pipeline from SPIR-V code with the layout of <paramref name="description"/>. The caller owns
    /// it; <see cref="Kernels"/> keeps one shared pipeline per kernel instead.
    /// </summary>
    public ComputePipeline CreatePipeline(ReadOnlySpan<byte> spirv, KernelDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        SpirvValidation.Validate(spirv, description.EntryPoint);
        DeviceLimitChecks.ValidateKernel(description, Limits, Info.Name);

        lock (_sync)
        {
            ThrowIfDisposed();
            ComputePipeline pipeline = ComputePipeline.Create(this, _vk, _device, spirv, description);
            _children.Add(pipeline);
            return pipeline;
        }
    }

    /// <summary>
    /// Runs <paramref name="pipeline"/> over groupsX × groupsY × groupsZ workgroups and waits for it to finish: a
    /// <see cref="DispatchSequence"/> of one dispatch. <paramref name="buffers"/>[i] is bound to set 0, binding i.
    /// </summary>
    /// <param name="pipeline">The pipeline to run.</param>
    /// <param name="buffers">Exactly <see cref="ComputePipeline.StorageBufferCount"/> buffers from this device.</param>
    /// <param name="pushConstants">
    /// Up to <see cref="ComputePipeline.PushConstantBytes"/> bytes; the rest of the block is zero.
    /// </param>
    /// <param name="groupsX">Workgroups along X, at least 1.</param>
    /// <param name="groupsY">Workgroups along Y, at least 1.</param>
    /// <param name="groupsZ">Workgroups along Z, at least 1.</param>
    /// <returns>The execution time, as <see cref="DispatchSequence"/> measures it.</returns>
    public TimeSpan Dispatch(ComputePipeline pipeline, ReadOnlySpan<GpuBuffer> buffers, ReadOnlySpan<byte> pushConstants, uint groupsX, uint groupsY, uint groupsZ)
    {
        var dispatch = new ComputeDispatch(pipeline, buffers.ToArray(), pushConstants.ToArray(), groupsX, groupsY, groupsZ);
        return Run([dispatch], single: true);
    }

    /// <summary>
    /// Records <paramref name="dispatches"/> in order into one command buffer, with a memory barrier between
    /// consecutive dispatches (each sees every write of the ones before it), submits it once and waits.
    /// </summary>
    /// <remarks>
    /// Each dispatch gets its own descriptor set, so the same pipeline may appear many times with different buffers.
    /// A whole network runs this way as one submission instead of one per layer.
    /// </remarks>
    /// <returns>
    /// The GPU execution time of the whole sequence from timestamp queries (rounded up to 100 ns ticks); on a queue
    /// that cannot write timestamps, the wall-clock time of the submission. Zero for an empty sequence.
    /// </returns>
    public TimeSpan DispatchSequence(IReadOnlyList<ComputeDispatch> dispatches)
    {
        ArgumentNullException.ThrowIfNull(dispatches);
        return dispatches.Count == 0 ? TimeSpan.Zero : Run(dispatches, single: false);
    }

    /// <summary>Waits for the device to go idle, then releases it and every buffer and pipeline created from it.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;

            // Nothing should be in flight (every call waits), but a failed wait may have left work behind.
            _vk.DeviceWaitIdle(_device);
            foreach (IDeviceChild child in _children)
            {
                child.DestroyHandles();
            }

            _children.Clear();
            _staging.Dispose();
            _timestamps?.Dispose();
            _commands.Dispose();
            _vk.DestroyDevice(_device, null);
            _instance.Dispose();
        }
    }

    internal void Release(IDeviceChild child)
    {
        lock (_sync)
        {
            // Already gone when the device was disposed first (the set is then empty) or the child was disposed twice.
            if (_children.Remove(child))
            {
                child.DestroyHandles();
            }
        }
    }

    // The one path every dispatch takes: validation against the limits, then ownership under the lock, then recording
    // and timing. Parameter names in errors are those of Dispatch for a single dispatch and "dispatches[i].…" for a sequence.
    private TimeSpan Run(IReadOnlyList<ComputeDispatch> dispatches, bool single)
    {
        DispatchShape shape = DeviceLimitChecks.ValidateDispatches(dispatches, single, Limits);
        lock (_sync)
        {
            ThrowIfDisposed();
            for (int i = 0; i < dispatches.Count; i++)
            {
                ComputeDispatch dispatch = dispatches[i];
                string prefix = single ? string.Empty : $"dispatches[{i}].";
                ObjectDisposedException.ThrowIf(dispatch.Pipeline.IsDisposed, dispatch.Pipeline);
                if (dispatch.Pipeline.Owner != this)
                {
                    throw new ArgumentException($"{prefix}The pipeline belongs to a different ComputeDevice.", prefix + "pipeline");
                }

                for (int b = 0; b < dispatch.Buffers.Count; b++)
                {
                    ValidateBuffer(dispatch.Buffers[b], $"{prefix}buffers[{b}]");
                }
            }

            return _dispatcher.Run(dispatches, shape);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void ValidateBuffer(GpuBuffer buffer, string paramName)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(buffer, paramName);
        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
        if (buffer.Owner != this)
        {
            throw new ArgumentException("The buffer belongs to a different ComputeDevice.", paramName);
        }
    }

    private void ValidateRange(GpuBuffer buffer, ulong offsetBytes, ulong lengthBytes, string dataParamName)
    {
        ValidateBuffer(buffer, nameof(buffer));
        if (offsetBytes > buffer.SizeBytes || lengthBytes > buffer.SizeBytes - offsetBytes)
        {
            throw new ArgumentOutOfRangeException(
                dataParamName,
                $"{lengthBytes} bytes at offset {offsetBytes} do not fit in a buffer of {buffer.SizeBytes} bytes.");
        }
    }
}
