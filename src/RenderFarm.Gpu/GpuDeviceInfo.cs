namespace RenderFarm.Gpu;

/// <summary>Describes one Vulkan physical device, as listed by <see cref="ComputeDevice.EnumerateDevices"/>.</summary>
/// <param name="Index">The device's position in Vulkan's physical device list; pass it to <see cref="ComputeDevice.Open"/>.</param>
/// <param name="Name">The device name reported by the driver, e.g. <c>llvmpipe (LLVM 15.0.6, 256 bits)</c>.</param>
/// <param name="Kind">The kind of hardware.</param>
/// <param name="DriverName">The driver name (e.g. <c>llvmpipe</c>, <c>NVIDIA</c>); empty when the driver does not report it.</param>
/// <param name="DriverInfo">The driver version text (e.g. <c>Mesa 22.3.6 (LLVM 15.0.6)</c>); empty when the driver does not report it.</param>
/// <param name="ApiVersion">The highest Vulkan version the device supports, as <c>major.minor.patch</c>.</param>
/// <param name="VendorId">The PCI vendor id (0x10DE NVIDIA, 0x1002 AMD, 0x8086 Intel, 0x10005 Mesa).</param>
/// <param name="DeviceLocalMemoryBytes">The total size of the device-local memory heaps.</param>
/// <param name="SupportsTimestamps">
/// Whether the queue used for compute can write timestamps, so <see cref="ComputeDevice.Dispatch"/> reports GPU time.
/// </param>
public sealed record GpuDeviceInfo(
    int Index,
    string Name,
    GpuDeviceKind Kind,
    string DriverName,
    string DriverInfo,
    string ApiVersion,
    uint VendorId,
    ulong DeviceLocalMemoryBytes,
    bool SupportsTimestamps)
{
    /// <summary>Formats the device for listings, e.g. <c>0: llvmpipe (LLVM 15.0.6, 256 bits) [Cpu, llvmpipe Mesa 22.3.6 (LLVM 15.0.6)]</c>.</summary>
    public override string ToString()
    {
        string driver = $"{DriverName} {DriverInfo}".Trim();
        return driver.Length == 0 ? $"{Index}: {Name} [{Kind}]" : $"{Index}: {Name} [{Kind}, {driver}]";
    }
}
