using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// The other-device build of the path tracer (shaders/pathtrace_other_device.comp) stands in for a second conforming
/// driver when verification thresholds are measured: it must render the same picture, and not the same bits.
/// </summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class OtherDeviceArithmeticFacts(PathTracerFixture fixture)
{
    [Fact]
    public void OtherConformingDevice_DivergesInSomePixels_ButRendersTheSamePicture()
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));
        var settings = new RenderSettings { Size = new ImageSize(24, 24), SamplesPerPixel = 32, Seed = 2 };
        using var other = new PathTracer(fixture.Device, PathTracerArithmetic.OtherConformingDevice);
        using var same = new PathTracer(fixture.Device, PathTracerArithmetic.Device);

        HdrImage device = fixture.Tracer.Render(scene, 1, settings).Image;
        HdrImage again = same.Render(scene, 1, settings).Image;
        HdrImage simulated = other.Render(scene, 1, settings).Image;

        Assert.Equal(device.Pixels, again.Pixels);
        int differing = Enumerable.Range(0, device.Pixels.Length).Count(i => device.Pixels[i] != simulated.Pixels[i]);
        Assert.True(differing > 0, "the simulated device rendered the same bits");
        // Diverging paths move single pixels; the picture as a whole stays within a few percent (Monte Carlo noise of the diverged paths at 32 spp).
        Assert.InRange(simulated.MeanValue() / device.MeanValue(), 0.97, 1.03);
    }

    [Fact]
    public void UnknownArithmetic_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PathTracer(fixture.Device, (PathTracerArithmetic)7));
    }
}
