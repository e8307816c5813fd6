using System.Numerics;
using System.Runtime.InteropServices;

namespace RenderFarm.Rendering.PathTracing;

// The structs below are the path tracer's storage buffers, laid out exactly as the std430 blocks in
// shaders/pathtrace/layout.glsl declares them (every member a 4-byte scalar, every struct a multiple of 16
// bytes). Change both together; GpuLayoutFacts compares members, offsets and sizes with the GLSL.

/// <summary>A BVH node. Interior when <see cref="Count"/> is 0: children are nodes <see cref="LeftOrFirst"/> and <see cref="LeftOrFirst"/>+1. Leaf otherwise: triangles [<see cref="LeftOrFirst"/>, <see cref="LeftOrFirst"/>+<see cref="Count"/>).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuBvhNode
{
    /// <summary>Lower corner of the bounds.</summary>
    public Vector3 Min;

    /// <summary>Left child index (interior) or first triangle (leaf).</summary>
    public uint LeftOrFirst;

    /// <summary>Upper corner of the bounds.</summary>
    public Vector3 Max;

    /// <summary>Triangle count; 0 marks an interior node.</summary>
    public uint Count;
}

/// <summary>World-space triangle positions, in BVH leaf order, with the triangle's material.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuTriangle
{
    /// <summary>First vertex.</summary>
    public Vector3 V0;

    /// <summary>Index into the material buffer.</summary>
    public uint Material;

    /// <summary>Second vertex.</summary>
    public Vector3 V1;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public uint Padding1;

    /// <summary>Third vertex.</summary>
    public Vector3 V2;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public uint Padding2;
}

/// <summary>Per-vertex shading attributes of a triangle (same index as <see cref="GpuTriangle"/>), in world space.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuTriangleShading
{
    /// <summary>Vertex normals (xyz; w unused). Flat-shaded triangles repeat the face normal.</summary>
    public Vector4 N0, N1, N2;

    /// <summary>Vertex tangents (xyz) with bitangent sign in w; all zero when the mesh has none.</summary>
    public Vector4 T0, T1, T2;

    /// <summary>TEXCOORD_0 of vertices 0 (xy) and 1 (zw).</summary>
    public Vector4 Uv01;

    /// <summary>TEXCOORD_0 of vertex 2 (xy) and TEXCOORD_1 of vertex 2 (zw).</summary>
    public Vector4 Uv2;

    /// <summary>TEXCOORD_1 of vertices 0 (xy) and 1 (zw); zero when the mesh has one set (textures naming set 1 then read zero).</summary>
    public Vector4 Uv1Of01;

    /// <summary>
    /// COLOR_0 of vertices 0, 1 and 2 as sRGB-encoded RGBA8 (R in the low byte), stored complemented so that zero,
    /// the value of a triangle without colours, is opaque white.
    /// </summary>
    public uint Color0, Color1, Color2;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public uint ColorPadding;
}

