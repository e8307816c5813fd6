using RenderFarm.Core.Farm;

namespace RenderFarm.Core.Tests;

/// <summary>The one rule the worker (DeviceFit) and the coordinator (at lease time) decide a scene's fit by.</summary>
public sealed class SceneFootprintFacts
{
    private const ulong MiB = 1UL << 20;

    [Fact]
    public void The_footprint_names_the_first_largest_buffer_and_sums_without_wrapping()
    {
        SceneFootprint footprint = SceneFootprint.Of([("BVH nodes", 600 * MiB), ("triangles", 600 * MiB), ("materials", 1)]);
        Assert.Equal(new SceneFootprint("BVH nodes", 600 * MiB, 1200 * MiB + 1), footprint);
        Assert.Equal(ulong.MaxValue, SceneFootprint.Of([("a", ulong.MaxValue - 10), ("b", 100)]).TotalBytes);
        Assert.Equal(new SceneFootprint("none", 0, 0), SceneFootprint.Of([]));
    }

    [Fact]
    public void A_scene_fits_at_its_exact_sizes_and_is_refused_one_byte_below_either()
    {
        var footprint = new SceneFootprint("triangles", 640 * MiB, 700 * MiB);
        Assert.Null(footprint.Refusal(640 * MiB, 700 * MiB, "GPU", "city.glb"));
        Assert.Equal(
            "Scene city.glb needs a 640.0 MiB triangles buffer; GPU binds at most 640.0 MiB per buffer (maxStorageBufferRange).",
            footprint.Refusal(640 * MiB - 1, 700 * MiB, "GPU", "city.glb"));
        Assert.Equal(
            "Scene city.glb needs 700.0 MiB of device memory, this device (GPU) has 700.0 MiB.",
            footprint.Refusal(640 * MiB, 700 * MiB - 1, "GPU", "city.glb"));

        // Device memory not known (0): only the per-buffer limit is checked.
        Assert.Null(footprint.Refusal(640 * MiB, 0, "GPU", "city.glb"));
    }
}
