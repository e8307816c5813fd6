namespace RenderFarm.Gpu;

/// <summary>What a recording needs allocated: descriptor sets, descriptors and the largest push-constant block.</summary>
/// <param name="SetCount">One descriptor set per dispatch that binds buffers.</param>
/// <param name="DescriptorCount">The buffers bound by all dispatches together.</param>
/// <param name="MaxPushConstantBytes">The largest push-constant block of any dispatch (at least 4).</param>
internal readonly record struct DispatchShape(uint SetCount, uint DescriptorCount, int MaxPushConstantBytes);

/// <summary>
/// The checks of kernels and dispatches against a device's limits, made before any Vulkan call: a kernel's layout when
/// its pipeline is created, and every dispatch's workgroups, buffers and push constants before a recording starts.
/// </summary>
internal static class DeviceLimitChecks
{
    /// <summary>Refuses a kernel layout that <paramref name="limits"/> cannot hold, naming the limit and the device.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count or size is out of the device's range.</exception>
    public static void ValidateKernel(KernelDescription description, DeviceLimits limits, string deviceName)
    {
        if (description.StorageBufferCount < 0 || (uint)description.StorageBufferCount > limits.MaxStorageBuffersPerStage)
        {
            throw new ArgumentOutOfRangeException(
                "storageBufferCount",
                description.StorageBufferCount,
                $"Must be between 0 and {limits.MaxStorageBuffersPerStage} (maxPerStageDescriptorStorageBuffers of {deviceName}).");
        }

        if (description.PushConstantBytes < 0 || description.PushConstantBytes % 4 != 0 ||
            (uint)description.PushConstantBytes > limits.MaxPushConstantsBytes)
        {
            throw new ArgumentOutOfRangeException(
                "pushConstantBytes",
                description.PushConstantBytes,
                $"Must be a multiple of 4 between 0 and {limits.MaxPushConstantsBytes} (maxPushConstantsSize of {deviceName}).");
        }

        if (!description.SpecializationConstants.IsDefault && description.SpecializationConstants.Length > KernelDescription.MaxSpecializationConstants)
        {
            throw new ArgumentOutOfRangeException(
                nameof(description),
                description.SpecializationConstants.Length,
                $"At most {KernelDescription.MaxSpecializationConstants} specialization constants.");
        }
    }

    /// <summary>
    /// Checks every dispatch's shape against its pipeline and <paramref name="limits"/> (not which device owns the
    /// pipeline and buffers: that is checked under the device's lock) and sizes the recording. Parameter names in errors
    /// are those of <see cref="ComputeDevice.Dispatch"/> when <paramref name="single"/>, else "dispatches[i].…".
    /// </summary>
    /// <exception cref="ArgumentException">A dispatch is null, or its buffers, push constants or workgroups do not fit.</exception>
    public static DispatchShape ValidateDispatches(IReadOnlyList<ComputeDispatch> dispatches, bool single, DeviceLimits limits)
    {
        uint descriptorCount = 0;
        uint setCount = 0;
        int maxPush = 4;
        for (int i = 0; i < dispatches.Count; i++)
        {
            ComputeDispatch dispatch = dispatches[i] ?? throw new ArgumentException($"dispatches[{i}] is null.", nameof(dispatches));
            string prefix = single ? string.Empty : $"dispatches[{i}].";
            ArgumentNullException.ThrowIfNull(dispatch.Pipeline, prefix + "pipeline");
            ArgumentNullException.ThrowIfNull(dispatch.Buffers, prefix + "buffers");
            ValidateGroupCount(dispatch.GroupsX, limits.MaxGroupsX, prefix + "groupsX");
            ValidateGroupCount(dispatch.GroupsY, limits.MaxGroupsY, prefix + "groupsY");
            ValidateGroupCount(dispatch.GroupsZ, limits.MaxGroupsZ, prefix + "groupsZ");
            ComputePipeline pipeline = dispatch.Pipeline;
            if (dispatch.Buffers.Count != pipeline.StorageBufferCount)
            {
                throw new ArgumentException(
                    $"{prefix}{pipeline.Description.Name}: the pipeline declares {pipeline.StorageBufferCount} storage buffer(s) but " +
                    $"{dispatch.Buffers.Count} were passed.",
                    prefix + "buffers");
            }

            if (dispatch.PushConstants.Length > pipeline.PushConstantBytes)
            {
                throw new ArgumentException(
                    $"{prefix}{pipeline.Description.Name}: {dispatch.PushConstants.Length} bytes of push constants passed but the " +
                    $"pipeline declares {pipeline.PushConstantBytes} (the device allows at most {limits.MaxPushConstantsBytes}).",
                    prefix + "pushConstants");
            }

            if (dispatch.Buffers.Count > 0)
            {
                descriptorCount += (uint)dispatch.Buffers.Count;
                setCount++;
            }

            maxPush = Math.Max(maxPush, pipeline.PushConstantBytes);
        }

        return new DispatchShape(setCount, descriptorCount, maxPush);
    }

    private static void ValidateGroupCount(uint groups, uint max, string paramName)
    {
        if (groups == 0 || groups > max)
        {
            throw new ArgumentOutOfRangeException(
                paramName, groups, $"Workgroup counts must be between 1 and {max} (maxComputeWorkGroupCount).");
        }
    }
}
