using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Rendering.Tests.PathTracing;

[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class PathTracerFacts(PathTracerFixture fixture)
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");

    private static byte[] EncodePng(HdrImage image)
    {
        using var stream = new MemoryStream();
        PngFrameWriter.Write(image, stream, ToneMapping.Aces, 0, sixteenBit: false);
        return stream.ToArray();
    }

    [Fact]
    public void SameSeed_GivesTheSameBytes()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(40, 32), SamplesPerPixel = 6, Seed = 11 };

        FrameRender first = fixture.Tracer.Render(scene, 5, settings);
        FrameRender second = fixture.Tracer.Render(SceneAsset.Load(s_cornellBox), 5, settings);

        Assert.Equal(first.Image.Pixels, second.Image.Pixels);
        Assert.Equal(EncodePng(first.Image), EncodePng(second.Image));
        Assert.Equal(first.Rays, second.Rays);
    }

    [Fact]
    public void OtherSeedOrFrame_GivesOtherNoise()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(32, 32), SamplesPerPixel = 16, Seed = 1 };

        HdrImage reference = fixture.Tracer.Render(scene, 1, settings).Image;
        HdrImage otherSeed = fixture.Tracer.Render(scene, 1, settings with { Seed = 2 }).Image;

        Assert.NotEqual(reference.Pixels, otherSeed.Pixels);
        // Same picture, other noise: the means agree (caustic fireflies make them differ the most).
        Assert.Equal(reference.MeanValue(), otherSeed.MeanValue(), 0.3 * reference.MeanValue());
    }

    [Fact]
    public void Render_ReportsProgressUpToTheTotal()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(300, 20), SamplesPerPixel = 3 };
        var reports = new List<FrameProgress>();

        FrameRender render = fixture.Tracer.Render(scene, 1, settings, new CollectingProgress(reports));

        Assert.NotEmpty(reports);
        Assert.Equal(300L * 20 * 3, reports[^1].SamplesDone);
        Assert.Equal(reports[^1].SamplesTotal, reports[^1].SamplesDone);
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.Second.SamplesDone > p.First.SamplesDone));
        Assert.Equal(300L * 20 * 3, render.Samples);
        Assert.True(render.Rays >= render.Samples, "every sample traces at least its camera ray");
        Assert.True(render.GpuTime > TimeSpan.Zero);
        Assert.Equal(0, render.DroppedSamples);
    }

    [Fact]
    public void Render_StopsWhenCancelled()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        Assert.Throws<OperationCanceledException>(() => fixture.Tracer.Render(scene, 1, new RenderSettings(), cancellationToken: cancellation.Token));
    }

    // The goldens without a BSDF in their name are the glTF appendix BSDF's references (made before the principled default).
    [Theory]
    [InlineData(1)]
    [InlineData(13)]
    public void CornellBox_MatchesItsGoldenImage(int frame)
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(96, 96), SamplesPerPixel = 64, Seed = 1, ToneMapping = ToneMapping.Clamp, Bsdf = BsdfModel.Gltf };
        HdrImage image = fixture.Tracer.Render(scene, frame, settings).Image;

        GoldenImages.AssertMatches(image, settings.ToneMapping, $"cornell-box_frame{frame:D2}_96x96_64spp.png", new TolerantImageComparer(maxMeanDifference: 3, maxBlurredDifference: 12));
    }

    [Fact]
    public void CornellBox_WithThePrincipledBsdf_MatchesItsGoldenImage()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(96, 96), SamplesPerPixel = 64, Seed = 1, ToneMapping = ToneMapping.Clamp };
        HdrImage image = fixture.Tracer.Render(scene, 1, settings).Image;

        GoldenImages.AssertMatches(image, settings.ToneMapping, "cornell-box_frame01_96x96_64spp_principled.png", new TolerantImageComparer(maxMeanDifference: 3, maxBlurredDifference: 12));
    }

    [Fact]
    public void PrincipledBsdf_IsBrighterThanTheGltfOne_InAClosedBox()
    {
        // Burley diffuse without the 1 - F weight and energy-compensated GGX reflect more per bounce.
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(32, 32), SamplesPerPixel = 32, Seed = 3 };

        double principled = fixture.Tracer.Render(scene, 1, settings).Image.MeanValue();
        double gltf = fixture.Tracer.Render(scene, 1, settings with { Bsdf = BsdfModel.Gltf }).Image.MeanValue();

        Assert.True(principled > 1.1 * gltf, $"principled mean {principled}, gltf mean {gltf}");
    }

    private sealed class CollectingProgress(List<FrameProgress> reports) : IProgress<FrameProgress>
    {
        public void Report(FrameProgress value) => reports.Add(value);
    }
}
