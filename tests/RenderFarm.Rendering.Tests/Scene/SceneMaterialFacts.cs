using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Memory;
using SharpGLTF.Schema2;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;

namespace RenderFarm.Rendering.Tests.Scene;

public sealed class SceneMaterialFacts : IDisposable
{
    private const int TexturePackerLimit = 4096;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Factors_and_emissive_strength_are_imported()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Material material = model.CreateMaterial("glow");
        material.InitializePBRMetallicRoughness("KHR_materials_emissive_strength");
        material.FindChannel("BaseColor")!.Value.Parameters[0].Value = new Vector4(0.5f, 0.25f, 0.125f, 0.75f);
        MaterialChannel metallicRoughness = material.FindChannel("MetallicRoughness")!.Value;
        metallicRoughness.SetFactor("MetallicFactor", 0.2f);
        metallicRoughness.SetFactor("RoughnessFactor", 0.6f);
        MaterialChannel emissive = material.FindChannel("Emissive")!.Value;
        emissive.Parameters[0].Value = new Vector3(1, 0.5f, 0);
        emissive.SetFactor("EmissiveStrength", 4);
        Triangle(model, material);

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.GltfEmbedded)).BuildFrame(0, 1);
        GpuMaterial m = frame.Materials[frame.Triangles[0].Material];

        Assert.Equal(new Vector4(0.5f, 0.25f, 0.125f, 0.75f), m.BaseColor);
        Assert.Equal(0.2f, m.Metallic);
        Assert.Equal(0.6f, m.Roughness);
        Assert.Equal(1f, m.NormalScale);
        Assert.Equal(new Vector4(4, 2, 0, 0), m.Emissive);
        Assert.Equal(-1, m.BaseColorTexture);
        Assert.Equal(-1, m.MetallicRoughnessTexture);
        Assert.Equal(-1, m.NormalTexture);
        Assert.Equal(-1, m.EmissiveTexture);
    }

    [Fact]
    public void Primitive_without_material_gets_the_spec_default()
    {
        (ModelRoot model, _) = SingleTriangle();

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1);
        GpuMaterial m = frame.Materials[frame.Triangles[0].Material];

        Assert.Equal(Vector4.One, m.BaseColor);
        Assert.Equal(1, m.Metallic);
        Assert.Equal(1, m.Roughness);
        Assert.Equal(Vector4.Zero, m.Emissive);
        Assert.Equal(-1, m.BaseColorTexture);
        Assert.Empty(frame.Emitters);
        Assert.Equal(0u, frame.FrameParams.EmitterCount);
    }

    [Fact]
    public void Textures_carry_sampler_and_colour_space_flags_and_rgba_texels()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Image shared = model.UseImage(Png(2, 1, (x, _) => x == 0 ? new Rgba32(10, 20, 30, 40) : new Rgba32(50, 60, 70, 80)));
        Image other = model.UseImage(Png(3, 2, (_, _) => new Rgba32(1, 2, 3, 4)));
        Material material = model.CreateMaterial("textured");
        material.InitializePBRMetallicRoughness();
        material.FindChannel("BaseColor")!.Value.SetTexture(0, shared, null,
            TextureWrapMode.CLAMP_TO_EDGE, TextureWrapMode.MIRRORED_REPEAT, TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.NEAREST);
        material.FindChannel("MetallicRoughness")!.Value.SetTexture(0, shared, null,
            TextureWrapMode.REPEAT, TextureWrapMode.REPEAT, TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.LINEAR);
        MaterialChannel normal = material.FindChannel("Normal")!.Value;
        normal.SetTexture(0, shared, null,
            TextureWrapMode.REPEAT, TextureWrapMode.REPEAT, TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.LINEAR);
        normal.SetFactor("NormalScale", 0.5f);
        material.FindChannel("Emissive")!.Value.SetTexture(0, other, null,
            TextureWrapMode.REPEAT, TextureWrapMode.CLAMP_TO_EDGE, TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.DEFAULT);
        Triangle(model, material);

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.GltfExternal)).BuildFrame(0, 1);
        GpuMaterial m = frame.Materials[frame.Triangles[0].Material];
        GpuTexture baseColor = frame.Textures[m.BaseColorTexture];
        GpuTexture metallicRoughness = frame.Textures[m.MetallicRoughnessTexture];
        GpuTexture emissive = frame.Textures[m.EmissiveTexture];

        // Same image, colour space and sampler as the metallic-roughness texture: one shared entry.
        Assert.Equal(m.MetallicRoughnessTexture, m.NormalTexture);
        Assert.Equal(0.5f, m.NormalScale);
        Assert.Equal(3, frame.Textures.Length);
        Assert.Equal(GpuTexture.WrapClamp | (GpuTexture.WrapMirror << 2) | GpuTexture.FlagNearest | GpuTexture.FlagSrgb, baseColor.Flags);
        Assert.Equal(GpuTexture.WrapRepeat | (GpuTexture.WrapRepeat << 2), metallicRoughness.Flags);
        Assert.Equal(GpuTexture.WrapRepeat | (GpuTexture.WrapClamp << 2) | GpuTexture.FlagSrgb, emissive.Flags);
        Assert.Equal((2u, 1u), (baseColor.Width, baseColor.Height));
        Assert.Equal((3u, 2u), (emissive.Width, emissive.Height));

        // One image used as sRGB and as linear is stored twice; total 2 + 2 + 6 texels.
        Assert.NotEqual(baseColor.Offset, metallicRoughness.Offset);
        Assert.Equal(10, frame.Texels.Length);
        Assert.Equal(0x281E140Au, frame.Texels[baseColor.Offset]);
        Assert.Equal(0x50463C32u, frame.Texels[baseColor.Offset + 1]);
        Assert.Equal(0x281E140Au, frame.Texels[metallicRoughness.Offset]);
        Assert.Equal(0x04030201u, frame.Texels[emissive.Offset + 5]);
    }

    [Fact]
    public void Images_above_the_size_cap_are_downscaled()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Material material = model.CreateMaterial("huge");
        material.InitializePBRMetallicRoughness();
        MemoryImage png = Png(TexturePackerLimit * 2, 2, (_, _) => new Rgba32(255, 0, 0, 255));
        material.FindChannel("BaseColor")!.Value.SetTexture(0, model.UseImage(png), null,
            TextureWrapMode.REPEAT, TextureWrapMode.REPEAT, TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.DEFAULT);
        Triangle(model, material);

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1);
        GpuTexture texture = frame.Textures[frame.Materials[frame.Triangles[0].Material].BaseColorTexture];

        Assert.Equal((4096u, 1u), (texture.Width, texture.Height));
        Assert.Equal(4096, frame.Texels.Length);
    }

    [Fact]
    public void Emitters_are_chosen_in_proportion_to_area_times_luminance()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Material white = Emissive(model, new Vector3(1, 1, 1));
        Material green = Emissive(model, new Vector3(0, 1, 0));
        Mesh mesh = model.CreateMesh("lights");
        AddPrimitive(mesh, UnitTriangle, material: white);
        AddPrimitive(mesh, [new(0, 0, 1), new(2, 0, 1), new(0, 2, 1)], material: green);
        AddPrimitive(mesh, [new(0, 0, 2), new(1, 0, 2), new(2, 0, 2)], material: white); // zero area
        AddPrimitive(mesh, [new(0, 0, 3), new(1, 0, 3), new(0, 1, 3)]); // not emissive
        model.UseScene(0).CreateNode("n").Mesh = mesh;

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1);

        Assert.Equal(2, frame.Emitters.Length);
        Assert.Equal(2u, frame.FrameParams.EmitterCount);
        double whiteWeight = 0.5 * 1.0;
        double greenWeight = 2.0 * 0.7152;
        foreach (GpuEmitter e in frame.Emitters)
        {
            GpuTriangle t = frame.Triangles[e.Triangle];
            bool isGreen = t.V0.Z == 1;
            Assert.Equal(isGreen ? 2f : 0.5f, e.Area, 6);
            Assert.Equal((isGreen ? greenWeight : whiteWeight) / (whiteWeight + greenWeight), e.Probability, 5);
        }

        Assert.Equal(frame.Emitters[0].Probability, frame.Emitters[0].Cdf, 6);
        Assert.Equal(1f, frame.Emitters[^1].Cdf);
    }

    private static Material Emissive(ModelRoot model, Vector3 color)
    {
        Material material = model.CreateMaterial("e" + color);
        material.InitializePBRMetallicRoughness();
        material.FindChannel("Emissive")!.Value.Parameters[0].Value = color;
        return material;
    }

    private static Node Triangle(ModelRoot model, Material material)
    {
        Mesh mesh = model.CreateMesh("m");
        AddPrimitive(mesh, UnitTriangle, material: material, uvs: [new(0, 0), new(1, 0), new(0, 1)]);
        Node node = model.UseScene(0).CreateNode("n");
        node.Mesh = mesh;
        return node;
    }
}