/// <summary>A metallic-roughness material with its KHR_materials extensions. Texture indices are -1 when absent.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuMaterial
{
    /// <summary>glTF alpha modes stored in <see cref="Flags"/> bits 0-1.</summary>
    public const uint AlphaOpaque = 0, AlphaMask = 1, AlphaBlend = 2;

    /// <summary>Flag bit: both sides are drawn (glTF doubleSided); single-sided back faces are skipped by every ray.</summary>
    public const uint FlagDoubleSided = 1u << 2;

    /// <summary>Base colour factor, linear RGBA.</summary>
    public Vector4 BaseColor;

    /// <summary>Emitted radiance: emissiveFactor × KHR_materials_emissive_strength (rgb); w unused.</summary>
    public Vector4 Emissive;

    /// <summary>Metallic factor.</summary>
    public float Metallic;

    /// <summary>Perceptual roughness factor.</summary>
    public float Roughness;

    /// <summary>Normal texture scale.</summary>
    public float NormalScale;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public float Padding;

    /// <summary>Base colour texture (sRGB).</summary>
    public int BaseColorTexture;

    /// <summary>Metallic (B) / roughness (G) texture (linear).</summary>
    public int MetallicRoughnessTexture;

    /// <summary>Tangent-space normal texture (linear).</summary>
    public int NormalTexture;

    /// <summary>Emissive texture (sRGB).</summary>
    public int EmissiveTexture;

    /// <summary>KHR_materials_transmission factor: the share of the dielectric base that refracts instead of diffusing.</summary>
    public float Transmission;

    /// <summary>KHR_materials_ior index of refraction (1.5 by default), also setting the dielectric's F0.</summary>
    public float Ior;

    /// <summary>KHR_materials_volume thickness factor; 0 means thin-walled (light passes without bending or absorption).</summary>
    public float Thickness;

    /// <summary>Alpha cutoff of the MASK mode.</summary>
    public float AlphaCutoff;

    /// <summary>Absorption coefficient per unit length inside the volume, −ln(attenuationColor) / attenuationDistance; zero when the distance is infinite.</summary>
    public Vector3 Absorption;

    /// <summary>Alpha mode and flags, see the constants.</summary>
    public uint Flags;

    /// <summary>KHR_materials_sheen colour factor (linear).</summary>
    public Vector3 SheenColor;

    /// <summary>KHR_materials_sheen roughness factor.</summary>
    public float SheenRoughness;

    /// <summary>KHR_materials_specular colour factor (linear), scaling the dielectric's F0.</summary>
    public Vector3 SpecularColor;

    /// <summary>KHR_materials_specular factor, scaling the dielectric's specular lobe.</summary>
    public float Specular;

    /// <summary>KHR_materials_clearcoat factor.</summary>
    public float Clearcoat;

    /// <summary>KHR_materials_clearcoat roughness factor.</summary>
    public float ClearcoatRoughness;

    /// <summary>Transmission texture (linear, R).</summary>
    public int TransmissionTexture;

    /// <summary>Clearcoat texture (linear, R).</summary>
    public int ClearcoatTexture;

    /// <summary>Sheen colour texture (sRGB).</summary>
    public int SheenColorTexture;

    /// <summary>Specular colour texture (sRGB).</summary>
    public int SpecularColorTexture;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public int Padding1, Padding2;
}

/// <summary>Where a texture's RGBA8 texels start in the texel buffer, its size and its sampler.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuTexture
{
    /// <summary>Sampler wrap mode values stored in <see cref="Flags"/> bits 0-1 (S) and 2-3 (T).</summary>
    public const uint WrapRepeat = 0, WrapClamp = 1, WrapMirror = 2;

    /// <summary>Flag bit: nearest filtering instead of bilinear.</summary>
    public const uint FlagNearest = 1u << 4;

    /// <summary>Flag bit: texels are sRGB-encoded and are decoded to linear when sampled.</summary>
    public const uint FlagSrgb = 1u << 5;

    /// <summary>Flag bit: sampled with TEXCOORD_1 instead of TEXCOORD_0.</summary>
    public const uint FlagTexCoord1 = 1u << 6;

    /// <summary>Index of the first texel (a packed RGBA8 uint, R in the low byte) in the texel buffer.</summary>
    public uint Offset;

    /// <summary>Width in texels.</summary>
    public uint Width;

    /// <summary>Height in texels.</summary>
    public uint Height;

    /// <summary>Wrap modes and flags, see the constants.</summary>
    public uint Flags;

    /// <summary>
    /// KHR_texture_transform as the first row of a 2×3 matrix applied to (u, v, 1): u′ = dot(xyz, (u, v, 1)); w unused.
    /// The identity's row (1, 0, 0) for a texture without a transform.
    /// </summary>
    public Vector4 TransformU;

    /// <summary>The second row: v′ = dot(xyz, (u, v, 1)); (0, 1, 0) without a transform.</summary>
    public Vector4 TransformV;
}

/// <summary>An emissive triangle for next-event estimation, chosen in proportion to its power.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuEmitter
{
    /// <summary>Triangle index (BVH order).</summary>
    public uint Triangle;

    /// <summary>World-space area.</summary>
    public float Area;

    /// <summary>Cumulative selection probability up to and including this emitter (the last is 1).</summary>
    public float Cdf;

    /// <summary>Probability of choosing this emitter.</summary>
    public float Probability;
}

/// <summary>A KHR_lights_punctual light in world space, in scene radiometric units (photometric / 683, as Blender imports).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuLight
{
    /// <summary>Light types stored in <see cref="Type"/>.</summary>
    public const uint TypePoint = 0, TypeSpot = 1, TypeDirectional = 2;

    /// <summary>Position (point and spot).</summary>
    public Vector3 Position;

    /// <summary>One of the type constants.</summary>
    public uint Type;

    /// <summary>Unit direction the light shines towards (spot and directional).</summary>
    public Vector3 Direction;

    /// <summary>Range; 0 means unlimited.</summary>
    public float Range;

    /// <summary>colour × intensity / 683: W/sr for point and spot, W/m² for directional.</summary>
    public Vector3 Intensity;

    /// <summary>Cosine of the spot's inner cone angle.</summary>
    public float InnerConeCos;

    /// <summary>Cosine of the spot's outer cone angle.</summary>
    public float OuterConeCos;

    /// <summary>Blender's spot edge: the cosine span over which the cone fades in, (1 − cos outer) × spot_blend.</summary>
    public float SpotSmooth;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public float Padding1, Padding2;
}

