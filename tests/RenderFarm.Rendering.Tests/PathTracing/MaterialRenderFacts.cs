using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Rendering.Tests.Scene;
using RenderFarm.Testing;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// What the material extensions and alpha modes do to a render: a dark quad before a white
/// environment, the default camera framing it.
/// </summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class MaterialRenderFacts(PathTracerFixture fixture)
{
    private static readonly string s_materials = RepositoryPaths.Combine("samples/materials/materials.glb");

    private static readonly RenderSettings s_settings = new()
    {
        Size = new ImageSize(16, 16),
        SamplesPerPixel = 16,
        Background = new LinearColor(1, 1, 1),
        MaxBounces = 2,
    };

    private static string Quad(TempDirectory folder, bool reversed, Action<Material> configure)
    {
        ModelRoot model = ModelRoot.CreateModel();
        Material material = model.CreateMaterial("dark");
        material.InitializePBRMetallicRoughness();
        material.FindChannel("BaseColor")!.Value.Parameters[0].Value = new Vector4(0.05f, 0.05f, 0.05f, 1);
        MaterialChannel metallicRoughness = material.FindChannel("MetallicRoughness")!.Value;
        metallicRoughness.Parameters[0].Value = 0f;
        metallicRoughness.Parameters[1].Value = 1f;
        configure(material);
        Vector3[] positions = [new(-1, -1, 0), new(1, -1, 0), new(1, 1, 0), new(-1, 1, 0)];
        int[] indices = reversed ? [0, 2, 1, 0, 3, 2] : [0, 1, 2, 0, 2, 3];
        Mesh mesh = model.CreateMesh("quad");
        GltfTestFiles.AddPrimitive(mesh, positions, indices, material);
        model.UseScene("scene").CreateNode("quad").Mesh = mesh;
        return GltfTestFiles.Save(model, folder, GltfFormat.Glb, reversed ? "reversed" : "quad");
    }

    private double Mean(string path) => fixture.Tracer.Render(SceneAsset.Load(path), 1, s_settings).Image.MeanValue();

    [Fact]
    public void SingleSided_quad_is_seen_from_its_front_only_and_double_sided_from_both()
    {
        using var folder = new TempDirectory();

        double singleFront = Mean(Quad(folder, reversed: false, _ => { }));
        double singleBack = Mean(Quad(folder, reversed: true, _ => { }));
        double doubleFront = Mean(Quad(folder, reversed: false, m => m.DoubleSided = true));
        double doubleBack = Mean(Quad(folder, reversed: true, m => m.DoubleSided = true));

        // Exactly one winding faces the camera: that render shows the dark quad, the other only the environment.
        Assert.Equal(1.0, Math.Max(singleFront, singleBack), 6);
        Assert.True(Math.Min(singleFront, singleBack) < 0.8, $"single-sided means {singleFront}, {singleBack}");
        Assert.True(doubleFront < 0.8 && doubleBack < 0.8, $"double-sided means {doubleFront}, {doubleBack}");
    }

    [Fact]
    public void Mask_cuts_below_its_cutoff_and_blend_lets_one_minus_alpha_through()
    {
        using var folder = new TempDirectory();
        Action<Material> alpha(AlphaMode mode, float value, float cutoff) => m =>
        {
            m.DoubleSided = true;
            m.Alpha = mode;
            if (mode == AlphaMode.MASK)
            {
                m.AlphaCutoff = cutoff;
            }

            m.FindChannel("BaseColor")!.Value.Parameters[0].Value = new Vector4(0.05f, 0.05f, 0.05f, value);
        };

        double opaque = Mean(Quad(folder, false, alpha(AlphaMode.OPAQUE, 0.3f, 0)));
        double cut = Mean(Quad(folder, false, alpha(AlphaMode.MASK, 0.3f, 0.5f)));
        double kept = Mean(Quad(folder, false, alpha(AlphaMode.MASK, 0.3f, 0.2f)));
        double blend = Mean(Quad(folder, false, alpha(AlphaMode.BLEND, 0.25f, 0)));

        Assert.Equal(1.0, cut, 6);
        Assert.Equal(opaque, kept, 6);
        // Stochastic transparency: the mean is the alpha-weighted mix of the quad and the environment behind it.
        double expected = (0.25 * opaque) + (0.75 * 1.0);
        Assert.True(Math.Abs(blend - expected) < 0.03, $"blend mean {blend}, expected {expected} (opaque {opaque})");
    }

    [Fact]
    public void MaterialsScene_MatchesItsGoldenImage()
    {
        // Glass with absorption, clearcoat, sheen, MASK and BLEND in one scene (samples/materials).
        SceneAsset scene = SceneAsset.Load(s_materials);
        var settings = new RenderSettings { Size = new ImageSize(96, 96), SamplesPerPixel = 64, Seed = 1, ToneMapping = ToneMapping.Clamp };
        HdrImage image = fixture.Tracer.Render(scene, 1, settings).Image;

        GoldenImages.AssertMatches(image, settings.ToneMapping, "materials_frame01_96x96_64spp_principled.png", new TolerantImageComparer(maxMeanDifference: 3, maxBlurredDifference: 12));
    }

    [Fact]
    public void MaterialsScene_RenderTiles_GivesExactlyThePixelsOfTheFullFrame()
    {
        // Stochastic alpha, glass and the volume's absorption keep a frame independent of how it is cut.
        SceneAsset scene = SceneAsset.Load(s_materials);
        var settings = new RenderSettings { Size = new ImageSize(24, 20), SamplesPerPixel = 5, Seed = 4 };
        HdrImage full = fixture.Tracer.Render(scene, 1, settings).Image;
        IReadOnlyList<HdrImage> tiles = fixture.Tracer.RenderTiles(scene, 1, settings, [(0, 0, 24, 7), (0, 7, 24, 13)]);

        float[] joined = [.. tiles[0].Pixels, .. tiles[1].Pixels];
        Assert.Equal(full.Pixels, joined);
    }
}
