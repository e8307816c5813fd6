using System.Globalization;
using System.Runtime.CompilerServices;
using RenderFarm.Core;
using RenderFarm.Gpu;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// Decides before any upload whether a frame's buffers fit a device, so a scene too large for it is refused in one
/// line ("scene needs X MiB of device memory, this device has Y") instead of failing inside the driver. Frames
/// themselves never limit this: they render in fixed-size tiles whatever their size.
/// </summary>
public static class DeviceFit
{
    private const double MiB = 1024.0 * 1024.0;

    /// <summary>The device buffers of one frame of <paramref name="data"/>, with the per-tile buffers of <paramref name="tileBytes"/>.</summary>
    public static IReadOnlyList<(string Name, ulong Bytes)> Buffers(GpuSceneData data, ulong tileBytes) =>
    [
        ("BVH nodes", Bytes(data.Nodes)),
        ("triangles", Bytes(data.Triangles)),
        ("triangle shading", Bytes(data.Shading)),
        ("materials", Bytes(data.Materials)),
        ("textures", Bytes(data.Textures)),
        ("texels", Bytes(data.Texels)),
        ("emitters", Bytes(data.Emitters)),
        ("lights", Bytes(data.Lights)),
        ("instances", Bytes(data.Instances)),
        ("tile buffers", tileBytes),
    ];

    /// <summary>
    /// Why <paramref name="buffers"/> cannot live on a device of <paramref name="limits"/>, or null when they fit:
    /// one buffer beyond maxStorageBufferRange (each is bound whole), or all of them beyond its device-local memory.
    /// </summary>
    public static string? Refusal(DeviceLimits limits, string deviceName, string sceneName, IReadOnlyList<(string Name, ulong Bytes)> buffers)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(buffers);
        ulong total = 0;
        foreach ((string name, ulong bytes) in buffers)
        {
            total = bytes > ulong.MaxValue - total ? ulong.MaxValue : total + bytes;
            if (bytes > limits.MaxStorageBufferRange)
            {
                return string.Create(
                    CultureInfo.InvariantCulture,
                    $"Scene {sceneName} needs a {bytes / MiB:F1} MiB {name} buffer; {deviceName} binds at most {limits.MaxStorageBufferRange / MiB:F1} MiB per buffer (maxStorageBufferRange).");
            }
        }

        if (limits.DeviceLocalMemoryBytes > 0 && total > limits.DeviceLocalMemoryBytes)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"Scene {sceneName} needs {total / MiB:F1} MiB of device memory, this device ({deviceName}) has {limits.DeviceLocalMemoryBytes / MiB:F1} MiB.");
        }

        return null;
    }

    /// <summary>Refuses, before any upload, a frame of <paramref name="data"/> that does not fit <paramref name="device"/>.</summary>
    /// <exception cref="UserInputException">The frame's buffers do not fit <paramref name="device"/>.</exception>
    public static void ThrowIfTooLarge(ComputeDevice device, string sceneName, GpuSceneData data, ulong tileBytes)
    {
        string? refusal = Refusal(device.Limits, device.Info.Name, sceneName, Buffers(data, tileBytes));
        if (refusal is not null)
        {
            throw new UserInputException(refusal);
        }
    }

    private static ulong Bytes<T>(T[] items)
        where T : unmanaged => (ulong)Math.Max(items.Length, 1) * (ulong)Unsafe.SizeOf<T>();
}
