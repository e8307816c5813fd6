using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>
/// The device's one command buffer and its fence: begin, record, submit and wait. Every submission waits, so a
/// recording never overlaps a previous one and resources it used are free again when <see cref="SubmitAndWait"/> returns.
/// </summary>
internal sealed unsafe class CommandRecorder : IDisposable
{
    private readonly Vk _vk;
    private readonly Device _device;
    private readonly Queue _queue;
    private readonly CommandPool _pool;
    private readonly Fence _fence;

    public CommandRecorder(Vk vk, Device device, uint queueFamily)
    {
        _vk = vk;
        _device = device;
        Queue queue;
        _vk.GetDeviceQueue(_device, queueFamily, 0, &queue);
        _queue = queue;

        var poolInfo = new CommandPoolCreateInfo
        {
            SType = StructureType.CommandPoolCreateInfo,
            Flags = CommandPoolCreateFlags.ResetCommandBufferBit,
            QueueFamilyIndex = queueFamily,
        };
        CommandPool pool;
        VulkanCheck.Check(_vk.CreateCommandPool(_device, &poolInfo, null, &pool), "vkCreateCommandPool");
        _pool = pool;
        try
        {
            var allocateInfo = new CommandBufferAllocateInfo
            {
                SType = StructureType.CommandBufferAllocateInfo,
                CommandPool = _pool,
                Level = CommandBufferLevel.Primary,
                CommandBufferCount = 1,
            };
            CommandBuffer commandBuffer;
            VulkanCheck.Check(_vk.AllocateCommandBuffers(_device, &allocateInfo, &commandBuffer), "vkAllocateCommandBuffers");
            Buffer = commandBuffer;

            var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
            Fence fence;
            VulkanCheck.Check(_vk.CreateFence(_device, &fenceInfo, null, &fence), "vkCreateFence");
            _fence = fence;
        }
        catch
        {
            // Destroying the pool frees the command buffer.
            _vk.DestroyCommandPool(_device, _pool, null);
            throw;
        }
    }

    /// <summary>The command buffer being recorded between <see cref="Begin"/> and <see cref="SubmitAndWait"/>.</summary>
    public CommandBuffer Buffer { get; }

    /// <summary>Starts a recording whose commands see every write of earlier submissions.</summary>
    public void Begin()
    {
        var beginInfo = new CommandBufferBeginInfo
        {
            SType = StructureType.CommandBufferBeginInfo,
            Flags = CommandBufferUsageFlags.OneTimeSubmitBit,
        };

        // The pool was created with ResetCommandBufferBit, so beginning again implicitly resets the buffer.
        VulkanCheck.Check(_vk.BeginCommandBuffer(Buffer, &beginInfo), "vkBeginCommandBuffer");

        // A barrier's first scope covers earlier submissions too: this makes every write of previous calls
        // (copies, fills, dispatches) visible to this one, and orders this one's writes after their reads.
        Barrier(
            PipelineStageFlags.AllCommandsBit,
            AccessFlags.MemoryWriteBit,
            PipelineStageFlags.AllCommandsBit,
            AccessFlags.MemoryReadBit | AccessFlags.MemoryWriteBit);
    }

    /// <summary>Makes the compute writes recorded so far visible to the dispatches recorded next.</summary>
    public void ComputeBarrier() => Barrier(
        PipelineStageFlags.ComputeShaderBit,
        AccessFlags.ShaderWriteBit,
        PipelineStageFlags.ComputeShaderBit,
        AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit);

    /// <summary>Ends the recording, submits it and waits for the device to finish it.</summary>
    public void SubmitAndWait()
    {
        // Makes device writes visible to the host, which reads mapped buffers and the staging buffer afterwards.
        Barrier(PipelineStageFlags.AllCommandsBit, AccessFlags.MemoryWriteBit, PipelineStageFlags.HostBit, AccessFlags.HostReadBit);
        VulkanCheck.Check(_vk.EndCommandBuffer(Buffer), "vkEndCommandBuffer");

        Fence fence = _fence;
        VulkanCheck.Check(_vk.ResetFences(_device, 1, &fence), "vkResetFences");

        CommandBuffer commandBuffer = Buffer;
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

    public void Dispose()
    {
        _vk.DestroyFence(_device, _fence, null);

        // Destroying the pool frees the command buffer.
        _vk.DestroyCommandPool(_device, _pool, null);
    }

    private void Barrier(PipelineStageFlags srcStage, AccessFlags srcAccess, PipelineStageFlags dstStage, AccessFlags dstAccess)
    {
        var barrier = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = srcAccess,
            DstAccessMask = dstAccess,
        };
        _vk.CmdPipelineBarrier(Buffer, srcStage, dstStage, 0, 1, &barrier, 0, null, 0, null);
    }
}
