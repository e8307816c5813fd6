using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using RenderFarm.Core;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// Which shader features a frame switches on (<see cref="SceneFeatureDetection"/>), and that the specialization
/// constants built from them change how fast a frame renders, never its bytes.
/// </summary>
public partial class SceneFeatureFacts
{
    private static readonly string s_features = RepositoryPaths.Combine("shaders/pathtrace/features.glsl");

    private static GpuMaterial Plain() => new()
    {
        BaseColor = Vector4.One,
        Roughness = 1,
        Ior = 1.5f,
        Specular = 1,
        SpecularColor = Vector3.One,
        Flags = GpuMaterial.FlagDoubleSided,
        BaseColorTexture = -1,
        MetallicRoughnessTexture = -1,
        NormalTexture = -1,
        EmissiveTexture = -1,
        TransmissionTexture = -1,
        ClearcoatTexture = -1,
        SheenColorTexture = -1,
        SpecularColorTexture = -1,
    };

    private static GpuSceneData Data(GpuMaterial[] materials, GpuLight[]? lights = null, GpuEmitter[]? emitters = null) => new()
    {
        Nodes = [],
        Triangles = [],
        Shading = [],
        Materials = materials,
        Textures = [],
        Texels = [],
        Emitters = emitters ?? [],
        Lights = lights ?? [],
        FrameParams = default,
    };

    [Fact]
    public void PlainMaterials_NeedOnlyTheirBsdf()
    {
        Assert.Equal(SceneFeatures.PrincipledBsdf, SceneFeatureDetection.Detect(Data([Plain()]), BsdfModel.Principled, environmentMap: false));
        Assert.Equal(SceneFeatures.GltfBsdf, SceneFeatureDetection.Detect(Data([Plain(), Plain()]), BsdfModel.Gltf, environmentMap: false));
        Assert.Equal(
            SceneFeatures.PrincipledBsdf | SceneFeatures.EnvironmentMap,
            SceneFeatureDetection.Detect(Data([]), BsdfModel.Principled, environmentMap: true));
    }

    [Fact]
    public void EachMaterialInput_SwitchesOnItsFeature_AndNoOther()
    {
        (Func<GpuMaterial, GpuMaterial> Change, SceneFeatures Expected)[] cases =
        [
            (m => m with { Transmission = 0.5f }, SceneFeatures.Transmission),
            (m => m with { TransmissionTexture = 0 }, SceneFeatures.Transmission),
            (m => m with { Clearcoat = 1 }, SceneFeatures.Clearcoat),
            (m => m with { ClearcoatTexture = 2 }, SceneFeatures.Clearcoat),
            (m => m with { SheenColor = new Vector3(0, 0.1f, 0) }, SceneFeatures.Sheen),
            (m => m with { SheenColorTexture = 0 }, SceneFeatures.Sheen),
            (m => m with { Specular = 0.5f }, SceneFeatures.Specular),
            (m => m with { SpecularColor = new Vector3(1, 0.5f, 1) }, SceneFeatures.Specular),
            (m => m with { SpecularColorTexture = 1 }, SceneFeatures.Specular),
            (m => m with { Flags = GpuMaterial.FlagDoubleSided | GpuMaterial.AlphaMask }, SceneFeatures.AlphaMask),
            (m => m with { Flags = GpuMaterial.FlagDoubleSided | GpuMaterial.AlphaBlend }, SceneFeatures.AlphaBlend),
            (m => m with { Flags = GpuMaterial.FlagDoubleSided | 3u }, SceneFeatures.AlphaBlend),
            (m => m with { Flags = 0 }, SceneFeatures.SingleSided),
            (m => m with { BaseColorTexture = 0 }, SceneFeatures.BaseColorTexture),
            (m => m with { MetallicRoughnessTexture = 0 }, SceneFeatures.MetallicRoughnessTexture),
            (m => m with { NormalTexture = 0 }, SceneFeatures.NormalTexture),
            (m => m with { Emissive = new Vector4(0, 0, 2, 0) }, SceneFeatures.Emission),
            (m => m with { EmissiveTexture = 0 }, SceneFeatures.EmissiveTexture),
            // Unreadable factors count as used: a guard must never drop what a material might need.
            (m => m with { Clearcoat = float.NaN }, SceneFeatures.Clearcoat),
        ];
        foreach ((Func<GpuMaterial, GpuMaterial> change, SceneFeatures expected) in cases)
        {
            SceneFeatures found = SceneFeatureDetection.Detect(Data([Plain(), change(Plain())]), BsdfModel.Principled, environmentMap: false);
            Assert.Equal(SceneFeatures.PrincipledBsdf | expected, found);
        }
    }

    [Fact]
    public void Lights_AndEmitters_SwitchOnTheirKinds()
    {
        GpuLight Light(uint type) => new() { Type = type, Intensity = Vector3.One };
        SceneFeatures found = SceneFeatureDetection.Detect(
            Data([Plain()], [Light(GpuLight.TypeSpot), Light(GpuLight.TypeDirectional)], [new GpuEmitter { Probability = 1 }]),
            BsdfModel.Principled,
            environmentMap: false);
        Assert.Equal(SceneFeatures.PrincipledBsdf | SceneFeatures.SpotLights | SceneFeatures.DirectionalLights | SceneFeatures.Emission, found);

        SceneFeatures point = SceneFeatureDetection.Detect(Data([Plain()], [Light(GpuLight.TypePoint)]), BsdfModel.Principled, environmentMap: false);
        Assert.Equal(SceneFeatures.PrincipledBsdf | SceneFeatures.PointLights, point);
    }