/// <summary>Per-frame constants: camera, environment, counts.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuFrameParams
{
    /// <summary>Flag bit: orthographic camera.</summary>
    public const uint FlagOrthographic = 1;

    /// <summary>Flag bit: shade with the glTF appendix's BSDF instead of the principled one.</summary>
    public const uint FlagGltfBsdf = 1u << 8;

    /// <summary>Flag bit: stratified draws (<see cref="Core.SamplerKind.Stratified"/>, shaders/pathtrace/random.glsl).</summary>
    public const uint FlagStratified = 1u << 9;

    /// <summary>Flag bit: node 0 roots a top-level BVH over <see cref="GpuInstance"/> records (shaders/pathtrace/bvh.glsl).</summary>
    public const uint FlagInstances = 1u << 16;

    /// <summary>Camera position (perspective) or image-plane centre (orthographic); w unused.</summary>
    public Vector4 CameraOrigin;

    /// <summary>Camera right axis scaled to the half-width of the image plane at distance 1 (or xmag); w unused.</summary>
    public Vector4 CameraRight;

    /// <summary>Camera up axis scaled to the half-height of the image plane at distance 1 (or ymag); w unused.</summary>
    public Vector4 CameraUp;

    /// <summary>Unit view direction; w unused.</summary>
    public Vector4 CameraForward;

    /// <summary>Uniform environment radiance seen by rays that leave the scene (rgb); w unused.</summary>
    public Vector4 Environment;

    /// <summary>Image width in pixels.</summary>
    public uint Width;

    /// <summary>Image height in pixels.</summary>
    public uint Height;

    /// <summary>Job seed.</summary>
    public uint Seed;

    /// <summary>Frame number.</summary>
    public uint Frame;

    /// <summary>Number of entries in the emitter buffer.</summary>
    public uint EmitterCount;

    /// <summary>Number of entries in the light buffer.</summary>
    public uint LightCount;

    /// <summary>Most bounces after the camera ray.</summary>
    public uint MaxBounces;

    /// <summary>Flags, see the constants.</summary>
    public uint Flags;

    /// <summary>Environment map: cosine (x) and sine (y) of its rotation, strength (z), 1 when light-sampled (w).</summary>
    public Vector4 EnvironmentRotation;

    /// <summary>Environment map width; 0 without a map, when <see cref="Environment"/> lights the scene.</summary>
    public uint EnvironmentWidth;

    /// <summary>Environment map height; 0 without a map.</summary>
    public uint EnvironmentHeight;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public uint EnvironmentPadding0, EnvironmentPadding1;
}

/// <summary>Push constants of one tile dispatch.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuTilePush
{
    /// <summary>Tile origin in pixels.</summary>
    public uint TileX, TileY;

    /// <summary>Tile size in pixels.</summary>
    public uint TileWidth, TileHeight;

    /// <summary>Index of the first sample this dispatch adds.</summary>
    public uint SampleStart;

    /// <summary>Samples per pixel this dispatch adds.</summary>
    public uint SampleCount;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public uint Padding0, Padding1;
}

/// <summary>
/// One instance of a mesh stored once (a two-level BVH's top level): the rows of its transforms, as x′ = dot(row, (p, 1)),
/// and the root of the mesh's own BVH in the node buffer.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuInstance
{
    /// <summary>Flag bit: the transform's determinant is negative (mirrored).</summary>
    public const uint FlagMirrored = 1;

    /// <summary>Flag bit: the triangles are in world space already; the transforms are ignored.</summary>
    public const uint FlagIdentity = 2;

    /// <summary>Rows of the world-to-object transform.</summary>
    public Vector4 WorldToObject0, WorldToObject1, WorldToObject2;

    /// <summary>Rows of the object-to-world transform.</summary>
    public Vector4 ObjectToWorld0, ObjectToWorld1, ObjectToWorld2;

    /// <summary>Index of the root node of the instance's mesh BVH, whose leaves index the triangle buffer.</summary>
    public uint Root;

    /// <summary>Flags, see the constants.</summary>
    public uint Flags;

    /// <summary>Unused; keeps 16-byte alignment.</summary>
    public uint Padding0, Padding1;
}
