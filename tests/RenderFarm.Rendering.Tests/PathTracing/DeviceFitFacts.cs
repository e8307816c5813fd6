using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

public class DeviceFitFacts
{
    private const ulong MiB = 1UL << 20;

    [Fact]
    public void A_buffer_beyond_the_storage_buffer_range_is_refused_with_its_name_and_the_limit()
    {
        var limits = Limits(maxRange: 128 * MiB, memory: 8192 * MiB);
        string? refusal = DeviceFit.Refusal(limits, "Tiny GPU", "city.glb", [("BVH nodes", 10 * MiB), ("triangles", 640 * MiB)]);
        Assert.Equal(
            "Scene city.glb needs a 640.0 MiB triangles buffer; Tiny GPU binds at most 128.0 MiB per buffer (maxStorageBufferRange).",
            refusal);
    }

    [Fact]
    public void Buffers_beyond_the_device_memory_are_refused_with_both_sizes()
    {
        var limits = Limits(maxRange: 4096 * MiB, memory: 1024 * MiB);
        string? refusal = DeviceFit.Refusal(limits, "Tiny GPU", "city.glb", [("BVH nodes", 600 * MiB), ("triangles", 600 * MiB)]);
        Assert.Equal("Scene city.glb needs 1200.0 MiB of device memory, this device (Tiny GPU) has 1024.0 MiB.", refusal);
    }

    [Fact]
    public void Buffers_that_fit_pass_and_sizes_near_overflow_do_not_wrap()
    {
        var limits = Limits(maxRange: ulong.MaxValue, memory: 1024 * MiB);
        Assert.Null(DeviceFit.Refusal(limits, "GPU", "box.glb", [("BVH nodes", 1 * MiB), ("triangles", 2 * MiB)]));

        // A sum that would wrap around to a small number must still be refused.
        string? refusal = DeviceFit.Refusal(limits, "GPU", "huge.glb", [("a", ulong.MaxValue - 10), ("b", 100)]);
        Assert.NotNull(refusal);
        Assert.Contains("of device memory", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void The_coordinators_tile_size_is_the_path_tracers()
    {
        // The coordinator sizes a job's frame with DeviceBuffers.TileBytes (it cannot reach the Vulkan path tracer).
        Assert.Equal((ulong)PathTracer.TileSize * PathTracer.TileSize * 20, DeviceBuffers.TileBytes);
    }

    [Fact]
    public void A_scenes_footprint_is_its_first_frames_buffers_as_the_worker_sizes_them()
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));
        IReadOnlyList<(string Name, ulong Bytes)> buffers = DeviceFit.Buffers(scene.BuildFrame(0, 1f), DeviceBuffers.TileBytes);
        SceneFootprint footprint = DeviceBuffers.Footprint(scene);
        Assert.Equal(SceneFootprint.Of(buffers), footprint);
        Assert.Null(DeviceFit.Refusal(Limits(footprint.LargestBufferBytes, footprint.TotalBytes), "GPU", scene.Name, buffers));
        Assert.NotNull(DeviceFit.Refusal(Limits(footprint.LargestBufferBytes - 1, footprint.TotalBytes), "GPU", scene.Name, buffers));
    }

    private static DeviceLimits Limits(ulong maxRange, ulong memory) => new(maxRange, 16, 128, 65535, 65535, 65535, memory);
}

[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class LargeFrameFacts(PathTracerFixture fixture)
{
    [Fact]
    public void A_frame_wider_and_taller_than_one_tile_renders_in_tiles_that_meet_without_a_seam()
    {
        // A frame's device buffers are one 256x256 tile whatever its size, so frames beyond what one dispatch or one
        // accumulation buffer could hold still render; the pixels across a tile boundary equal a region render of them.
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));
        var settings = new RenderSettings { Size = new ImageSize(264, 260), SamplesPerPixel = 1, Seed = 5, MaxBounces = 1 };
        HdrImage full = fixture.Tracer.Render(scene, 1, settings).Image;
        (int X, int Y, int Width, int Height) seam = (250, 250, 14, 10);
        HdrImage region = fixture.Tracer.RenderTiles(scene, 1, settings, [seam])[0];

        int lit = 0;
        for (int y = 0; y < seam.Height; y++)
        {
            for (int x = 0; x < seam.Width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    float expected = region.Pixels[(((y * seam.Width) + x) * 3) + c];
                    float actual = full.Pixels[((((seam.Y + y) * 264) + seam.X + x) * 3) + c];
                    Assert.True(expected == actual, $"Pixel ({seam.X + x}, {seam.Y + y}) channel {c}: {actual} instead of {expected}.");
                    lit += actual > 0 ? 1 : 0;
                }
            }
        }

        Assert.True(lit > 0, "The compared pixels are all black, so the comparison proves nothing.");
    }
}
