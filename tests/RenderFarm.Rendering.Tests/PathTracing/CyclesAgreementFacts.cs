using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Reference;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// Our render and Blender Cycles' render of the same exported scene must agree in structure and
/// brightness: this checks the glTF import, camera, emission units and light transport together.
/// </summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Blender")]
public class CyclesAgreementFacts(PathTracerFixture fixture)
{
    [Theory]
    [InlineData("samples/cornell-box/cornell-box.glb", 1)]
    [InlineData("samples/cornell-box/cornell-box.glb", 13)]
    [InlineData("samples/textured-cube/textured-cube.glb", 1)]
    public async Task OurRender_AgreesWithCycles(string scenePath, int frame)
    {
        string scene = RepositoryPaths.Combine(scenePath);
        var settings = new RenderSettings { Size = new ImageSize(64, 64), SamplesPerPixel = 128, ToneMapping = ToneMapping.Clamp };
        string folder = Directory.CreateTempSubdirectory("renderfarm-cycles-").FullName;
        string ours = Path.Combine(folder, "renderfarm.png");
        FrameRender render = fixture.Tracer.Render(SceneAsset.Load(scene), frame, settings);
        PngFrameWriter.Write(render.Image, ours, settings.ToneMapping, 0, sixteenBit: false);

        CyclesRender cycles = await CyclesReference.RenderAsync(
            "blender", RepositoryPaths.Combine(CyclesReference.ScriptPath), scene, frame, settings.Size, settings.SamplesPerPixel, threads: null, Path.Combine(folder, "cycles.png"));

        float[] a = ImageSimilarity.LoadLuminance(ours);
        float[] b = ImageSimilarity.LoadLuminance(cycles.ImagePath);
        double ssim = ImageSimilarity.Ssim(a, b, ImageSimilarity.ReducedSize);
        double brightness = ImageSimilarity.Mean(a) / ImageSimilarity.Mean(b);
        Assert.True(ssim > 0.85, $"SSIM {ssim:F3} between {ours} and {cycles.ImagePath}");
        Assert.InRange(brightness, 0.9, 1.1);
    }
}
