using System.Runtime.CompilerServices;
using RenderFarm.Core.Farm;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// The device buffers one frame of a scene needs, as the path tracer creates them: the sizing behind the worker's
/// <c>DeviceFit</c> check and the coordinator's lease-time check (<see cref="SceneFootprint"/>), kept in one place.
/// </summary>
public static class DeviceBuffers
{
    /// <summary>The per-tile buffers of the path tracer's 256×256 tiles (20 bytes a pixel), whatever the frame's size.</summary>
    public const ulong TileBytes = 256UL * 256 * 20;

    /// <summary>The buffers of one frame of <paramref name="data"/>, with per-tile buffers of <paramref name="tileBytes"/>.</summary>
    public static IReadOnlyList<(string Name, ulong Bytes)> Of(GpuSceneData data, ulong tileBytes)
    {
        ArgumentNullException.ThrowIfNull(data);
        return
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
    }

    /// <summary>
    /// The footprint of <paramref name="scene"/>'s first frame (time 0, its first camera) with the path tracer's tiles: what
    /// the coordinator records for a job at submit. An animation's other frames may differ by a few BVH nodes; the worker
    /// checks each frame it renders again.
    /// </summary>
    public static SceneFootprint Footprint(SceneAsset scene)
    {
        ArgumentNullException.ThrowIfNull(scene);
        return SceneFootprint.Of(Of(scene.BuildFrame(0, 1f), TileBytes));
    }

    private static ulong Bytes<T>(T[] items)
        where T : unmanaged => (ulong)Math.Max(items.Length, 1) * (ulong)Unsafe.SizeOf<T>();
}
