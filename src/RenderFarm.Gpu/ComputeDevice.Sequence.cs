using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

public sealed unsafe partial class ComputeDevice
{
    /// <summary>
    /// Records <paramref name="dispatches"/> in order into one command buffer, with a memory barrier between
    /// consecutive dispatches (each sees every write of the ones before it), submits it once and waits.
    /// </summary>
    /// <remarks>
    /// Each dispatch gets its own descriptor set, so the same pipeline may appear many times with different buffers.
    /// A whole network runs this way as one submission instead of one per layer.
    /// </remarks>
    /// <returns>The wall-clock time of the submission.</returns>
    public TimeSpan DispatchSequence(IReadOnlyList<ComputeDispatch> dispatches)
    {
        ArgumentNullException.ThrowIfNull(dispatches);
        if (dispatches.Count == 0)
        {
            return TimeSpan.Zero;
        }

        uint descriptorCount = 0;
        uint setCount = 0;
        for (int i = 0; i < dispatches.Count; i++)
        {
            ComputeDispatch dispatch = dispatches[i] ?? throw new ArgumentException($"dispatches[{i}] is null.", nameof(dispatches));
            ArgumentNullException.ThrowIfNull(dispatch.Pipeline, $"dispatches[{i}].Pipeline");
            ArgumentNullException.ThrowIfNull(dispatch.Buffers, $"dispatches[{i}].Buffers");
            ValidateGroupCount(dispatch.GroupsX, _maxGroupsX, $"dispatches[{i}].GroupsX");
            ValidateGroupCount(dispatch.GroupsY, _maxGroupsY, $"dispatches[{i}].GroupsY");
            ValidateGroupCount(dispatch.GroupsZ, _maxGroupsZ, $"dispatches[{i}].GroupsZ");
            if (dispatch.Buffers.Count != dispatch.Pipeline.StorageBufferCount)
            {
                throw new ArgumentException(
                    $"dispatches[{i}]: the pipeline declares {dispatch.Pipeline.StorageBufferCount} storage buffer(s) but " +
                    $"{dispatch.Buffers.Count} were passed.",
                    nameof(dispatches));
            }

            if (dispatch.PushConstants.Length > dispatch.Pipeline.PushConstantBytes)
            {
                throw new ArgumentException(
                    $"dispatches[{i}]: {dispatch.PushConstants.Length} bytes of push constants passed but the pipeline declares " +
                    $"{dispatch.Pipeline.PushConstantBytes}.",
                    nameof(dispatches));
            }

            if (dispatch.Buffers.Count > 0)
            {
                descriptorCount += (uint)dispatch.Buffers.Count;
                setCount++;
            }
        }

        lock (_sync)
        {
            ThrowIfDisposed();
            for (int i = 0; i < dispatches.Count; i++)
            {
                ComputeDispatch dispatch = dispatches[i];
                ObjectDisposedException.ThrowIf(dispatch.Pipeline.IsDisposed, dispatch.Pipeline);
                if (dispatch.Pipeline.Owner != this)
                {
                    throw new ArgumentException($"dispatches[{i}]: the pipeline belongs to a different ComputeDevice.", nameof(dispatches));
                }

                for (int b = 0; b < dispatch.Buffers.Count; b++)
                {
                    ValidateBuffer(dispatch.Buffers[b], $"dispatches[{i}].Buffers[{b}]");
                }
            }

            DescriptorPool pool = default;
            try
            {
                var sets = new DescriptorSet[dispatches.Count];
                if (setCount > 0)
                {
                    var poolSize = new DescriptorPoolSize(DescriptorType.StorageBuffer, descriptorCount);
                    var poolInfo = new DescriptorPoolCreateInfo
                    {
                        SType = StructureType.DescriptorPoolCreateInfo,
                        MaxSets = setCount,
                        PoolSizeCount = 1,
                        PPoolSizes = &poolSize,
                    };
                    VulkanCheck.Check(_vk.CreateDescriptorPool(_device, &poolInfo, null, &pool), "vkCreateDescriptorPool");
                    for (int i = 0; i < dispatches.Count; i++)
                    {
                        ComputeDispatch dispatch = dispatches[i];
                        if (dispatch.Buffers.Count == 0)
                        {
                            continue;
                        }

                        DescriptorSetLayout layout = dispatch.Pipeline.SetLayout;
                        var allocateInfo = new DescriptorSetAllocateInfo
                        {
                            SType = StructureType.DescriptorSetAllocateInfo,
                            DescriptorPool = pool,
                            DescriptorSetCount = 1,
                            PSetLayouts = &layout,
                        };
                        DescriptorSet set;
                        VulkanCheck.Check(_vk.AllocateDescriptorSets(_device, &allocateInfo, &set), "vkAllocateDescriptorSets");
                        WriteDescriptors(set, dispatch.Buffers);
                        sets[i] = set;
                    }
                }

                BeginCommands();
                int maxPush = 0;
                foreach (ComputeDispatch dispatch in dispatches)
                {
                    maxPush = Math.Max(maxPush, dispatch.Pipeline.PushConstantBytes);
                }

                byte* block = stackalloc byte[Math.Max(maxPush, 4)];
                for (int i = 0; i < dispatches.Count; i++)
                {
                    ComputeDispatch dispatch = dispatches[i];
                    if (i > 0)
                    {
                        MemoryBarrier(
                            PipelineStageFlags.ComputeShaderBit,
                            AccessFlags.ShaderWriteBit,
                            PipelineStageFlags.ComputeShaderBit,
                            AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit);
                    }

                    ComputePipeline pipeline = dispatch.Pipeline;
                    _vk.CmdBindPipeline(_commandBuffer, PipelineBindPoint.Compute, pipeline.Handle);
                    if (dispatch.Buffers.Count > 0)
                    {
                        DescriptorSet set = sets[i];
                        _vk.CmdBindDescriptorSets(_commandBuffer, PipelineBindPoint.Compute, pipeline.Layout, 0, 1, &set, 0, null);
                    }

                    if (pipeline.PushConstantBytes > 0)
                    {
                        // The whole declared block is pushed so members the caller left out read as zero.
                        var blockSpan = new Span<byte>(block, pipeline.PushConstantBytes);
                        blockSpan.Clear();
                        dispatch.PushConstants.Span.CopyTo(blockSpan);
                        _vk.CmdPushConstants(
                            _commandBuffer, pipeline.Layout, ShaderStageFlags.ComputeBit, 0, (uint)pipeline.PushConstantBytes, block);
                    }

                    _vk.CmdDispatch(_commandBuffer, dispatch.GroupsX, dispatch.GroupsY, dispatch.GroupsZ);
                }

                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                SubmitAndWait();
                return System.Diagnostics.Stopwatch.GetElapsedTime(start);
            }
            finally
            {
                if (pool.Handle != 0)
                {
                    // Destroying the pool frees the sets; the submission has completed (or never started).
                    _vk.DestroyDescriptorPool(_device, pool, null);
                }
            }
        }
    }

    private void WriteDescriptors(DescriptorSet set, IReadOnlyList<GpuBuffer> buffers)
    {
        DescriptorBufferInfo* infos = stackalloc DescriptorBufferInfo[buffers.Count];
        WriteDescriptorSet* writes = stackalloc WriteDescriptorSet[buffers.Count];
        for (int i = 0; i < buffers.Count; i++)
        {
            infos[i] = new DescriptorBufferInfo(buffers[i].Handle, 0, Vk.WholeSize);
            writes[i] = new WriteDescriptorSet
            {
                SType = StructureType.WriteDescriptorSet,
                DstSet = set,
                DstBinding = (uint)i,
                DescriptorCount = 1,
                DescriptorType = DescriptorType.StorageBuffer,
                PBufferInfo = &infos[i],
            };
        }

        _vk.UpdateDescriptorSets(_device, (uint)buffers.Count, writes, 0, null);
    }
}
