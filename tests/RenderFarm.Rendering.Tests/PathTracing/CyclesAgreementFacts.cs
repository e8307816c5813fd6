using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Reference;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// Our render and Blender Cycles' render of the same exported scene must agree in structure and
/// brightness: this checks the glTF import, camera, emission units, materials and light transport together.
/// </summary>
/// <remarks>
/// With the principled BSDF (the default: Burley diffuse, energy-compensated GGX) the mean linear
/// luminance is within 1.1 % of Cycles' on every sample scene; the bounds below are the measured
/// figures (docs/rendering.md) with a margin for noise. Unit mistakes move the ratio by
/// π, 4π or 683 and fail at once. The materials scene holds glass with absorption, clearcoat,
/// sheen and MASK and BLEND alpha in one render to keep the suite short.
/// </remarks>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Blender")]
public class CyclesAgreementFacts(PathTracerFixture fixture, ITestOutputHelper output)
{
    [Theory]
    // Measured (SSIM, mean ratio): Cornell box 1 (0.975, 0.999), 13 (0.977, 0.992), textured cube (0.998, 1.001),
    // materials (0.986, 0.989).
    [InlineData("samples/cornell-box/cornell-box.glb", 1, 0.95, 0.96, 1.04)]
    [InlineData("samples/cornell-box/cornell-box.glb", 13, 0.95, 0.96, 1.04)]
    [InlineData("samples/textured-cube/textured-cube.glb", 1, 0.98, 0.96, 1.04)]
    [InlineData("samples/materials/materials.glb", 1, 0.96, 0.96, 1.04)]
    public async Task OurRender_AgreesWithCycles(string scenePath, int frame, double minSsim, double minBrightness, double maxBrightness)
    {
        string scene = RepositoryPaths.Combine(scenePath);
        var settings = new RenderSettings { Size = new ImageSize(128, 128), SamplesPerPixel = 64, ToneMapping = ToneMapping.Clamp };
        string folder = Directory.CreateTempSubdirectory("renderfarm-cycles-").FullName;
        string ours = Path.Combine(folder, "renderfarm.png");
        FrameRender render = fixture.Tracer.Render(SceneAsset.Load(scene), frame, settings);
        PngFrameWriter.Write(render.Image, ours, settings.ToneMapping, 0, sixteenBit: false);

        CyclesRender cycles = await CyclesReference.RenderAsync(
            "blender", RepositoryPaths.Combine(CyclesReference.ScriptPath), scene, frame, settings.Size, settings.SamplesPerPixel, threads: null, Path.Combine(folder, "cycles.png"));

        // Compared at 32x32: each value averages 16 pixels, which quiets the noise of both renderers.
        (double ssim, double brightness) = ImageSimilarity.CompareRenders(ours, cycles.ImagePath, 32);
        output.WriteLine($"{scenePath} frame {frame}: SSIM {ssim:F3}, brightness ratio {brightness:F3}");
        Assert.True(ssim > minSsim && brightness > minBrightness && brightness < maxBrightness,
            $"SSIM {ssim:F3}, brightness ratio {brightness:F3} between {ours} and {cycles.ImagePath}");
    }
}
