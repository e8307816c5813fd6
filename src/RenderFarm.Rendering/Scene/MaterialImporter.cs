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
        Ior = DefaultIor,
        AlphaCutoff = 0.5f,
        SpecularColor = Vector3.One,
        Specular = 1,
        TransmissionTexture = -1,
        ClearcoatTexture = -1,
        SheenColorTexture = -1,
        SpecularColorTexture = -1,
    };

    private const float DefaultIor = 1.5f;

    // Indices of refraction beyond this are not physical materials; it bounds the dielectric's Fresnel.
    private const float MaxIor = 5;

    /// <summary>The GPU record of <paramref name="material"/>; its textures are added to <paramref name="textures"/>.</summary>
    public static GpuMaterial Import(Material material, TexturePacker textures)
    {
        GpuMaterial result = DefaultMaterial;

        // Specular-glossiness-only materials expose "Diffuse" instead of "BaseColor"; use it as the base colour.
        MaterialChannel? baseColor = material.FindChannel("BaseColor") ?? material.FindChannel("Diffuse");
        if (baseColor is MaterialChannel color)
        {
            result.BaseColor = Parameter(color, "RGBA", Vector4.One);
            result.BaseColorTexture = textures.Add(color, srgb: true);
        }

        if (material.FindChannel("MetallicRoughness") is MaterialChannel metallicRoughness)
        {
            result.Metallic = Parameter(metallicRoughness, "MetallicFactor", 1f);
            result.Roughness = Parameter(metallicRoughness, "RoughnessFactor", 1f);
            result.MetallicRoughnessTexture = textures.Add(metallicRoughness, srgb: false);
        }

        if (material.FindChannel("Normal") is MaterialChannel normal)
        {
            result.NormalScale = Parameter(normal, "NormalScale", 1f);
            result.NormalTexture = textures.Add(normal, srgb: false);
        }

        if (material.FindChannel("Emissive") is MaterialChannel emissive)
        {
            Vector3 factor = Parameter(emissive, "RGB", Vector3.Zero);
            float strength = Parameter(emissive, "EmissiveStrength", 1f);
            result.Emissive = new Vector4(factor * strength, 0);
            result.EmissiveTexture = textures.Add(emissive, srgb: true);
        }

        result.Flags = material.Alpha switch
        {
            AlphaMode.MASK => GpuMaterial.AlphaMask,
            AlphaMode.BLEND => GpuMaterial.AlphaBlend,
            _ => GpuMaterial.AlphaOpaque,
        };
        if (material.DoubleSided)
        {
            result.Flags |= GpuMaterial.FlagDoubleSided;
        }

        result.AlphaCutoff = Unit(material.AlphaCutoff);
        ImportExtensions(material, textures, ref result);
        return result;
    }

    private static void ImportExtensions(Material material, TexturePacker textures, ref GpuMaterial result)
    {
        // The file's values are checked by the schema when read, but are still bounded here: a NaN or an
        // out-of-range factor must not reach the shader.
        if (material.FindChannel("Transmission") is MaterialChannel transmission)
        {
            result.Transmission = Unit(Parameter(transmission, "TransmissionFactor", 0f));
            result.TransmissionTexture = textures.Add(transmission, srgb: false);
        }

        // KHR_materials_ior allows 0 as well as [1, ∞); 0 (and anything below 1) is drawn as the default.
        float ior = material.IndexOfRefraction;
        result.Ior = float.IsFinite(ior) && ior >= 1 ? Math.Min(ior, MaxIor) : DefaultIor;

        if (material.FindChannel("VolumeThickness") is MaterialChannel thickness)
        {
            float value = Parameter(thickness, "ThicknessFactor", 0f);
            result.Thickness = float.IsFinite(value) && value > 0 ? value : 0;
        }

        if (material.FindChannel("VolumeAttenuation") is MaterialChannel attenuation)
        {
            result.Absorption = Absorption(Parameter(attenuation, "RGB", Vector3.One), Parameter(attenuation, "AttenuationDistance", float.PositiveInfinity));
        }

        if (material.FindChannel("ClearCoat") is MaterialChannel clearcoat)
        {
            result.Clearcoat = Unit(Parameter(clearcoat, "ClearCoatFactor", 0f));
            result.ClearcoatTexture = textures.Add(clearcoat, srgb: false);
        }

        if (material.FindChannel("ClearCoatRoughness") is MaterialChannel clearcoatRoughness)
        {
            result.ClearcoatRoughness = Unit(Parameter(clearcoatRoughness, "RoughnessFactor", 0f));
        }

        if (material.FindChannel("SheenColor") is MaterialChannel sheenColor)
        {
            result.SheenColor = Unit(Parameter(sheenColor, "RGB", Vector3.Zero));
            result.SheenColorTexture = textures.Add(sheenColor, srgb: true);
        }

        if (material.FindChannel("SheenRoughness") is MaterialChannel sheenRoughness)
        {
            result.SheenRoughness = Unit(Parameter(sheenRoughness, "RoughnessFactor", 0f));
        }

        if (material.FindChannel("SpecularColor") is MaterialChannel specularColor)
        {
            // The extension allows colour factors above 1 (F0 is clamped to 1 in the shader); bound them.
            Vector3 color = Parameter(specularColor, "RGB", Vector3.One);
            result.SpecularColor = Vector3.Clamp(Finite(color), Vector3.Zero, new Vector3(MaxIor));
            result.SpecularColorTexture = textures.Add(specularColor, srgb: true);
        }

        if (material.FindChannel("SpecularFactor") is MaterialChannel specular)
        {
            result.Specular = Unit(Parameter(specular, "SpecularFactor", 1f));
        }
    }

    /// <summary>Beer–Lambert coefficient: transmittance over <paramref name="distance"/> is <paramref name="color"/>.</summary>
    internal static Vector3 Absorption(Vector3 color, float distance)
    {
        if (!float.IsFinite(distance) || distance <= 0)
        {
            return Vector3.Zero;
        }

        // A colour of 0 would absorb everything at once; 1e-4 keeps the coefficient finite.
        Vector3 c = Vector3.Clamp(Finite(color), new Vector3(1e-4f), Vector3.One);
        return new Vector3(-MathF.Log(c.X), -MathF.Log(c.Y), -MathF.Log(c.Z)) / distance;
    }

    private static float Unit(float value) => float.IsFinite(value) ? Math.Clamp(value, 0, 1) : 0;

    private static Vector3 Unit(Vector3 value) => Vector3.Clamp(Finite(value), Vector3.Zero, Vector3.One);

    private static Vector3 Finite(Vector3 value) => new(
        float.IsFinite(value.X) ? value.X : 0, float.IsFinite(value.Y) ? value.Y : 0, float.IsFinite(value.Z) ? value.Z : 0);

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
