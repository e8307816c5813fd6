using System.Globalization;

namespace RenderFarm.Gpu;

/// <summary>Which physical device <see cref="ComputeDevice.Open"/> uses: the one asked for, or the best that can compute.</summary>
internal static class DeviceSelection
{
    public static PhysicalDeviceCandidate Select(VulkanInstance instance, int? deviceIndex)
    {
        IReadOnlyList<PhysicalDeviceCandidate> devices = instance.Devices;
        string source = "Vulkan device";
        if (deviceIndex is null)
        {
            string? fromEnvironment = Environment.GetEnvironmentVariable(ComputeDevice.DeviceEnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                if (!int.TryParse(fromEnvironment.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int parsed))
                {
                    throw new GpuUnavailableException(
                        $"{ComputeDevice.DeviceEnvironmentVariable}='{fromEnvironment}' is not a device index. " +
                        $"Available devices: {instance.DescribeDevices()}.");
                }

                deviceIndex = parsed;
                source = $"Vulkan device {ComputeDevice.DeviceEnvironmentVariable}=";
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
}