    [Fact]
    public void SampleScenes_AreDetectedWithTheFeaturesTheyUse()
    {
        SceneFeatures Of(string sample)
        {
            SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine(sample));
            return SceneFeatureDetection.Detect(scene.BuildFrame(0, 1), BsdfModel.Principled, environmentMap: false);
        }

        SceneFeatures cornell = Of("samples/cornell-box/cornell-box.glb");
        Assert.True(cornell.HasFlag(SceneFeatures.Emission), $"{cornell}");
        Assert.Equal(SceneFeatures.None, cornell & (SceneFeatures.Transmission | SceneFeatures.Clearcoat | SceneFeatures.Sheen
            | SceneFeatures.AlphaMask | SceneFeatures.AlphaBlend | SceneFeatures.EnvironmentMap | SceneFeatures.GltfBsdf));

        // samples/materials: glass with absorption, clearcoat, sheen, MASK and BLEND.
        SceneFeatures materials = Of("samples/materials/materials.glb");
        SceneFeatures expected = SceneFeatures.Transmission | SceneFeatures.Clearcoat | SceneFeatures.Sheen | SceneFeatures.AlphaMask | SceneFeatures.AlphaBlend;
        Assert.Equal(expected, materials & expected);

        SceneFeatures lights = Of("samples/lights/lights.glb");
        Assert.Equal(SceneFeatures.PointLights | SceneFeatures.SpotLights, lights & (SceneFeatures.PointLights | SceneFeatures.SpotLights | SceneFeatures.DirectionalLights));
    }

    [Fact]
    public void ShaderConstants_AreTheEnumsBits_InOrder()
    {
        // features.glsl and SceneFeatures are one list written twice: bind them.
        MatchCollection declared = ConstantPattern().Matches(File.ReadAllText(s_features));
        Assert.Equal(SceneFeatureDetection.ConstantCount, declared.Count);
        for (int i = 0; i < declared.Count; i++)
        {
            Assert.Equal(i, int.Parse(declared[i].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            string name = "FEATURE_" + string.Concat(((SceneFeatures)(1u << i)).ToString().Select((c, k) => k > 0 && char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString()));
            Assert.Equal(name, declared[i].Groups[2].Value);
            Assert.Equal("true", declared[i].Groups[3].Value);
        }

        Assert.Equal((uint)SceneFeatures.All, (1u << SceneFeatureDetection.ConstantCount) - 1);
        uint[] constants = SceneFeatureDetection.SpecializationConstants(SceneFeatures.Clearcoat | SceneFeatures.GltfBsdf);
        Assert.Equal([0u, 1u, 0u, 1u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u], constants);
    }

    [GeneratedRegex(@"layout\(constant_id = (\d+)\) const bool (\w+) = (\w+);")]
    private static partial Regex ConstantPattern();
}

/// <summary>
/// A frame rendered by the pipeline specialized to its own features has the bytes of the one with every feature on:
/// the guards skip only work whose result is fixed without the feature. Providers and validators specialize alike, and
/// verification compares bytes, so a guard that moved a single pixel would fail honest providers.
/// </summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class SceneFeatureRenderFacts(PathTracerFixture fixture)
{
    [Theory]
    [InlineData("samples/cornell-box/cornell-box.glb", BsdfModel.Principled, false)]
    [InlineData("samples/cornell-box/cornell-box.glb", BsdfModel.Gltf, false)]
    [InlineData("samples/materials/materials.glb", BsdfModel.Principled, false)]
    [InlineData("samples/lights/lights.glb", BsdfModel.Principled, false)]
    [InlineData("samples/environment/environment.glb", BsdfModel.Principled, true)]
    [InlineData("samples/instancing/instancing.glb", BsdfModel.Principled, false)]
    public void OwnFeatures_RenderTheBytesOfEveryFeature(string sample, BsdfModel bsdf, bool environmentMap)
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine(sample));
        var settings = new RenderSettings { Size = new ImageSize(20, 16), SamplesPerPixel = 6, Seed = 9, Bsdf = bsdf, Background = new LinearColor(0.2f, 0.3f, 0.4f) };
        using var tracer = new PathTracer(fixture.Device);
        if (environmentMap)
        {
            tracer.Environment = new EnvironmentLight(EnvironmentFile.Read(RepositoryPaths.Combine("samples/environment/sky.hdr")), 0.5f, 30f);
        }

        SceneFeatures own = SceneFeatureDetection.Detect(scene.BuildFrame(0, settings.Size.AspectRatio), bsdf, environmentMap);
        Assert.NotEqual(SceneFeatures.All, own);
        float[] specialized = tracer.Render(scene, 1, settings).Image.Pixels;
        tracer.FeaturesOverride = SceneFeatures.All;
        float[] general = tracer.Render(scene, 1, settings).Image.Pixels;

        Assert.Contains(specialized, v => v > 0);
        // Bits, not values: 0 and -0 or two NaNs would pass a float comparison.
        Assert.Equal(MemoryMarshal.Cast<float, uint>(general).ToArray(), MemoryMarshal.Cast<float, uint>(specialized).ToArray());
    }
}
