using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// KHR_texture_transform, a texture's second coordinate set (TEXCOORD_1) and vertex colours (COLOR_0) against Cycles'
/// render of the same exported scenes (samples/texture-features, built in Blender by the scripts beside them).
/// </summary>
/// <remarks>
/// Each scene is also rendered with its feature taken out of the file (the transform extension removed, the texture
/// pointed at TEXCOORD_0, the colours dropped), which is what the renderer drew before it read them: that render
/// must score below the SSIM bound, so the bound tells a renderer that draws the feature from one that ignores it.
/// Bounds are the measured figures (docs/rendering.md) less a margin for noise.
/// </remarks>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Blender")]
public class TextureFeatureCyclesFacts(PathTracerFixture fixture, ITestOutputHelper output)
{
    [Theory]
    // Measured (SSIM, mean ratio; with the feature ignored SSIM, mean ratio): texture transform (0.999, 1.045; 0.703,
    // 0.925), second UV set (0.999, 1.023; 0.682, 0.989), vertex colours (0.998, 0.998; 0.963, 1.070). The transform
    // scene is 4.5 % brighter than Cycles' (docs/rendering.md), hence its wider brightness bound.
    [InlineData("texture-transform", 0.97, 0.96, 1.07)]
    [InlineData("texcoord1", 0.97, 0.96, 1.04)]
    [InlineData("vertex-colors", 0.98, 0.96, 1.04)]
    public async Task OurRender_AgreesWithCycles_AndIgnoringTheFeatureDoesNot(string sample, double minSsim, double minBrightness, double maxBrightness)
    {
        string scenePath = $"samples/texture-features/{sample}.glb";
        CyclesAgreement agreement = await CyclesComparison.CompareAsync(fixture.Tracer, scenePath, 1);
        string ignoredScene = TextureFeatureScenes.WithoutFeature(sample);
        string ignoredPng = Path.Combine(Path.GetDirectoryName(agreement.Ours)!, "ignored.png");
        var settings = new RenderSettings { Size = new ImageSize(128, 128), SamplesPerPixel = 64, ToneMapping = ToneMapping.Clamp };
        PngFrameWriter.Write(fixture.Tracer.Render(SceneAsset.Load(ignoredScene), 1, settings).Image, ignoredPng, settings.ToneMapping, 0, sixteenBit: false);
        (double ignoredSsim, double ignoredBrightness) = ImageSimilarity.CompareRenders(ignoredPng, agreement.Cycles, 32);
        output.WriteLine($"{sample}: {agreement}; feature ignored: SSIM {ignoredSsim:0.000}, mean ratio {ignoredBrightness:0.000}");

        Assert.True(
            agreement.Ssim > minSsim && agreement.Brightness > minBrightness && agreement.Brightness < maxBrightness,
            agreement.ToString());
        Assert.True(ignoredSsim < minSsim, $"With the feature ignored the SSIM is {ignoredSsim:0.000}, not below {minSsim}.");
    }
}

/// <summary>Golden images of the texture-feature samples: regressions in how the features are drawn.</summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class TextureFeatureGoldenFacts(PathTracerFixture fixture)
{
    [Theory]
    [InlineData("texture-transform")]
    [InlineData("texcoord1")]
    [InlineData("vertex-colors")]
    public void Sample_MatchesItsGoldenImage(string sample)
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine($"samples/texture-features/{sample}.glb"));
        Assert.Empty(scene.Unsupported);
        var settings = new RenderSettings { Size = new ImageSize(96, 96), SamplesPerPixel = 64, Seed = 1, ToneMapping = ToneMapping.Clamp };
        HdrImage image = fixture.Tracer.Render(scene, 1, settings).Image;

        GoldenImages.AssertMatches(image, settings.ToneMapping, $"{sample}_frame01_96x96_64spp_principled.png", new TolerantImageComparer(maxMeanDifference: 3, maxBlurredDifference: 12));
    }
}

/// <summary>The texture-feature samples with their feature taken out of the file, as a renderer that ignores it sees them.</summary>
internal static class TextureFeatureScenes
{
    /// <summary>Writes the sample's .glb without its feature to a temporary file and returns its path.</summary>
    public static string WithoutFeature(string sample)
    {
        byte[] glb = File.ReadAllBytes(RepositoryPaths.Combine($"samples/texture-features/{sample}.glb"));
        int jsonLength = BinaryPrimitives.ReadInt32LittleEndian(glb.AsSpan(12));
        JsonNode root = JsonNode.Parse(glb.AsSpan(20, jsonLength))!;
        foreach (JsonNode? material in root["materials"]!.AsArray())
        {
            if (material?["pbrMetallicRoughness"]?["baseColorTexture"] is JsonObject info)
            {
                if (sample == "texture-transform")
                {
                    info.Remove("extensions");
                }
                else if (sample == "texcoord1")
                {
                    info.Remove("texCoord");
                }
            }
        }

        if (sample == "vertex-colors")
        {
            foreach (JsonNode? mesh in root["meshes"]!.AsArray())
            {
                foreach (JsonNode? primitive in mesh!["primitives"]!.AsArray())
                {
                    primitive!["attributes"]!.AsObject().Remove("COLOR_0");
                }
            }
        }

        root["extensionsUsed"]?.AsArray().Remove(root["extensionsUsed"]!.AsArray().FirstOrDefault(e => e!.GetValue<string>() == "KHR_texture_transform"));
        byte[] json = Encoding.UTF8.GetBytes(root.ToJsonString());
        int padded = (json.Length + 3) & ~3;
        byte[] rest = glb.AsSpan(20 + jsonLength).ToArray();
        var result = new byte[20 + padded + rest.Length];
        glb.AsSpan(0, 12).CopyTo(result);
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(8), result.Length);
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(12), padded);
        glb.AsSpan(16, 4).CopyTo(result.AsSpan(16));
        json.CopyTo(result.AsSpan(20));
        result.AsSpan(20 + json.Length, padded - json.Length).Fill((byte)' ');
        rest.CopyTo(result.AsSpan(20 + padded));
        string path = Path.Combine(Directory.CreateTempSubdirectory("renderfarm-ignored-").FullName, $"{sample}.glb");
        File.WriteAllBytes(path, result);
        return path;
    }
}
