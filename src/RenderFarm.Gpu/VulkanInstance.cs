using System.Runtime.InteropServices;
using Silk.NET.Core.Loader;
using Silk.NET.Vulkan;

namespace RenderFarm.Gpu;

/// <summary>One physical device as seen at enumeration time.</summary>
/// <param name="Handle">The Vulkan handle, valid while the owning <see cref="VulkanInstance"/> lives.</param>
/// <param name="Info">The public description.</param>
/// <param name="ComputeQueueFamily">The queue family to use for compute, or -1 when the device has none.</param>
internal sealed record PhysicalDeviceCandidate(PhysicalDevice Handle, GpuDeviceInfo Info, int ComputeQueueFamily);

/// <summary>
/// A headless Vulkan instance together with its loader and its physical devices. Owns the <see cref="Vk"/>
/// API object, because Silk caches function pointers per API object and devices must not share them.
/// </summary>
internal sealed unsafe class VulkanInstance : IDisposable
{
    public const string ValidationEnvironmentVariable = "RENDERFARM_VULKAN_VALIDATION";

    private const string ValidationLayerName = "VK_LAYER_KHRONOS_validation";
    private const string DriverPropertiesExtensionName = "VK_KHR_driver_properties";

    // VK_MAKE_API_VERSION(0, 1, 2, 0)
    private const uint ApiVersion12 = (1u << 22) | (2u << 12);
    private const uint ApiVersion11 = (1u << 22) | (1u << 12);

    private const string NoLoaderMessage =
        "No Vulkan loader found (libvulkan.so.1). Install one: `sudo apt-get install libvulkan1 mesa-vulkan-drivers` " +
        "for the CPU renderer (lavapipe), or your GPU vendor's driver.";

    private const string NoDeviceMessage =
        "No Vulkan device found: the Vulkan loader is installed but no driver reports a device. Install one: " +
        "`sudo apt-get install mesa-vulkan-drivers` for the CPU renderer (lavapipe), or your GPU vendor's driver.";

    private bool _disposed;

    private VulkanInstance(Vk api, Instance handle, IReadOnlyList<PhysicalDeviceCandidate> devices)
    {
        Api = api;
        Handle = handle;
        Devices = devices;
    }

    public Vk Api { get; }

    public Instance Handle { get; }

    public IReadOnlyList<PhysicalDeviceCandidate> Devices { get; }

