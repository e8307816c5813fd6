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
        CyclesAgreement agreement = await CyclesComparison.CompareAsync(fixture.Tracer, scenePath, frame);
        output.WriteLine($"{scenePath} frame {frame}: {agreement}");
        Assert.True(
            agreement.Ssim > minSsim && agreement.Brightness > minBrightness && agreement.Brightness < maxBrightness,
            agreement.ToString());
    }
}
