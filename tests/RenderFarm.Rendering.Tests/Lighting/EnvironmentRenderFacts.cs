using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Rendering.Tests.PathTracing;
using RenderFarm.Rendering.Tests.Scene;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.Rendering.Tests.Lighting;

/// <summary>The path tracer lit by an environment map: energy, agreement with the uniform background, determinism.</summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class EnvironmentRenderFacts(PathTracerFixture fixture, ITestOutputHelper output)
{
    private static readonly string s_scene = RepositoryPaths.Combine("samples/environment/environment.glb");
    private static readonly string s_sky = RepositoryPaths.Combine("samples/environment/sky.hdr");

    private static HdrImage Constant(float value)
    {
        var image = new HdrImage(32, 16);
        Array.Fill(image.Pixels, value);
        return image;
    }

    /// <summary>
    /// The white furnace in a constant map: light samples on the map and BSDF samples weighed against them by MIS
    /// must add up to what the uniform background gives, and never gain energy.
    /// </summary>
    [Fact]
    public void WhiteFurnace_InAConstantMap_MatchesTheUniformBackground()
    {
        using var folder = new TempDirectory();
        SceneAsset scene = SceneAsset.Load(WhiteFurnaceFacts.WhiteSphere(folder, metallic: 0));
        // The glTF BSDF's diffuse loses no energy in a furnace; Burley's (the principled default, as in Cycles) is
        // retro-reflective and measured up to 1.23 at the silhouette, which is the model, not the light transport.
        var settings = new RenderSettings { Size = new ImageSize(32, 32), SamplesPerPixel = 256, Bsdf = BsdfModel.Gltf };
        using var tracer = new PathTracer(fixture.Device) { Environment = new EnvironmentLight(Constant(0.5f), strength: 2f, rotationDegrees: 30f) };

        float[] mapped = tracer.Render(scene, 1, settings).Image.Pixels;
        tracer.Environment = null;
        float[] uniform = tracer.Render(scene, 1, settings with { Background = new LinearColor(1, 1, 1) }).Image.Pixels;

        // Single pixels carry the noise of 256 samples (≈ 1 %); the means carry the energy.
        Assert.True(mapped.Max() <= 1.03f, $"energy gain: max {mapped.Max()}");
        Assert.InRange(mapped.Average(), 0.93, 1.0);
        Assert.True(Math.Abs(uniform.Average() - mapped.Average()) < 0.01, $"map {mapped.Average():F4}, uniform {uniform.Average():F4}");
    }

    [Fact]
    public void RenderTiles_GivesExactlyThePixelsOfTheFullFrame_WithAMap()
    {
        SceneAsset scene = SceneAsset.Load(s_scene);
        var settings = new RenderSettings { Size = new ImageSize(40, 32), SamplesPerPixel = 4, Seed = 3 };
        using var tracer = new PathTracer(fixture.Device) { Environment = new EnvironmentLight(EnvironmentFile.Read(s_sky), 1.5f, 20f) };

        HdrImage full = tracer.Render(scene, 1, settings).Image;
        HdrImage tile = tracer.RenderTiles(scene, 1, settings, [(11, 9, 13, 10)])[0];

        Assert.True(full.MeanValue() > 0.01, "the map lights the scene");
        for (int y = 0; y < 10; y++)
        {
            for (int x = 0; x < 13; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    float expected = full.Pixels[((((9 + y) * 40) + 11 + x) * 3) + c];
                    float actual = tile.Pixels[(((y * 13) + x) * 3) + c];
                    Assert.True(expected == actual, $"pixel ({x}, {y}) channel {c}: {actual} instead of {expected}");
                }
            }
        }
    }

    [Fact]
    public void Rotation_TurnsTheLight()
    {
        SceneAsset scene = SceneAsset.Load(s_scene);
        var settings = new RenderSettings { Size = new ImageSize(24, 24), SamplesPerPixel = 8 };
        using var tracer = new PathTracer(fixture.Device) { Environment = new EnvironmentLight(EnvironmentFile.Read(s_sky)) };
        float[] straight = tracer.Render(scene, 1, settings).Image.Pixels;
        tracer.Environment = new EnvironmentLight(EnvironmentFile.Read(s_sky), 1f, 180f);
        float[] turned = tracer.Render(scene, 1, settings).Image.Pixels;

        Assert.NotEqual(straight, turned);
    }

    /// <summary>
    /// The sample scene lit only by the sample sky (its sun carries most of the light), strength 0.5 and turned 30°,
    /// rendered by Cycles with the same .hdr as its world and by us. Measured at 96×96, 64 spp with the principled
    /// BSDF: SSIM 0.965 and a brightness ratio of 1.001 (0.89 with the glTF one, the material-model gap docs/rendering.md explains);
    /// a unit or layout mistake (a missing 1/sin θ, a map turned the wrong way) moves the shadows or the ratio far more.
    /// </summary>
    [Fact]
    [Trait("Category", "Blender")]
    public async Task EnvironmentLitScene_AgreesWithCycles()
    {
        using var tracer = new PathTracer(fixture.Device) { Environment = new EnvironmentLight(EnvironmentFile.Read(s_sky), 0.5f, 30f) };
        CyclesAgreement agreement = await CyclesComparison.CompareAsync(
            tracer, "samples/environment/environment.glb", 1, side: 96,
            ["--environment", s_sky, "--environment-strength", "0.5", "--environment-rotation", "30"]);
        output.WriteLine($"environment: {agreement}");
        Assert.True(agreement.Ssim > 0.93 && agreement.Brightness is > 0.96 and < 1.04, agreement.ToString());
    }
}
