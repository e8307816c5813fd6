namespace RenderFarm.Gpu;

/// <summary>The limits of a <see cref="ComputeDevice"/> that decide what work fits on it.</summary>
/// <param name="MaxStorageBufferRange">The largest storage buffer one binding can cover, in bytes (maxStorageBufferRange).</param>
/// <param name="MaxStorageBuffersPerStage">Storage buffers one kernel may bind (maxPerStageDescriptorStorageBuffers).</param>
/// <param name="MaxPushConstantsBytes">The largest push-constant block (maxPushConstantsSize).</param>
/// <param name="MaxGroupsX">Workgroups one dispatch may launch along X (maxComputeWorkGroupCount[0]).</param>
/// <param name="MaxGroupsY">Workgroups along Y.</param>
/// <param name="MaxGroupsZ">Workgroups along Z.</param>
/// <param name="DeviceLocalMemoryBytes">The total size of the device-local memory heaps.</param>
public sealed record DeviceLimits(
    ulong MaxStorageBufferRange,
    uint MaxStorageBuffersPerStage,
    uint MaxPushConstantsBytes,
    uint MaxGroupsX,
    uint MaxGroupsY,
    uint MaxGroupsZ,
    ulong DeviceLocalMemoryBytes);
