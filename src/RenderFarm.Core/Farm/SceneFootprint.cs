using System.Globalization;

namespace RenderFarm.Core.Farm;

/// <summary>
/// The device memory one frame of a scene needs, as the path tracer lays it out: its largest buffer (each is bound whole,
/// so it must fit the device's maxStorageBufferRange) and all of its buffers together (they must fit its device-local
/// memory). One rule decides the fit on the worker before any upload and on the coordinator before a lease.
/// </summary>
/// <param name="LargestBuffer">The name of the largest buffer, e.g. "BVH nodes".</param>
/// <param name="LargestBufferBytes">Its size in bytes.</param>
/// <param name="TotalBytes">All buffers together, in bytes (saturating at <see cref="ulong.MaxValue"/>).</param>
public sealed record SceneFootprint(string LargestBuffer, ulong LargestBufferBytes, ulong TotalBytes)
{
    private const double MiB = 1024.0 * 1024.0;

    /// <summary>The footprint of <paramref name="buffers"/>: the first of the largest, and the sum without wrapping.</summary>
    public static SceneFootprint Of(IReadOnlyList<(string Name, ulong Bytes)> buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        (string Name, ulong Bytes) largest = ("none", 0);
        ulong total = 0;
        foreach ((string name, ulong bytes) in buffers)
        {
            total = bytes > ulong.MaxValue - total ? ulong.MaxValue : total + bytes;
            if (bytes > largest.Bytes)
            {
                largest = (name, bytes);
            }
        }

        return new SceneFootprint(largest.Name, largest.Bytes, total);
    }

    /// <summary>
    /// Why a frame of this footprint cannot live on a device, in one line, or null when it fits: its largest buffer beyond
    /// <paramref name="maxStorageBufferRange"/>, or all of them beyond <paramref name="deviceLocalMemoryBytes"/> (0: not known,
    /// not checked).
    /// </summary>
    public string? Refusal(ulong maxStorageBufferRange, ulong deviceLocalMemoryBytes, string deviceName, string sceneName)
    {
        if (LargestBufferBytes > maxStorageBufferRange)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"Scene {sceneName} needs a {LargestBufferBytes / MiB:F1} MiB {LargestBuffer} buffer; {deviceName} binds at most {maxStorageBufferRange / MiB:F1} MiB per buffer (maxStorageBufferRange).");
        }

        if (deviceLocalMemoryBytes > 0 && TotalBytes > deviceLocalMemoryBytes)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"Scene {sceneName} needs {TotalBytes / MiB:F1} MiB of device memory, this device ({deviceName}) has {deviceLocalMemoryBytes / MiB:F1} MiB.");
        }

        return null;
    }
}
