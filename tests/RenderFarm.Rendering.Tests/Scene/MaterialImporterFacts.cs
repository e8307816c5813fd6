using System.Numerics;
using System.Text.Json.Nodes;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Schema2;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>The KHR_materials extensions, alpha modes and sidedness reach the GPU material as the file says.</summary>
public sealed class MaterialImporterFacts : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private GpuMaterial ImportOne(Action<Material> configure, string[] extensions, Action<JsonObject>? editJson = null)
    {
        ModelRoot model = ModelRoot.CreateModel();
        Material material = model.CreateMaterial("m");
        material.InitializePBRMetallicRoughness(extensions);
        configure(material);
        Mesh mesh = model.CreateMesh("tri");
        AddPrimitive(mesh, UnitTriangle, material: material);
        model.UseScene("scene").CreateNode("node").Mesh = mesh;
        string path = Save(model, _dir, GltfFormat.GltfEmbedded);
        if (editJson is not null)
        {
            EditJson(path, editJson);
        }

        GpuSceneData frame = SceneAsset.Load(path).BuildFrame(0, 1);
        return frame.Materials[frame.Triangles[0].Material];
    }

    [Fact]
    public void Transmission_ior_and_volume_are_imported_with_absorption_from_attenuation()
    {
        GpuMaterial m = ImportOne(
            material =>
            {
                material.IndexOfRefraction = 1.33f;
                material.FindChannel("Transmission")!.Value.SetFactor("TransmissionFactor", 0.75f);
                material.FindChannel("VolumeThickness")!.Value.SetFactor("ThicknessFactor", 0.5f);
                MaterialChannel attenuation = material.FindChannel("VolumeAttenuation")!.Value;
                attenuation.Parameters[0].Value = new Vector3(0.5f, 0.25f, 1f);
                attenuation.SetFactor("AttenuationDistance", 2f);
            },
            ["Transmission", "IOR", "Volume"]);

        Assert.Equal(0.75f, m.Transmission);
        Assert.Equal(1.33f, m.Ior);
        Assert.Equal(0.5f, m.Thickness);
        // Beer–Lambert: over the attenuation distance the transmittance is the attenuation colour.
        Assert.Equal(0.5f, MathF.Exp(-m.Absorption.X * 2), 5);
        Assert.Equal(0.25f, MathF.Exp(-m.Absorption.Y * 2), 5);
        Assert.Equal(0f, m.Absorption.Z);
        Assert.Equal(-1, m.TransmissionTexture);
    }

    [Fact]
    public void Without_extensions_the_material_is_opaque_single_sided_and_has_the_spec_defaults()
    {
        GpuMaterial m = ImportOne(_ => { }, []);

        Assert.Equal(0f, m.Transmission);
        Assert.Equal(1.5f, m.Ior);
        Assert.Equal(0f, m.Thickness);
        Assert.Equal(Vector3.Zero, m.Absorption);
        Assert.Equal(GpuMaterial.AlphaOpaque, m.Flags);
        Assert.Equal(0.5f, m.AlphaCutoff);
        Assert.Equal(0f, m.Clearcoat);
        Assert.Equal(Vector3.Zero, m.SheenColor);
        Assert.Equal(Vector3.One, m.SpecularColor);
        Assert.Equal(1f, m.Specular);
    }

    [Fact]
    public void Clearcoat_sheen_and_specular_are_imported()
    {
        GpuMaterial m = ImportOne(
            material =>
            {
                material.FindChannel("ClearCoat")!.Value.SetFactor("ClearCoatFactor", 0.8f);
                material.FindChannel("ClearCoatRoughness")!.Value.SetFactor("RoughnessFactor", 0.2f);
                material.FindChannel("SheenColor")!.Value.Parameters[0].Value = new Vector3(1f, 0.5f, 0.25f);
                material.FindChannel("SheenRoughness")!.Value.SetFactor("RoughnessFactor", 0.4f);
                material.FindChannel("SpecularColor")!.Value.Parameters[0].Value = new Vector3(0.5f, 1f, 2f);
                material.FindChannel("SpecularFactor")!.Value.SetFactor("SpecularFactor", 0.3f);
            },
            ["ClearCoat", "Sheen", "Specular"]);

        Assert.Equal(0.8f, m.Clearcoat);
        Assert.Equal(0.2f, m.ClearcoatRoughness);
        Assert.Equal(new Vector3(1f, 0.5f, 0.25f), m.SheenColor);
        Assert.Equal(0.4f, m.SheenRoughness);
        Assert.Equal(new Vector3(0.5f, 1f, 2f), m.SpecularColor);
        Assert.Equal(0.3f, m.Specular);
    }

    [Theory]
    [InlineData("MASK", 0.25, GpuMaterial.AlphaMask)]
    [InlineData("BLEND", 0.5, GpuMaterial.AlphaBlend)]
    [InlineData("OPAQUE", 0.5, GpuMaterial.AlphaOpaque)]
    public void Alpha_mode_cutoff_and_double_sided_are_imported(string mode, double cutoff, uint expected)
    {
        GpuMaterial m = ImportOne(
            material =>
            {
                material.Alpha = Enum.Parse<AlphaMode>(mode);
                if (mode == "MASK")
                {
                    material.AlphaCutoff = (float)cutoff;
                }

                material.DoubleSided = true;
            },
            []);

        Assert.Equal(expected | GpuMaterial.FlagDoubleSided, m.Flags);
        Assert.Equal((float)cutoff, m.AlphaCutoff);
    }

    [Fact]
    public void Out_of_range_factors_in_the_file_are_bounded()
    {
        // Guards the shader against values the schema check lets through or a hostile file sets:
        // an ior of 1e30, a negative thickness, a specular colour of 1e30 and an attenuation colour of 0.
        GpuMaterial m = ImportOne(
            material =>
            {
                // Values other than the defaults, so the extensions are written and listed in extensionsUsed.
                material.IndexOfRefraction = 2f;
                material.FindChannel("VolumeThickness")!.Value.SetFactor("ThicknessFactor", 1f);
                material.FindChannel("VolumeAttenuation")!.Value.SetFactor("AttenuationDistance", 1f);
                material.FindChannel("SpecularColor")!.Value.Parameters[0].Value = new Vector3(0.5f, 1f, 1f);
            },
            ["Transmission", "IOR", "Volume", "Specular"],
            json =>
            {
                JsonObject extensions = json["materials"]![0]!["extensions"]!.AsObject();
                extensions["KHR_materials_ior"] = new JsonObject { ["ior"] = 1e30 };
                extensions["KHR_materials_volume"] = new JsonObject
                {
                    ["thicknessFactor"] = 0,
                    ["attenuationColor"] = new JsonArray(0, 0.5, 1),
                    ["attenuationDistance"] = 1,
                };
                extensions["KHR_materials_specular"] = new JsonObject { ["specularColorFactor"] = new JsonArray(1e30, 1, 1) };
            });

        Assert.Equal(5f, m.Ior);
        Assert.Equal(0f, m.Thickness);
        Assert.True(float.IsFinite(m.Absorption.X) && m.Absorption.X > 9, $"absorption {m.Absorption}");
        Assert.Equal(5f, m.SpecularColor.X);
    }
}
