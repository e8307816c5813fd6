using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace RenderFarm.Gpu;

/// <summary>
/// A headless Vulkan compute device: one compute queue, storage buffers, compute pipelines and timed dispatches.
/// Every operation submits its own command buffer and waits for it, so results are ready when a call returns.
/// </summary>
/// <remarks>
/// Calls are serialized by a lock, so a device may be shared between threads, but work does not overlap.
/// Disposing the device releases every <see cref="GpuBuffer"/> and <see cref="ComputePipeline"/> it created;
/// using them afterwards throws <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed unsafe partial class ComputeDevice : IDisposable
{
    /// <summary>
    /// Environment variable holding the device index <see cref="Open"/> uses when it is given none
    /// (see <see cref="EnumerateDevices"/> for the indices).
    /// </summary>
    public const string DeviceEnvironmentVariable = "RENDERFARM_VULKAN_DEVICE";

    private const uint SpirvMagic = 0x07230203;

    private readonly Lock _sync = new();
    private readonly HashSet<IDeviceChild> _children = [];
    private readonly VulkanInstance _instance;
    private readonly Vk _vk;
    private readonly PhysicalDevice _physicalDevice;
    private readonly PhysicalDeviceMemoryProperties _memoryProperties;
    private readonly uint _maxPushConstantsBytes;
    private readonly uint _maxStorageBufferRange;
    private readonly uint _maxStorageBuffersPerStage;
    private readonly uint _maxGroupsX;
    private readonly uint _maxGroupsY;
    private readonly uint _maxGroupsZ;
    private readonly float _timestampPeriodNs;
    private readonly ulong _timestampMask;

    private Device _device;
    private Queue _queue;
    private CommandPool _commandPool;
    private CommandBuffer _commandBuffer;
    private Fence _fence;
    private QueryPool _queryPool;

    private VkBuffer _stagingBuffer;
    private DeviceMemory _stagingMemory;
    private byte* _stagingMapped;
    private ulong _stagingCapacity;

    private bool _disposed;

    private ComputeDevice(VulkanInstance instance, PhysicalDeviceCandidate candidate)
    {
        _instance = instance;
        _vk = instance.Api;
        _physicalDevice = candidate.Handle;
        Info = candidate.Info;

        PhysicalDeviceProperties properties;
        _vk.GetPhysicalDeviceProperties(_physicalDevice, &properties);
        PhysicalDeviceLimits limits = properties.Limits;
        _maxPushConstantsBytes = limits.MaxPushConstantsSize;
        _maxStorageBufferRange = limits.MaxStorageBufferRange;
        _maxStorageBuffersPerStage = limits.MaxPerStageDescriptorStorageBuffers;
        _maxGroupsX = limits.MaxComputeWorkGroupCount[0];
        _maxGroupsY = limits.MaxComputeWorkGroupCount[1];
        _maxGroupsZ = limits.MaxComputeWorkGroupCount[2];
        _timestampPeriodNs = limits.TimestampPeriod;

        PhysicalDeviceMemoryProperties memoryProperties;
        _vk.GetPhysicalDeviceMemoryProperties(_physicalDevice, &memoryProperties);
        _memoryProperties = memoryProperties;

        uint family = (uint)candidate.ComputeQueueFamily;
        uint familyCount = 0;
        _vk.GetPhysicalDeviceQueueFamilyProperties(_physicalDevice, &familyCount, null);
        var families = new QueueFamilyProperties[familyCount];
        fixed (QueueFamilyProperties* pFamilies = families)
        {
            _vk.GetPhysicalDeviceQueueFamilyProperties(_physicalDevice, &familyCount, pFamilies);
        }

        uint validBits = families[family].TimestampValidBits;
        _timestampMask = validBits >= 64 ? ulong.MaxValue : (1UL << (int)validBits) - 1;

        try
        {
            CreateDeviceObjects(family);
        }
        catch
        {
            DestroyDeviceObjects();
            throw;
        }
    }

    /// <summary>The device this instance runs on.</summary>
    public GpuDeviceInfo Info { get; }

    /// <summary>
    /// Makes buffers created from now on skip direct mapping and go through the staging buffer, as they must on
    /// GPUs whose device-local memory is not host-visible. Lets tests cover that path on integrated/CPU devices.
    /// </summary>
    internal bool ForceStaging { get; set; }

    /// <summary>
    /// The largest staging buffer; bigger transfers are split so a huge upload does not need a second huge allocation.
    /// </summary>
    internal ulong MaxStagingBytes { get; set; } = 64UL << 20;

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
            return new ComputeDevice(instance, SelectDevice(instance, deviceIndex));
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
        if (sizeBytes > ulong.MaxValue - 3 || allocationSize > _maxStorageBufferRange)
        {
            throw new ArgumentOutOfRangeException(
                nameof(sizeBytes),
                sizeBytes,
                $"Storage buffers on {Info.Name} are limited to {_maxStorageBufferRange} bytes (maxStorageBufferRange).");
        }

        lock (_sync)
        {
            ThrowIfDisposed();
            (VkBuffer buffer, DeviceMemory memory, MemoryPropertyFlags flags) = CreateBufferWithMemory(
                allocationSize,
                BufferUsageFlags.StorageBufferBit | BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit,
                MemoryPropertyFlags.DeviceLocalBit,
                MemoryPropertyFlags.DeviceLocalBit);

            byte* mapped = null;
            const MemoryPropertyFlags directAccess = MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit;
            if (!ForceStaging && (flags & directAccess) == directAccess)
            {
                // Integrated GPUs and lavapipe: copy straight into the memory, no staging round trip.
                void* pointer;
                Result result = _vk.MapMemory(_device, memory, 0, Vk.WholeSize, 0, &pointer);
                if (result != Result.Success)
                {
                    _vk.DestroyBuffer(_device, buffer, null);
                    _vk.FreeMemory(_device, memory, null);
                    throw VulkanCheck.Failure(result, "vkMapMemory");
                }

                mapped = (byte*)pointer;
            }

            var gpuBuffer = new GpuBuffer(this, _vk, _device, buffer, memory, sizeBytes, mapped);
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

            EnsureStaging((ulong)bytes.Length);
            int chunkSize = (int)_stagingCapacity;
            for (int done = 0; done < bytes.Length; done += chunkSize)
            {
                ReadOnlySpan<byte> chunk = bytes.Slice(done, Math.Min(chunkSize, bytes.Length - done));
                chunk.CopyTo(new Span<byte>(_stagingMapped, chunk.Length));

                BeginCommands();
                var region = new BufferCopy(0, offsetBytes + (ulong)done, (ulong)chunk.Length);
                _vk.CmdCopyBuffer(_commandBuffer, _stagingBuffer, buffer.Handle, 1, &region);
                SubmitAndWait();
            }
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

            EnsureStaging((ulong)bytes.Length);
            int chunkSize = (int)_stagingCapacity;
            for (int done = 0; done < bytes.Length; done += chunkSize)
            {
                Span<byte> chunk = bytes.Slice(done, Math.Min(chunkSize, bytes.Length - done));

                BeginCommands();
                var region = new BufferCopy(offsetBytes + (ulong)done, 0, (ulong)chunk.Length);
                _vk.CmdCopyBuffer(_commandBuffer, buffer.Handle, _stagingBuffer, 1, &region);
                SubmitAndWait();

                new ReadOnlySpan<byte>(_stagingMapped, chunk.Length).CopyTo(chunk);
            }
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
            BeginCommands();
            _vk.CmdFillBuffer(_commandBuffer, buffer.Handle, 0, Vk.WholeSize, value);
            SubmitAndWait();
        }
    }

    /// <summary>Creates a compute pipeline from SPIR-V code.</summary>
    /// <param name="spirv">The SPIR-V module, e.g. the bytes of a <c>.spv</c> file written by glslc.</param>
    /// <param name="storageBufferCount">How many storage buffers the shader declares at set 0, bindings 0..n-1.</param>
    /// <param name="pushConstantBytes">The size of the shader's push-constant block: a multiple of 4, at most the device's maxPushConstantsSize.</param>
    /// <param name="entryPoint">The name of the shader's GLCompute entry point.</param>
    public ComputePipeline CreatePipeline(ReadOnlySpan<byte> spirv, int storageBufferCount, int pushConstantBytes, string entryPoint = "main")
    {
        ValidateSpirv(spirv, entryPoint);
        if (storageBufferCount < 0 || (uint)storageBufferCount > _maxStorageBuffersPerStage)
        {
            throw new ArgumentOutOfRangeException(
                nameof(storageBufferCount),
                storageBufferCount,
                $"Must be between 0 and {_maxStorageBuffersPerStage} (maxPerStageDescriptorStorageBuffers of {Info.Name}).");
        }

        if (pushConstantBytes < 0 || pushConstantBytes % 4 != 0 || (uint)pushConstantBytes > _maxPushConstantsBytes)
        {
            throw new ArgumentOutOfRangeException(
                nameof(pushConstantBytes),
                pushConstantBytes,
                $"Must be a multiple of 4 between 0 and {_maxPushConstantsBytes} (maxPushConstantsSize of {Info.Name}).");
        }

        // vkCreateShaderModule wants 4-byte aligned words; the caller's bytes may sit anywhere.
        uint[] code = MemoryMarshal.Cast<byte, uint>(spirv).ToArray();

        lock (_sync)
        {
            ThrowIfDisposed();

            ShaderModule module = default;
            DescriptorSetLayout setLayout = default;
            DescriptorPool pool = default;
            PipelineLayout layout = default;
            Pipeline pipeline = default;
            nint entryPointName = Marshal.StringToCoTaskMemUTF8(entryPoint);
            try
            {
                fixed (uint* pCode = code)
                {
                    var moduleInfo = new ShaderModuleCreateInfo
                    {
                        SType = StructureType.ShaderModuleCreateInfo,
                        CodeSize = (nuint)spirv.Length,
                        PCode = pCode,
                    };
                    VulkanCheck.Check(_vk.CreateShaderModule(_device, &moduleInfo, null, &module), "vkCreateShaderModule");
                }

                DescriptorSet set = default;
                if (storageBufferCount > 0)
                {
                    var bindings = new DescriptorSetLayoutBinding[storageBufferCount];
                    for (int i = 0; i < bindings.Length; i++)
                    {
                        bindings[i] = new DescriptorSetLayoutBinding
                        {
                            Binding = (uint)i,
                            DescriptorType = DescriptorType.StorageBuffer,
                            DescriptorCount = 1,
                            StageFlags = ShaderStageFlags.ComputeBit,
                        };
                    }

                    fixed (DescriptorSetLayoutBinding* pBindings = bindings)
                    {
                        var setLayoutInfo = new DescriptorSetLayoutCreateInfo
                        {
                            SType = StructureType.DescriptorSetLayoutCreateInfo,
                            BindingCount = (uint)bindings.Length,
                            PBindings = pBindings,
                        };
                        VulkanCheck.Check(
                            _vk.CreateDescriptorSetLayout(_device, &setLayoutInfo, null, &setLayout),
                            "vkCreateDescriptorSetLayout");
                    }

                    var poolSize = new DescriptorPoolSize(DescriptorType.StorageBuffer, (uint)storageBufferCount);
                    var poolInfo = new DescriptorPoolCreateInfo
                    {
                        SType = StructureType.DescriptorPoolCreateInfo,
                        MaxSets = 1,
                        PoolSizeCount = 1,
                        PPoolSizes = &poolSize,
                    };
                    VulkanCheck.Check(_vk.CreateDescriptorPool(_device, &poolInfo, null, &pool), "vkCreateDescriptorPool");

                    var allocateInfo = new DescriptorSetAllocateInfo
                    {
                        SType = StructureType.DescriptorSetAllocateInfo,
                        DescriptorPool = pool,
                        DescriptorSetCount = 1,
                        PSetLayouts = &setLayout,
                    };
                    VulkanCheck.Check(_vk.AllocateDescriptorSets(_device, &allocateInfo, &set), "vkAllocateDescriptorSets");
                }

                var pushRange = new PushConstantRange(ShaderStageFlags.ComputeBit, 0, (uint)pushConstantBytes);
                var layoutInfo = new PipelineLayoutCreateInfo
                {
                    SType = StructureType.PipelineLayoutCreateInfo,
                    SetLayoutCount = storageBufferCount > 0 ? 1u : 0u,
                    PSetLayouts = storageBufferCount > 0 ? &setLayout : null,
                    PushConstantRangeCount = pushConstantBytes > 0 ? 1u : 0u,
                    PPushConstantRanges = pushConstantBytes > 0 ? &pushRange : null,
                };
                VulkanCheck.Check(_vk.CreatePipelineLayout(_device, &layoutInfo, null, &layout), "vkCreatePipelineLayout");

                var pipelineInfo = new ComputePipelineCreateInfo
                {
                    SType = StructureType.ComputePipelineCreateInfo,
                    Stage = new PipelineShaderStageCreateInfo
                    {
                        SType = StructureType.PipelineShaderStageCreateInfo,
                        Stage = ShaderStageFlags.ComputeBit,
                        Module = module,
                        PName = (byte*)entryPointName,
                    },
                    Layout = layout,
                };
                VulkanCheck.Check(
                    _vk.CreateComputePipelines(_device, default, 1, &pipelineInfo, null, &pipeline),
                    "vkCreateComputePipelines");

                var result = new ComputePipeline(
                    this, _vk, _device, pipeline, layout, setLayout, pool, set, storageBufferCount, pushConstantBytes);
                _children.Add(result);
                return result;
            }
            catch
            {
                if (pipeline.Handle != 0)
                {
                    _vk.DestroyPipeline(_device, pipeline, null);
                }

                if (layout.Handle != 0)
                {
                    _vk.DestroyPipelineLayout(_device, layout, null);
                }

                if (pool.Handle != 0)
                {
                    _vk.DestroyDescriptorPool(_device, pool, null);
                }

                if (setLayout.Handle != 0)
                {
                    _vk.DestroyDescriptorSetLayout(_device, setLayout, null);
                }

                throw;
            }
            finally
            {
                // The pipeline keeps what it needs; the module is only an input to its creation.
                if (module.Handle != 0)
                {
                    _vk.DestroyShaderModule(_device, module, null);
                }

                Marshal.FreeCoTaskMem(entryPointName);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="pipeline"/> over groupsX × groupsY × groupsZ workgroups and waits for it to finish.
    /// <paramref name="buffers"/>[i] is bound to set 0, binding i.
    /// </summary>
    /// <param name="pipeline">The pipeline to run.</param>
    /// <param name="buffers">Exactly <see cref="ComputePipeline.StorageBufferCount"/> buffers from this device.</param>
    /// <param name="pushConstants">
    /// Up to <see cref="ComputePipeline.PushConstantBytes"/> bytes; the rest of the block is zero.
    /// </param>
    /// <param name="groupsX">Workgroups along X, at least 1.</param>
    /// <param name="groupsY">Workgroups along Y, at least 1.</param>
    /// <param name="groupsZ">Workgroups along Z, at least 1.</param>
    /// <returns>
    /// The GPU execution time from timestamp queries (rounded up to 100 ns ticks), or the wall-clock time of the
    /// submission when the queue cannot write timestamps.
    /// </returns>
    public TimeSpan Dispatch(ComputePipeline pipeline, ReadOnlySpan<GpuBuffer> buffers, ReadOnlySpan<byte> pushConstants, uint groupsX, uint groupsY, uint groupsZ)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ValidateGroupCount(groupsX, _maxGroupsX, nameof(groupsX));
        ValidateGroupCount(groupsY, _maxGroupsY, nameof(groupsY));
        ValidateGroupCount(groupsZ, _maxGroupsZ, nameof(groupsZ));

        lock (_sync)
        {
            ThrowIfDisposed();
            ObjectDisposedException.ThrowIf(pipeline.IsDisposed, pipeline);
            if (pipeline.Owner != this)
            {
                throw new ArgumentException("The pipeline belongs to a different ComputeDevice.", nameof(pipeline));
            }

            if (buffers.Length != pipeline.StorageBufferCount)
            {
                throw new ArgumentException(
                    $"The pipeline declares {pipeline.StorageBufferCount} storage buffer(s) but {buffers.Length} were passed.",
                    nameof(buffers));
            }

            for (int i = 0; i < buffers.Length; i++)
            {
                ValidateBuffer(buffers[i], $"{nameof(buffers)}[{i}]");
            }

            if (pushConstants.Length > pipeline.PushConstantBytes)
            {
                throw new ArgumentException(
                    $"{pushConstants.Length} bytes of push constants passed but the pipeline declares {pipeline.PushConstantBytes} " +
                    $"(the device allows at most {_maxPushConstantsBytes}).",
                    nameof(pushConstants));
            }

            if (buffers.Length > 0)
            {
                WriteDescriptors(pipeline, buffers);
            }

            BeginCommands();
            _vk.CmdBindPipeline(_commandBuffer, PipelineBindPoint.Compute, pipeline.Handle);
            if (buffers.Length > 0)
            {
                DescriptorSet set = pipeline.DescriptorSet;
                _vk.CmdBindDescriptorSets(_commandBuffer, PipelineBindPoint.Compute, pipeline.Layout, 0, 1, &set, 0, null);
            }

            if (pipeline.PushConstantBytes > 0)
            {
                // Push the whole declared block so members the caller left out read as zero, not as garbage.
                byte* block = stackalloc byte[pipeline.PushConstantBytes];
                var blockSpan = new Span<byte>(block, pipeline.PushConstantBytes);
                blockSpan.Clear();
                pushConstants.CopyTo(blockSpan);
                _vk.CmdPushConstants(
                    _commandBuffer, pipeline.Layout, ShaderStageFlags.ComputeBit, 0, (uint)pipeline.PushConstantBytes, block);
            }

            bool timestamps = _queryPool.Handle != 0;
            if (timestamps)
            {
                _vk.CmdResetQueryPool(_commandBuffer, _queryPool, 0, 2);
                _vk.CmdWriteTimestamp(_commandBuffer, PipelineStageFlags.TopOfPipeBit, _queryPool, 0);
            }

            _vk.CmdDispatch(_commandBuffer, groupsX, groupsY, groupsZ);
            if (timestamps)
            {
                _vk.CmdWriteTimestamp(_commandBuffer, PipelineStageFlags.BottomOfPipeBit, _queryPool, 1);
            }

            long start = Stopwatch.GetTimestamp();
            SubmitAndWait();
            TimeSpan wallClock = Stopwatch.GetElapsedTime(start);
            return timestamps ? ReadTimestamps() : wallClock;
        }
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
            if (_device.Handle != 0)
            {
                // Nothing should be in flight (every call waits), but a failed wait may have left work behind.
                _vk.DeviceWaitIdle(_device);
            }

            foreach (IDeviceChild child in _children)
            {
                child.DestroyHandles();
            }

            _children.Clear();
            DestroyDeviceObjects();
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

    private static PhysicalDeviceCandidate SelectDevice(VulkanInstance instance, int? deviceIndex)
    {
        IReadOnlyList<PhysicalDeviceCandidate> devices = instance.Devices;
        string source = "Vulkan device";
        if (deviceIndex is null)
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(DeviceEnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                if (!int.TryParse(fromEnvironment.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int parsed))
                {
                    throw new GpuUnavailableException(
                        $"{DeviceEnvironmentVariable}='{fromEnvironment}' is not a device index. " +
                        $"Available devices: {instance.DescribeDevices()}.");
                }

                deviceIndex = parsed;
                source = $"Vulkan device {DeviceEnvironmentVariable}=";
            }
        }

        if (deviceIndex is int index)
        {
            if (index < 0 || index >= devices.Count)
            {
                throw new GpuUnavailableException(
                    $"{source}{(source.EndsWith('=') ? string.Empty : " ")}{index} does not exist. " +
                    $"Available devices: {instance.DescribeDevices()}.");
            }

            PhysicalDeviceCandidate chosen = devices[index];
            if (chosen.ComputeQueueFamily < 0)
            {
                throw new GpuUnavailableException(
                    $"Vulkan device {chosen.Info} has no compute queue. Available devices: {instance.DescribeDevices()}.");
            }

            return chosen;
        }

        PhysicalDeviceCandidate? best = devices
            .Where(d => d.ComputeQueueFamily >= 0)
            .OrderBy(d => Preference(d.Info.Kind))
            .ThenBy(d => d.Info.Index)
            .FirstOrDefault();
        return best ?? throw new GpuUnavailableException(
            $"No Vulkan device can run compute shaders. Available devices: {instance.DescribeDevices()}.");
    }

    private static int Preference(GpuDeviceKind kind) => kind switch
    {
        GpuDeviceKind.DiscreteGpu => 0,
        GpuDeviceKind.IntegratedGpu => 1,
        GpuDeviceKind.VirtualGpu => 2,
        GpuDeviceKind.Cpu => 3,
        _ => 4,
    };

    private static void ValidateSpirv(ReadOnlySpan<byte> spirv, string entryPoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(entryPoint);
        if (spirv.IsEmpty)
        {
            throw new ArgumentException("The SPIR-V code is empty.", nameof(spirv));
        }

        if (spirv.Length % 4 != 0)
        {
            throw new ArgumentException(
                $"SPIR-V code is a sequence of 4-byte words, but {spirv.Length} bytes were passed.", nameof(spirv));
        }

        // Header: magic, version, generator, bound, schema; then instructions.
        if (spirv.Length < 20 || BinaryPrimitives.ReadUInt32LittleEndian(spirv) != SpirvMagic)
        {
            throw new ArgumentException(
                $"The code is not little-endian SPIR-V (it must start with the magic number 0x{SpirvMagic:X8}).", nameof(spirv));
        }

        // A missing entry point is undefined behaviour in the driver (lavapipe crashes), so check it here.
        const uint OpEntryPoint = 15;
        const uint ExecutionModelGLCompute = 5;
        var names = new List<string>();
        for (int offset = 20; offset + 4 <= spirv.Length;)
        {
            uint word = BinaryPrimitives.ReadUInt32LittleEndian(spirv[offset..]);
            int wordCount = (int)(word >> 16);
            if (wordCount == 0 || offset + (wordCount * 4) > spirv.Length)
            {
                throw new ArgumentException($"The SPIR-V code is malformed (bad instruction at byte {offset}).", nameof(spirv));
            }

            if ((word & 0xFFFF) == OpEntryPoint && wordCount >= 4 &&
                BinaryPrimitives.ReadUInt32LittleEndian(spirv[(offset + 4)..]) == ExecutionModelGLCompute)
            {
                ReadOnlySpan<byte> literal = spirv.Slice(offset + 12, (wordCount - 3) * 4);
                int end = literal.IndexOf((byte)0);
                string name = Encoding.UTF8.GetString(end < 0 ? literal : literal[..end]);
                if (name == entryPoint)
                {
                    return;
                }

                names.Add(name);
            }

            offset += wordCount * 4;
        }

        throw new ArgumentException(
            names.Count == 0
                ? "The SPIR-V code has no compute (GLCompute) entry point."
                : $"The SPIR-V code has no compute entry point '{entryPoint}' (it has: {string.Join(", ", names)}).",
            nameof(entryPoint));
    }

    private static void ValidateGroupCount(uint groups, uint max, string paramName)
    {
        if (groups == 0 || groups > max)
        {
            throw new ArgumentOutOfRangeException(
                paramName, groups, $"Workgroup counts must be between 1 and {max} (maxComputeWorkGroupCount).");
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

    private void WriteDescriptors(ComputePipeline pipeline, ReadOnlySpan<GpuBuffer> buffers)
    {
        // The previous dispatch has completed (every submit waits), so the set is free to rewrite.
        var infos = new DescriptorBufferInfo[buffers.Length];
        var writes = new WriteDescriptorSet[buffers.Length];
        fixed (DescriptorBufferInfo* pInfos = infos)
        {
            for (int i = 0; i < buffers.Length; i++)
            {
                pInfos[i] = new DescriptorBufferInfo(buffers[i].Handle, 0, Vk.WholeSize);
                writes[i] = new WriteDescriptorSet
                {
                    SType = StructureType.WriteDescriptorSet,
                    DstSet = pipeline.DescriptorSet,
                    DstBinding = (uint)i,
                    DescriptorCount = 1,
                    DescriptorType = DescriptorType.StorageBuffer,
                    PBufferInfo = &pInfos[i],
                };
            }

            fixed (WriteDescriptorSet* pWrites = writes)
            {
                _vk.UpdateDescriptorSets(_device, (uint)writes.Length, pWrites, 0, null);
            }
        }
    }

    private TimeSpan ReadTimestamps()
    {
        ulong* stamps = stackalloc ulong[2];
        VulkanCheck.Check(
            _vk.GetQueryPoolResults(
                _device, _queryPool, 0, 2, 2 * sizeof(ulong), stamps, sizeof(ulong), QueryResultFlags.Result64Bit | QueryResultFlags.ResultWaitBit),
            "vkGetQueryPoolResults");

        // Masking the difference keeps it right when a counter narrower than 64 bits wraps.
        ulong ticks = (stamps[1] - stamps[0]) & _timestampMask;
        double nanoseconds = ticks * (double)_timestampPeriodNs;

        // Rounded up so a real but sub-100 ns measurement does not read as zero time.
        return TimeSpan.FromTicks((long)Math.Ceiling(nanoseconds / 100.0));
    }

    private void BeginCommands()
    {
        var beginInfo = new CommandBufferBeginInfo
        {
            SType = StructureType.CommandBufferBeginInfo,
            Flags = CommandBufferUsageFlags.OneTimeSubmitBit,
        };

        // The pool was created with ResetCommandBufferBit, so beginning again implicitly resets the buffer.
        VulkanCheck.Check(_vk.BeginCommandBuffer(_commandBuffer, &beginInfo), "vkBeginCommandBuffer");

        // A barrier's first scope covers earlier submissions too: this makes every write of previous calls
        // (copies, fills, dispatches) visible to this one, and orders this one's writes after their reads.
        MemoryBarrier(
            PipelineStageFlags.AllCommandsBit,
            AccessFlags.MemoryWriteBit,
            PipelineStageFlags.AllCommandsBit,
            AccessFlags.MemoryReadBit | AccessFlags.MemoryWriteBit);
    }

    private void SubmitAndWait()
    {
        // Makes device writes visible to the host, which reads mapped buffers and the staging buffer afterwards.
        MemoryBarrier(PipelineStageFlags.AllCommandsBit, AccessFlags.MemoryWriteBit, PipelineStageFlags.HostBit, AccessFlags.HostReadBit);
        VulkanCheck.Check(_vk.EndCommandBuffer(_commandBuffer), "vkEndCommandBuffer");

        Fence fence = _fence;
        VulkanCheck.Check(_vk.ResetFences(_device, 1, &fence), "vkResetFences");

        CommandBuffer commandBuffer = _commandBuffer;
        var submitInfo = new SubmitInfo
        {
            SType = StructureType.SubmitInfo,
            CommandBufferCount = 1,
            PCommandBuffers = &commandBuffer,
        };

        // Host writes before vkQueueSubmit (uploads into mapped memory) are visible to the submission implicitly.
        VulkanCheck.Check(_vk.QueueSubmit(_queue, 1, &submitInfo, fence), "vkQueueSubmit");
        VulkanCheck.Check(_vk.WaitForFences(_device, 1, &fence, true, ulong.MaxValue), "vkWaitForFences");
    }

    private void MemoryBarrier(PipelineStageFlags srcStage, AccessFlags srcAccess, PipelineStageFlags dstStage, AccessFlags dstAccess)
    {
        var barrier = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = srcAccess,
            DstAccessMask = dstAccess,
        };
        _vk.CmdPipelineBarrier(_commandBuffer, srcStage, dstStage, 0, 1, &barrier, 0, null, 0, null);
    }

    private void EnsureStaging(ulong transferBytes)
    {
        ulong wanted = Math.Min(transferBytes, MaxStagingBytes);
        if (_stagingCapacity >= wanted)
        {
            return;
        }

        DestroyStaging();

        // Grow geometrically (within the cap) so a series of slightly larger transfers does not reallocate each time.
        ulong capacity = Math.Min(Math.Max(wanted, _stagingCapacity * 2), MaxStagingBytes);
        (VkBuffer buffer, DeviceMemory memory, _) = CreateBufferWithMemory(
            capacity,
            BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit,
            MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit,
            MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit | MemoryPropertyFlags.HostCachedBit);

        void* pointer;
        Result result = _vk.MapMemory(_device, memory, 0, Vk.WholeSize, 0, &pointer);
        if (result != Result.Success)
        {
            _vk.DestroyBuffer(_device, buffer, null);
            _vk.FreeMemory(_device, memory, null);
            throw VulkanCheck.Failure(result, "vkMapMemory");
        }

        _stagingBuffer = buffer;
        _stagingMemory = memory;
        _stagingMapped = (byte*)pointer;
        _stagingCapacity = capacity;
    }

    private void DestroyStaging()
    {
        if (_stagingBuffer.Handle != 0)
        {
            _vk.DestroyBuffer(_device, _stagingBuffer, null);
            _stagingBuffer = default;
        }

        if (_stagingMemory.Handle != 0)
        {
            _vk.FreeMemory(_device, _stagingMemory, null);
            _stagingMemory = default;
        }

        _stagingMapped = null;
        _stagingCapacity = 0;
    }

    /// <summary>
    /// Creates a buffer bound to fresh memory of a type having <paramref name="required"/> flags, preferring one
    /// that also has <paramref name="preferred"/>.
    /// </summary>
    private (VkBuffer Buffer, DeviceMemory Memory, MemoryPropertyFlags Flags) CreateBufferWithMemory(
        ulong size, BufferUsageFlags usage, MemoryPropertyFlags required, MemoryPropertyFlags preferred)
    {
        var bufferInfo = new BufferCreateInfo
        {
            SType = StructureType.BufferCreateInfo,
            Size = size,
            Usage = usage,
            SharingMode = SharingMode.Exclusive,
        };

        VkBuffer buffer;
        VulkanCheck.Check(_vk.CreateBuffer(_device, &bufferInfo, null, &buffer), "vkCreateBuffer");

        DeviceMemory memory = default;
        try
        {
            MemoryRequirements requirements;
            _vk.GetBufferMemoryRequirements(_device, buffer, &requirements);

            int type = FindMemoryType(requirements.MemoryTypeBits, preferred);
            if (type < 0)
            {
                type = FindMemoryType(requirements.MemoryTypeBits, required);
            }

            if (type < 0 && required == MemoryPropertyFlags.DeviceLocalBit)
            {
                // Device-local is a preference for storage buffers; any memory the buffer accepts will do.
                type = FindMemoryType(requirements.MemoryTypeBits, 0);
            }

            if (type < 0)
            {
                throw new InvalidOperationException($"{Info.Name} has no memory type with {required} for a buffer.");
            }

            var allocateInfo = new MemoryAllocateInfo
            {
                SType = StructureType.MemoryAllocateInfo,
                AllocationSize = requirements.Size,
                MemoryTypeIndex = (uint)type,
            };
            VulkanCheck.Check(_vk.AllocateMemory(_device, &allocateInfo, null, &memory), "vkAllocateMemory");
            VulkanCheck.Check(_vk.BindBufferMemory(_device, buffer, memory, 0), "vkBindBufferMemory");
            return (buffer, memory, _memoryProperties.MemoryTypes[type].PropertyFlags);
        }
        catch
        {
            _vk.DestroyBuffer(_device, buffer, null);
            if (memory.Handle != 0)
            {
                _vk.FreeMemory(_device, memory, null);
            }

            throw;
        }
    }

    private int FindMemoryType(uint typeBits, MemoryPropertyFlags flags)
    {
        for (int i = 0; i < (int)_memoryProperties.MemoryTypeCount; i++)
        {
            if ((typeBits & (1u << i)) != 0 && (_memoryProperties.MemoryTypes[i].PropertyFlags & flags) == flags)
            {
                return i;
            }
        }

        return -1;
    }

    private void CreateDeviceObjects(uint family)
    {
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
        VulkanCheck.Check(_vk.CreateDevice(_physicalDevice, &deviceInfo, null, &device), "vkCreateDevice");
        _device = device;

        Queue queue;
        _vk.GetDeviceQueue(_device, family, 0, &queue);
        _queue = queue;

        var poolInfo = new CommandPoolCreateInfo
        {
            SType = StructureType.CommandPoolCreateInfo,
            Flags = CommandPoolCreateFlags.ResetCommandBufferBit,
            QueueFamilyIndex = family,
        };
        CommandPool pool;
        VulkanCheck.Check(_vk.CreateCommandPool(_device, &poolInfo, null, &pool), "vkCreateCommandPool");
        _commandPool = pool;

        var allocateInfo = new CommandBufferAllocateInfo
        {
            SType = StructureType.CommandBufferAllocateInfo,
            CommandPool = _commandPool,
            Level = CommandBufferLevel.Primary,
            CommandBufferCount = 1,
        };
        CommandBuffer commandBuffer;
        VulkanCheck.Check(_vk.AllocateCommandBuffers(_device, &allocateInfo, &commandBuffer), "vkAllocateCommandBuffers");
        _commandBuffer = commandBuffer;

        var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
        Fence fence;
        VulkanCheck.Check(_vk.CreateFence(_device, &fenceInfo, null, &fence), "vkCreateFence");
        _fence = fence;

        if (Info.SupportsTimestamps)
        {
            var queryInfo = new QueryPoolCreateInfo
            {
                SType = StructureType.QueryPoolCreateInfo,
                QueryType = QueryType.Timestamp,
                QueryCount = 2,
            };
            QueryPool queryPool;
            VulkanCheck.Check(_vk.CreateQueryPool(_device, &queryInfo, null, &queryPool), "vkCreateQueryPool");
            _queryPool = queryPool;
        }
    }

    private void DestroyDeviceObjects()
    {
        if (_device.Handle == 0)
        {
            return;
        }

        DestroyStaging();
        if (_queryPool.Handle != 0)
        {
            _vk.DestroyQueryPool(_device, _queryPool, null);
        }

        if (_fence.Handle != 0)
        {
            _vk.DestroyFence(_device, _fence, null);
        }

        if (_commandPool.Handle != 0)
        {
            // Destroying the pool frees the command buffer.
            _vk.DestroyCommandPool(_device, _commandPool, null);
        }

        _vk.DestroyDevice(_device, null);
        _device = default;
    }
}