    /// <summary>Loads Vulkan, creates an instance and lists its devices; throws <see cref="GpuUnavailableException"/> when there are none.</summary>
    public static VulkanInstance Create()
    {
        Vk api;
        try
        {
            api = Vk.GetApi();
        }
        catch (Exception ex) when (IsLoaderFailure(ex))
        {
            throw new GpuUnavailableException(NoLoaderMessage, ex);
        }

        Instance instance = default;
        try
        {
            instance = CreateInstance(api);
            IReadOnlyList<PhysicalDeviceCandidate> devices = EnumeratePhysicalDevices(api, instance);
            return new VulkanInstance(api, instance, devices);
        }
        catch (Exception ex) when (IsLoaderFailure(ex))
        {
            DestroyInstance(api, instance);
            api.Dispose();
            throw new GpuUnavailableException(NoLoaderMessage, ex);
        }
        catch
        {
            DestroyInstance(api, instance);
            api.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        DestroyInstance(Api, Handle);
        Api.Dispose();
    }

    /// <summary>Formats the device list for error messages, on one line.</summary>
    public string DescribeDevices() =>
        Devices.Count == 0 ? "none" : string.Join("; ", Devices.Select(d => d.Info.ToString()));

    internal static string FormatVersion(uint version) =>
        $"{(version >> 22) & 0x7F}.{(version >> 12) & 0x3FF}.{version & 0xFFF}";

    private static bool IsLoaderFailure(Exception ex) =>
        ex is DllNotFoundException or FileNotFoundException or EntryPointNotFoundException
            or BadImageFormatException or SymbolLoadingException;

    private static void DestroyInstance(Vk api, Instance instance)
    {
        if (instance.Handle != 0)
        {
            api.DestroyInstance(instance, null);
        }
    }

    private static Instance CreateInstance(Vk api)
    {
        bool validation = Environment.GetEnvironmentVariable(ValidationEnvironmentVariable) == "1" &&
            HasInstanceLayer(api, ValidationLayerName);

        nint appName = Marshal.StringToCoTaskMemUTF8("RenderFarm");
        nint layerName = Marshal.StringToCoTaskMemUTF8(ValidationLayerName);
        try
        {
            var appInfo = new ApplicationInfo
            {
                SType = StructureType.ApplicationInfo,
                PApplicationName = (byte*)appName,
                ApplicationVersion = 1,
                PEngineName = (byte*)appName,
                EngineVersion = 1,
                ApiVersion = ApiVersion12,
            };

            byte* layers = (byte*)layerName;
            var createInfo = new InstanceCreateInfo
            {
                SType = StructureType.InstanceCreateInfo,
                PApplicationInfo = &appInfo,
                EnabledLayerCount = validation ? 1u : 0u,
                PpEnabledLayerNames = validation ? &layers : null,
            };

            Instance instance;
            Result result = api.CreateInstance(&createInfo, null, &instance);
            if (result != Result.Success)
            {
                // An installed loader without any driver (ICD) fails here with ErrorIncompatibleDriver.
                throw new GpuUnavailableException(
                    $"vkCreateInstance failed: {result}. The Vulkan loader found no driver that supports Vulkan 1.2. " +
                    "Install one: `sudo apt-get install mesa-vulkan-drivers` for the CPU renderer (lavapipe), " +
                    "or your GPU vendor's driver.");
            }

            return instance;
        }
        finally
        {
            Marshal.FreeCoTaskMem(appName);
            Marshal.FreeCoTaskMem(layerName);
        }
    }

    private static bool HasInstanceLayer(Vk api, string name)
    {
        uint count = 0;
        VulkanCheck.Check(api.EnumerateInstanceLayerProperties(&count, null), "vkEnumerateInstanceLayerProperties");
        var layers = new LayerProperties[count];
        fixed (LayerProperties* pLayers = layers)
        {
            VulkanCheck.Check(api.EnumerateInstanceLayerProperties(&count, pLayers), "vkEnumerateInstanceLayerProperties");
            for (uint i = 0; i < count; i++)
            {
                if (Marshal.PtrToStringUTF8((nint)pLayers[i].LayerName) == name)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static List<PhysicalDeviceCandidate> EnumeratePhysicalDevices(Vk api, Instance instance)
    {
        uint count = 0;
        Result result = api.EnumeratePhysicalDevices(instance, &count, null);
        if (result != Result.Success || count == 0)
        {
            // Some loaders report a missing driver here (ErrorInitializationFailed) rather than at instance creation.
            throw new GpuUnavailableException(
                result == Result.Success ? NoDeviceMessage : $"{NoDeviceMessage} (vkEnumeratePhysicalDevices: {result})");
        }

        var handles = new PhysicalDevice[count];
        fixed (PhysicalDevice* pHandles = handles)
        {
            result = api.EnumeratePhysicalDevices(instance, &count, pHandles);
        }

        // Incomplete only if a device appeared between the two calls; the first `count` handles are still valid.
        if (result != Result.Success && result != Result.Incomplete)
        {
            throw VulkanCheck.Failure(result, "vkEnumeratePhysicalDevices");
        }

        var devices = new List<PhysicalDeviceCandidate>((int)count);
        for (int i = 0; i < (int)count; i++)
        {
            devices.Add(Describe(api, handles[i], i));
        }

        return devices;
    }

    private static PhysicalDeviceCandidate Describe(Vk api, PhysicalDevice device, int index)
    {
        PhysicalDeviceProperties properties;
        api.GetPhysicalDeviceProperties(device, &properties);

        string name = Marshal.PtrToStringUTF8((nint)properties.DeviceName) ?? string.Empty;
        (string driverName, string driverInfo) = GetDriverStrings(api, device, properties.ApiVersion);

        PhysicalDeviceMemoryProperties memory;
        api.GetPhysicalDeviceMemoryProperties(device, &memory);
        ulong deviceLocalBytes = 0;
        for (int i = 0; i < (int)memory.MemoryHeapCount; i++)
        {
            MemoryHeap heap = memory.MemoryHeaps[i];
            if ((heap.Flags & MemoryHeapFlags.DeviceLocalBit) != 0)
            {
                deviceLocalBytes += heap.Size;
            }
        }

        (int family, uint timestampBits) = ChooseComputeQueueFamily(api, device);

        var info = new GpuDeviceInfo(
            index,
            name,
            ToKind(properties.DeviceType),
            driverName,
            driverInfo,
            FormatVersion(properties.ApiVersion),
            properties.VendorID,
            deviceLocalBytes,
            family >= 0 && timestampBits > 0 && properties.Limits.TimestampPeriod > 0);
        return new PhysicalDeviceCandidate(device, info, family);
    }

    private static (string Name, string Info) GetDriverStrings(Vk api, PhysicalDevice device, uint deviceApiVersion)
    {
        // Driver properties are core in 1.2; older devices may offer them as an extension, and 1.0 devices
        // cannot be queried with vkGetPhysicalDeviceProperties2 at all.
        bool available = deviceApiVersion >= ApiVersion12 ||
            (deviceApiVersion >= ApiVersion11 && HasDeviceExtension(api, device, DriverPropertiesExtensionName));
        if (!available)
        {
            return (string.Empty, string.Empty);
        }

        var driver = new PhysicalDeviceDriverProperties { SType = StructureType.PhysicalDeviceDriverProperties };
        var properties2 = new PhysicalDeviceProperties2
        {
            SType = StructureType.PhysicalDeviceProperties2,
            PNext = &driver,
        };
        api.GetPhysicalDeviceProperties2(device, &properties2);
        return (
            Marshal.PtrToStringUTF8((nint)driver.DriverName) ?? string.Empty,
            Marshal.PtrToStringUTF8((nint)driver.DriverInfo) ?? string.Empty);
    }

    private static bool HasDeviceExtension(Vk api, PhysicalDevice device, string name)
    {
        uint count = 0;
        VulkanCheck.Check(
            api.EnumerateDeviceExtensionProperties(device, (byte*)null, &count, null),
            "vkEnumerateDeviceExtensionProperties");
        var extensions = new ExtensionProperties[count];
        fixed (ExtensionProperties* pExtensions = extensions)
        {
            Result result = api.EnumerateDeviceExtensionProperties(device, (byte*)null, &count, pExtensions);
            if (result != Result.Success && result != Result.Incomplete)
            {
                throw VulkanCheck.Failure(result, "vkEnumerateDeviceExtensionProperties");
            }

            for (uint i = 0; i < count; i++)
            {
                if (Marshal.PtrToStringUTF8((nint)pExtensions[i].ExtensionName) == name)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Picks the compute queue family: one with timestamps beats one without, and a compute-only family
    /// (dedicated/async compute on GPUs) beats one shared with graphics.
    /// </summary>
    private static (int Family, uint TimestampValidBits) ChooseComputeQueueFamily(Vk api, PhysicalDevice device)
    {
        uint count = 0;
        api.GetPhysicalDeviceQueueFamilyProperties(device, &count, null);
        var families = new QueueFamilyProperties[count];
        fixed (QueueFamilyProperties* pFamilies = families)
        {
            api.GetPhysicalDeviceQueueFamilyProperties(device, &count, pFamilies);
        }

        int best = -1;
        int bestScore = -1;
        for (int i = 0; i < (int)count; i++)
        {
            QueueFamilyProperties family = families[i];
            if ((family.QueueFlags & QueueFlags.ComputeBit) == 0 || family.QueueCount == 0)
            {
                continue;
            }

            int score = (family.TimestampValidBits > 0 ? 2 : 0) + ((family.QueueFlags & QueueFlags.GraphicsBit) == 0 ? 1 : 0);
            if (score > bestScore)
            {
                best = i;
                bestScore = score;
            }
        }

        return best < 0 ? (-1, 0) : (best, families[best].TimestampValidBits);
    }

    private static GpuDeviceKind ToKind(PhysicalDeviceType type) => type switch
    {
        PhysicalDeviceType.IntegratedGpu => GpuDeviceKind.IntegratedGpu,
        PhysicalDeviceType.DiscreteGpu => GpuDeviceKind.DiscreteGpu,
        PhysicalDeviceType.VirtualGpu => GpuDeviceKind.VirtualGpu,
        PhysicalDeviceType.Cpu => GpuDeviceKind.Cpu,
        _ => GpuDeviceKind.Other,
    };
}
