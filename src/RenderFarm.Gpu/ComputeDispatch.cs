namespace RenderFarm.Gpu;

/// <summary>
/// One dispatch of a sequence run by <see cref="ComputeDevice.DispatchSequence"/>: a pipeline, the buffers bound to
/// set 0 (binding i gets <see cref="Buffers"/>[i]), its push constants and the workgroup counts.
/// </summary>
/// <param name="Pipeline">The pipeline to run.</param>
/// <param name="Buffers">Exactly <see cref="ComputePipeline.StorageBufferCount"/> buffers from the same device.</param>
/// <param name="PushConstants">Up to <see cref="ComputePipeline.PushConstantBytes"/> bytes; the rest of the block is zero.</param>
/// <param name="GroupsX">Workgroups along X, at least 1.</param>
/// <param name="GroupsY">Workgroups along Y, at least 1.</param>
/// <param name="GroupsZ">Workgroups along Z, at least 1.</param>
public sealed record ComputeDispatch(
    ComputePipeline Pipeline, IReadOnlyList<GpuBuffer> Buffers, ReadOnlyMemory<byte> PushConstants, uint GroupsX, uint GroupsY, uint GroupsZ);
