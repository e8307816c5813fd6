using System.Diagnostics;
using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>
/// Records a validated sequence of dispatches into one command buffer (descriptor sets, pipeline binds, push constants,
/// barriers between dispatches), submits it, waits and times it. The device calls it under its lock; it owns none of
/// the objects it is given.
/// </summary>
internal sealed unsafe class DispatchRecorder(Vk vk, Device device, CommandRecorder commandRecorder, TimestampQueries? timestamps)
{
    private readonly Vk _vk = vk;
    private readonly Device _device = device;
    private readonly CommandRecorder _commands = commandRecorder;
    private readonly TimestampQueries? _timestamps = timestamps;

    /// <summary>
    /// Runs <paramref name="dispatches"/>, already checked and sized as <paramref name="shape"/>: the GPU time from
    /// timestamp queries, or the wall-clock time of the submission on a queue without timestamps.
    /// </summary>
    public TimeSpan Run(IReadOnlyList<ComputeDispatch> dispatches, DispatchShape shape)
    {
        // The sets live until the submission has completed, then go with the arena.
        using var descriptors = new DescriptorArena(_vk, _device, shape.SetCount, shape.DescriptorCount);
        var sets = new DescriptorSet[dispatches.Count];
        for (int i = 0; i < dispatches.Count; i++)
        {
            if (dispatches[i].Buffers.Count > 0)
            {
                sets[i] = descriptors.Bind(dispatches[i].Pipeline.SetLayout, dispatches[i].Buffers);
            }
        }

        _commands.Begin();
        CommandBuffer commands = _commands.Buffer;
        _timestamps?.WriteStart(commands);
        byte* block = stackalloc byte[shape.MaxPushConstantBytes];
        for (int i = 0; i < dispatches.Count; i++)
        {
            ComputeDispatch dispatch = dispatches[i];
            if (i > 0)
            {
                _commands.ComputeBarrier();
            }

            ComputePipeline pipeline = dispatch.Pipeline;
            _vk.CmdBindPipeline(commands, PipelineBindPoint.Compute, pipeline.Handle);
            if (dispatch.Buffers.Count > 0)
            {
                DescriptorSet set = sets[i];
                _vk.CmdBindDescriptorSets(commands, PipelineBindPoint.Compute, pipeline.Layout, 0, 1, &set, 0, null);
            }

            if (pipeline.PushConstantBytes > 0)
            {
                // The whole declared block is pushed so members the caller left out read as zero, not as garbage.
                var blockSpan = new Span<byte>(block, pipeline.PushConstantBytes);
                blockSpan.Clear();
                dispatch.PushConstants.Span.CopyTo(blockSpan);
                _vk.CmdPushConstants(commands, pipeline.Layout, ShaderStageFlags.ComputeBit, 0, (uint)pipeline.PushConstantBytes, block);
            }

            _vk.CmdDispatch(commands, dispatch.GroupsX, dispatch.GroupsY, dispatch.GroupsZ);
        }

        _timestamps?.WriteEnd(commands);
        long start = Stopwatch.GetTimestamp();
        _commands.SubmitAndWait();
        TimeSpan wallClock = Stopwatch.GetElapsedTime(start);
        return _timestamps?.Read() ?? wallClock;
    }
}
