using RenderFarm.Core;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// The optional parts of the path tracer a frame needs. Bit i is the shader's specialization constant
/// <c>constant_id = i</c> (shaders/pathtrace/features.glsl, which names each one <c>FEATURE_</c> plus the member's name
/// in capitals and underscores); a pipeline created without a feature leaves its code out. Every guard skips only work
/// whose result is already fixed when nothing in the frame uses the feature, so a frame renders to the same bytes with
/// <see cref="All"/> and with the features detected for it: the constants change speed, never pixels.
/// </summary>
[Flags]
internal enum SceneFeatures : uint
{
    /// <summary>Nothing optional.</summary>
    None = 0,

    /// <summary>The principled BSDF (<see cref="BsdfModel.Principled"/>).</summary>
    PrincipledBsdf = 1u << 0,

    /// <summary>The glTF appendix BSDF (<see cref="BsdfModel.Gltf"/>); with both BSDFs on, the frame's flag picks one.</summary>
    GltfBsdf = 1u << 1,

    /// <summary>KHR_materials_transmission, with _ior and _volume: glass events and absorption in volumes.</summary>
    Transmission = 1u << 2,

    /// <summary>KHR_materials_clearcoat.</summary>
    Clearcoat = 1u << 3,

    /// <summary>KHR_materials_sheen.</summary>
    Sheen = 1u << 4,

    /// <summary>KHR_materials_specular (its colour texture is what the guard leaves out).</summary>
    Specular = 1u << 5,

    /// <summary>Alpha mode MASK.</summary>
    AlphaMask = 1u << 6,

    /// <summary>Alpha mode BLEND.</summary>
    AlphaBlend = 1u << 7,

    /// <summary>Materials that are not double-sided.</summary>
    SingleSided = 1u << 8,

    /// <summary>An environment map lights the frame.</summary>
    EnvironmentMap = 1u << 9,

    /// <summary>Base colour textures.</summary>
    BaseColorTexture = 1u << 10,

    /// <summary>Metallic-roughness textures.</summary>
    MetallicRoughnessTexture = 1u << 11,

    /// <summary>Normal textures.</summary>
    NormalTexture = 1u << 12,

    /// <summary>Emissive materials: emission seen by rays and next-event estimation on emissive triangles.</summary>
    Emission = 1u << 13,

    /// <summary>Emissive textures.</summary>
    EmissiveTexture = 1u << 14,

    /// <summary>KHR_lights_punctual point lights.</summary>
    PointLights = 1u << 15,

    /// <summary>KHR_lights_punctual spot lights.</summary>
    SpotLights = 1u << 16,

    /// <summary>KHR_lights_punctual directional lights.</summary>
    DirectionalLights = 1u << 17,

    /// <summary>Shared meshes drawn through a two-level BVH (<see cref="GpuSceneData.Instances"/>).</summary>
    Instancing = 1u << 18,

    /// <summary>Every feature: the shader as it is without specialization.</summary>
    All = (1u << 19) - 1,
}

/// <summary>Finds the <see cref="SceneFeatures"/> of a frame and turns them into specialization constants.</summary>
internal static class SceneFeatureDetection
{
    /// <summary>How many specialization constants the path tracer declares (constant_id 0 up to this, exclusive).</summary>
    internal const int ConstantCount = 19;

    /// <summary>
    /// The features a frame of <paramref name="data"/> uses, rendered with <paramref name="bsdf"/> and with an environment
    /// map when <paramref name="environmentMap"/> is set. Detection errs on the side of a feature: any material that
    /// names a texture or a non-default factor of a feature switches it on, used by a triangle or not.
    /// </summary>
    internal static SceneFeatures Detect(GpuSceneData data, BsdfModel bsdf, bool environmentMap)
    {
        ArgumentNullException.ThrowIfNull(data);
        SceneFeatures features = bsdf == BsdfModel.Gltf ? SceneFeatures.GltfBsdf : SceneFeatures.PrincipledBsdf;
        if (environmentMap)
        {
            features |= SceneFeatures.EnvironmentMap;
        }

        if (data.Emitters.Length > 0)
        {
            features |= SceneFeatures.Emission;
        }

        if (data.Instances.Length > 0)
        {
            features |= SceneFeatures.Instancing;
        }

        foreach (GpuMaterial m in data.Materials)
        {
            features |= Of(m);
        }

        foreach (GpuLight light in data.Lights)
        {
            features |= light.Type switch
            {
                GpuLight.TypePoint => SceneFeatures.PointLights,
                GpuLight.TypeSpot => SceneFeatures.SpotLights,
                GpuLight.TypeDirectional => SceneFeatures.DirectionalLights,
                // A type the shader does not know would take its point-light path; keep every kind on.
                _ => SceneFeatures.PointLights | SceneFeatures.SpotLights | SceneFeatures.DirectionalLights,
            };
        }

        return features;
    }

    /// <summary>One VkBool32 (0 or 1) per constant_id, in order, for the pipeline's specialization info.</summary>
    internal static uint[] SpecializationConstants(SceneFeatures features)
    {
        var values = new uint[ConstantCount];
        for (int i = 0; i < ConstantCount; i++)
        {
            values[i] = ((uint)features >> i) & 1u;
        }

        return values;
    }

    private static SceneFeatures Of(in GpuMaterial m)
    {
        SceneFeatures features = SceneFeatures.None;
        if (m.Transmission != 0f || m.TransmissionTexture >= 0)
        {
            features |= SceneFeatures.Transmission;
        }

        if (m.Clearcoat != 0f || m.ClearcoatTexture >= 0)
        {
            features |= SceneFeatures.Clearcoat;
        }

        if (m.SheenColor != System.Numerics.Vector3.Zero || m.SheenColorTexture >= 0)
        {
            features |= SceneFeatures.Sheen;
        }

        if (m.Specular != 1f || m.SpecularColor != System.Numerics.Vector3.One || m.SpecularColorTexture >= 0)
        {
            features |= SceneFeatures.Specular;
        }

        uint alphaMode = m.Flags & 3u;
        if (alphaMode == GpuMaterial.AlphaMask)
        {
            features |= SceneFeatures.AlphaMask;
        }
        else if (alphaMode != GpuMaterial.AlphaOpaque)
        {
            // BLEND, or a mode the shader would treat as BLEND.
            features |= SceneFeatures.AlphaBlend;
        }

        if ((m.Flags & GpuMaterial.FlagDoubleSided) == 0)
        {
            features |= SceneFeatures.SingleSided;
        }

        if (m.BaseColorTexture >= 0)
        {
            features |= SceneFeatures.BaseColorTexture;
        }

        if (m.MetallicRoughnessTexture >= 0)
        {
            features |= SceneFeatures.MetallicRoughnessTexture;
        }

        if (m.NormalTexture >= 0)
        {
            features |= SceneFeatures.NormalTexture;
        }

        if (m.Emissive.X != 0f || m.Emissive.Y != 0f || m.Emissive.Z != 0f)
        {
            features |= SceneFeatures.Emission;
        }

        if (m.EmissiveTexture >= 0)
        {
            features |= SceneFeatures.EmissiveTexture;
        }

        return features;
    }
}
