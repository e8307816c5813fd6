using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>Turns glTF materials into the path tracer's <see cref="GpuMaterial"/> records.</summary>
internal static class MaterialImporter
{
    /// <summary>The material of primitives that name none: white, rough, metallic as the glTF defaults say.</summary>
    public static readonly GpuMaterial DefaultMaterial = new()
    {
        BaseColor = Vector4.One,
        Emissive = Vector4.Zero,
        Metallic = 1,
        Roughness = 1,
        NormalScale = 1,
        BaseColorTexture = -1,
        MetallicRoughnessTexture = -1,
        NormalTexture = -1,
        EmissiveTexture = -1,
    };

    /// <summary>The GPU record of <paramref name="material"/>; its textures are added to <paramref name="textures"/>.</summary>
    public static GpuMaterial Import(Material material, TexturePacker textures)
    {
        GpuMaterial result = DefaultMaterial;

        // Specular-glossiness-only materials expose "Diffuse" instead of "BaseColor"; use it as the base colour.
        MaterialChannel? baseColor = material.FindChannel("BaseColor") ?? material.FindChannel("Diffuse");
        if (baseColor is MaterialChannel color)
        {
            result.BaseColor = Parameter(color, "RGBA", Vector4.One);
            result.BaseColorTexture = textures.Add(color.Texture, color.TextureSampler, srgb: true);
        }

        if (material.FindChannel("MetallicRoughness") is MaterialChannel metallicRoughness)
        {
            result.Metallic = Parameter(metallicRoughness, "MetallicFactor", 1f);
            result.Roughness = Parameter(metallicRoughness, "RoughnessFactor", 1f);
            result.MetallicRoughnessTexture = textures.Add(metallicRoughness.Texture, metallicRoughness.TextureSampler, srgb: false);
        }

        if (material.FindChannel("Normal") is MaterialChannel normal)
        {
            result.NormalScale = Parameter(normal, "NormalScale", 1f);
            result.NormalTexture = textures.Add(normal.Texture, normal.TextureSampler, srgb: false);
        }

        if (material.FindChannel("Emissive") is MaterialChannel emissive)
        {
            Vector3 factor = Parameter(emissive, "RGB", Vector3.Zero);
            float strength = Parameter(emissive, "EmissiveStrength", 1f);
            result.Emissive = new Vector4(factor * strength, 0);
            result.EmissiveTexture = textures.Add(emissive.Texture, emissive.TextureSampler, srgb: true);
        }

        return result;
    }

    private static T Parameter<T>(MaterialChannel channel, string name, T fallback)
    {
        foreach (IMaterialParameter parameter in channel.Parameters)
        {
            if (parameter.Name == name && parameter.Value is T value)
            {
                return value;
            }
        }

        return fallback;
    }
}
