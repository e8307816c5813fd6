using System.Collections.Frozen;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// What of glTF the renderer draws beyond the core specification: the one list that the upload preflight (which
/// refuses a file that requires anything else), the importer's report of what is not drawn, and the documentation
/// follow. Supporting a new extension or attribute means adding it here, next to the code that draws it.
/// </summary>
public static class SupportedFeatures
{
    /// <summary>
    /// Extensions whose content is drawn. A file may list any other in <c>extensionsUsed</c> (each is reported as not
    /// drawn) but is refused when it names one in <c>extensionsRequired</c>.
    /// </summary>
    public static readonly FrozenSet<string> Extensions = FrozenSet.Create(
        StringComparer.Ordinal,
        "KHR_lights_punctual",
        "KHR_materials_emissive_strength",
        "KHR_materials_transmission",
        "KHR_materials_ior",
        "KHR_materials_volume",
        "KHR_materials_clearcoat",
        "KHR_materials_sheen",
        "KHR_materials_specular",
        "KHR_mesh_quantization",
        "KHR_texture_transform");

    /// <summary>How many texture coordinate sets are read (TEXCOORD_0 up to TEXCOORD_n−1); textures naming a later set are sampled with set 0.</summary>
    public static readonly int TexCoordSets = 2;

    /// <summary>Whether COLOR_0 vertex colours are drawn.</summary>
    public static readonly bool VertexColors = true;
}
