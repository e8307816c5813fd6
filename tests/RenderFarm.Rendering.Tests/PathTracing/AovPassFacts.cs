using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.Rendering.Tests.PathTracing;

[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class AovPassFacts(PathTracerFixture fixture, ITestOutputHelper output)
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");
    private static readonly string s_texturedCube = RepositoryPaths.Combine("samples/textured-cube/textured-cube.glb");

    [Fact]
    public void CornellBox_Aovs_DescribeTheFirstHit()
    {
        using var pass = new AovPass(fixture.Tracer);
        var settings = new RenderSettings { Size = new ImageSize(48, 40), SamplesPerPixel = 1 };

        FrameAovs aovs = pass.Render(SceneAsset.Load(s_cornellBox), 1, settings);

        int pixels = 48 * 40, emitting = 0, inside = 0;
        for (int p = 0; p < pixels; p++)
        {
            inside += aovs.Coverage[p] == 1f ? 1 : 0;
            if (aovs.Coverage[p] == 0f)
            {
                continue;
            }

            float length = MathF.Sqrt((aovs.Normal[p * 3] * aovs.Normal[p * 3]) + (aovs.Normal[(p * 3) + 1] * aovs.Normal[(p * 3) + 1]) + (aovs.Normal[(p * 3) + 2] * aovs.Normal[(p * 3) + 2]));
            Assert.InRange(length, 0.999f, 1.001f);
            Assert.InRange(aovs.Depth[p], 0.1f, 100f);
            Assert.All(aovs.Albedo.AsSpan(p * 3, 3).ToArray(), a => Assert.InRange(a, 0f, 1f));
            emitting += aovs.Emission[p * 3] > 0 ? 1 : 0;
        }

        // The camera looks into the box: nearly every pixel sees a surface at all 16 positions.
        Assert.True(inside > 0.9 * pixels, $"{inside} of {pixels} pixels fully covered");
        // The ceiling light is seen, and is a small part of the view.
        Assert.InRange(emitting, 1, pixels / 10);
        // The left wall is red and the right wall green, as the box is built.
        int left = (20 * 48) + 1, right = (20 * 48) + 46;
        Assert.True(aovs.Albedo[left * 3] > 2 * aovs.Albedo[(left * 3) + 1], "left wall albedo is red");
        Assert.True(aovs.Albedo[(right * 3) + 1] > 2 * aovs.Albedo[right * 3], "right wall albedo is green");
    }

    [Fact]
    public void TexturedCube_Background_HasNoSurface()
    {
        using var pass = new AovPass(fixture.Tracer);
        var settings = new RenderSettings { Size = new ImageSize(40, 40), SamplesPerPixel = 1 };

        FrameAovs aovs = pass.Render(SceneAsset.Load(s_texturedCube), 1, settings);

        // A corner sees the sky, the centre the cube.
        Assert.Equal(0f, aovs.Coverage[0]);
        Assert.Equal(FrameAovs.BackgroundDepth, aovs.Depth[0]);
        Assert.Equal([0f, 0f, 0f], aovs.Normal.AsSpan(0, 3).ToArray());
        int centre = (20 * 40) + 20;
        Assert.Equal(1f, aovs.Coverage[centre]);
        Assert.True(aovs.Depth[centre] < 100f);
    }

    [Fact]
    public void AovPass_LeavesThePathTracedFrameUnchanged()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(32, 24), SamplesPerPixel = 4, Seed = 7 };
        HdrImage before = fixture.Tracer.Render(scene, 1, settings).Image;

        using (var pass = new AovPass(fixture.Tracer))
        {
            pass.Render(scene, 1, settings);
        }

        Assert.Equal(before.Pixels, fixture.Tracer.Render(scene, 1, settings).Image.Pixels);
    }

    // The denoiser on a real render: 4 spp against 64 spp of the same frame. The reference keeps 1/16 of the
    // noisy frame's variance, which bounds the measurable factor near 17; measured 8.1 at 48×48 on lavapipe (6.2 with the glTF-appendix BSDF), required 3.
    [Fact]
    public void Denoiser_ReducesTheErrorOfARenderedFrame()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(48, 48), SamplesPerPixel = 4, Seed = 3, MaxBounces = 4 };
        HdrImage noisy = fixture.Tracer.Render(scene, 1, settings).Image;
        HdrImage reference = fixture.Tracer.Render(scene, 1, settings with { SamplesPerPixel = 64, Seed = 4 }).Image;
        using var pass = new AovPass(fixture.Tracer);
        FrameAovs aovs = pass.Render(scene, 1, settings);

        HdrImage denoised = Denoiser.Denoise(noisy, aovs);

        double before = DenoiseMetrics.RelativeMse(noisy, reference), after = DenoiseMetrics.RelativeMse(denoised, reference);
        output.WriteLine($"relative MSE against 64 spp: 4 spp {before:F5}, denoised {after:F5}, factor {before / after:F2}");
        Assert.True(after < before / 3, $"relative MSE {before:F5} -> {after:F5}");
        // Brightness is kept: the filter averages, it does not darken or brighten.
        Assert.Equal(reference.MeanValue(), denoised.MeanValue(), 0.1 * reference.MeanValue());
    }
}
