using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Gpu;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// Decides before any upload whether a frame's buffers fit a device, so a scene too large for it is refused in one
/// line ("scene needs X MiB of device memory, this device has Y") instead of failing inside the driver. Frames
/// themselves never limit this: they render in fixed-size tiles whatever their size. The coordinator applies the same
/// rule (<see cref="SceneFootprint"/>) to the limits a worker advertises, so such a scene is not leased to it at all.
/// </summary>
public static class DeviceFit
{
    private const double MiB = 1024.0 * 1024.0;

    /// <summary>The device buffers of one frame of <paramref name="data"/>, with the per-tile buffers of <paramref name="tileBytes"/>.</summary>
    public static IReadOnlyList<(string Name, ulong Bytes)> Buffers(GpuSceneData data, ulong tileBytes) => DeviceBuffers.Of(data, tileBytes);

    /// <summary>
    /// Why <paramref name="buffers"/> cannot live on a device of <paramref name="limits"/>, or null when they fit:
    /// the largest buffer beyond maxStorageBufferRange (each is bound whole), or all of them beyond its device-local
    /// memory. The rule is <see cref="SceneFootprint.Refusal"/>, which the coordinator applies before a lease.
    /// </summary>
    public static string? Refusal(DeviceLimits limits, string deviceName, string sceneName, IReadOnlyList<(string Name, ulong Bytes)> buffers)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return SceneFootprint.Of(buffers).Refusal(limits.MaxStorageBufferRange, limits.DeviceLocalMemoryBytes, deviceName, sceneName);
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
}
