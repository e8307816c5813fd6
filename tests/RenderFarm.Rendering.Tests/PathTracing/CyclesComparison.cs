using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Reference;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>How one of our renders compares with Cycles' render of the same scene and frame.</summary>
/// <param name="Ssim">Structural similarity of the reduced linear-luminance images at equal mean.</param>
/// <param name="Brightness">Our mean linear luminance over Cycles'.</param>
/// <param name="Ours">Our PNG.</param>
/// <param name="Cycles">Cycles' PNG.</param>
internal sealed record CyclesAgreement(double Ssim, double Brightness, string Ours, string Cycles)
{
    /// <summary>The figures and both images, for a failure message or the test log.</summary>
    public override string ToString() => $"SSIM {Ssim:F3}, brightness ratio {Brightness:F3} between {Ours} and {Cycles}";
}

/// <summary>Renders a scene with our path tracer and with Cycles at the same settings and compares them.</summary>
internal static class CyclesComparison
{
    /// <summary>
    /// Renders <paramref name="frame"/> of <paramref name="scenePath"/> (relative to the repository) at
    /// <paramref name="side"/>×<paramref name="side"/> and 64 samples with <paramref name="tracer"/> and with Cycles
    /// (Standard view, <see cref="CyclesReference.ScriptPath"/> given <paramref name="cyclesArguments"/>), and compares
    /// 32×32 reductions: each value averages many pixels, which quiets the noise of both renderers.
    /// </summary>
    public static async Task<CyclesAgreement> CompareAsync(
        PathTracer tracer, string scenePath, int frame, int side = 128, IReadOnlyList<string>? cyclesArguments = null)
    {
        string scene = RepositoryPaths.Combine(scenePath);
        var settings = new RenderSettings { Size = new ImageSize(side, side), SamplesPerPixel = 64, ToneMapping = ToneMapping.Clamp };
        string folder = Directory.CreateTempSubdirectory("renderfarm-cycles-").FullName;
        string ours = Path.Combine(folder, "renderfarm.png");
        FrameRender render = tracer.Render(SceneAsset.Load(scene), frame, settings);
        PngFrameWriter.Write(render.Image, ours, settings.ToneMapping, 0, sixteenBit: false);

        CyclesRender cycles = await CyclesReference.RenderAsync(
            "blender", RepositoryPaths.Combine(CyclesReference.ScriptPath), scene, frame, settings.Size, settings.SamplesPerPixel,
            threads: null, Path.Combine(folder, "cycles.png"), cyclesArguments ?? []);

        (double ssim, double brightness) = ImageSimilarity.CompareRenders(ours, cycles.ImagePath, 32);
        return new CyclesAgreement(ssim, brightness, ours, cycles.ImagePath);
    }
}
