using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// What <see cref="SceneImporter"/> reads from a glTF file: the default scene's node tree flattened depth first,
/// the meshes its nodes draw, its cameras and lights, and its packed materials and textures. Immutable after load;
/// <see cref="AnimationEvaluator"/> poses it per frame and <see cref="GpuSceneBuilder"/> packs the pose for the GPU.
/// </summary>
internal sealed class SceneDescription
{
    public required string Name { get; init; }

    /// <summary>Node instances, parents before children (a node reached through several parents appears once per path).</summary>
    public required SceneNode[] Nodes { get; init; }

    public required CameraInfo[] Cameras { get; init; }

    public required LightInfo[] Lights { get; init; }

    public required GpuMaterial[] Materials { get; init; }

    public required GpuTexture[] Textures { get; init; }

    public required uint[] Texels { get; init; }

    public required AnimationEvaluator Animation { get; init; }

    /// <summary>The skins the nodes name, joints resolved to node instances.</summary>
    public required SkinInfo[] Skins { get; init; }

    /// <summary>What the file holds that is not drawn, one line each (<see cref="SceneReport"/>).</summary>
    public required IReadOnlyList<string> Unsupported { get; init; }

    /// <summary>Triangles drawn per frame, every instance counted.</summary>
    public required int TriangleCount { get; init; }

    /// <summary>The meshes stored once and drawn through instances (<see cref="SceneNode.SharedMesh"/>); empty when none is.</summary>
    public MeshPart[][] SharedMeshes { get; init; } = [];

    /// <summary>Triangles of the node instances that draw a mesh that is not shared, flattened to world space per frame.</summary>
    public int FlattenedTriangleCount { get; init; }
}

/// <summary>One node instance of the scene tree.</summary>
/// <param name="Parent">Index of the parent instance in <see cref="SceneDescription.Nodes"/>, or −1 for a root.</param>
/// <param name="LogicalIndex">The node's index in the file, which animation channels name.</param>
/// <param name="Local">The node's rest transform (row-vector convention).</param>
/// <param name="Parts">The triangle primitives of the node's mesh; empty when it has none.</param>
/// <param name="Skin">Index into <see cref="SceneDescription.Skins"/> that deforms the mesh, or −1.</param>
/// <param name="MorphWeights">The rest weights of the mesh's morph targets (the node's, else the mesh's, else zeros).</param>
internal sealed record SceneNode(int Parent, int LogicalIndex, Matrix4x4 Local, MeshPart[] Parts, int Skin, float[] MorphWeights)
{
    /// <summary>Index into <see cref="SceneDescription.SharedMeshes"/> of the mesh this node instances, or −1 when its mesh is flattened.</summary>
    public int SharedMesh { get; init; } = -1;
}

/// <summary>One triangle primitive in its mesh's space, indices already expanded to a triangle list.</summary>
/// <param name="Indices">Three vertex indices per triangle.</param>
/// <param name="Positions">POSITION.</param>
/// <param name="Normals">NORMAL, or null when the file has none (faces are then flat).</param>
/// <param name="Tangents">TANGENT, or null.</param>
/// <param name="Uvs">TEXCOORD_0, or null.</param>
/// <param name="Material">Index into <see cref="SceneDescription.Materials"/>.</param>
/// <param name="GenerateTangents">Whether per-triangle tangents are derived from the UVs (a normal texture without TANGENT).</param>
/// <param name="Joints">Four joint indices per vertex (JOINTS_0), into the skin's joints; null when not skinned.</param>
/// <param name="Weights">The four weights of each vertex (WEIGHTS_0), normalised to sum 1; all zero when the vertex has none.</param>
/// <param name="Targets">Morph targets, in the order of the mesh's weights.</param>
internal sealed record MeshPart(
    int[] Indices,
    Vector3[] Positions,
    Vector3[]? Normals,
    Vector4[]? Tangents,
    Vector2[]? Uvs,
    uint Material,
    bool GenerateTangents,
    int[]? Joints = null,
    Vector4[]? Weights = null,
    MorphTarget[]? Targets = null)
{
    /// <summary>The largest joint index any vertex names, or −1.</summary>
    public int MaxJoint { get; init; } = -1;

    /// <summary>TEXCOORD_1, or null.</summary>
    public Vector2[]? Uvs1 { get; init; }

    /// <summary>COLOR_0 as linear RGBA (alpha 1 for RGB colours), or null.</summary>
    public Vector4[]? Colors { get; init; }
}

/// <summary>The POSITION, NORMAL and TANGENT (xyz) displacements of one morph target; null where it has none.</summary>
internal sealed record MorphTarget(Vector3[]? Positions, Vector3[]? Normals, Vector3[]? Tangents);

/// <summary>A skin: the node instance of each joint and its inverse bind matrix.</summary>
internal sealed record SkinInfo(int[] Joints, Matrix4x4[] InverseBindMatrices);

/// <summary>A camera and the node instance that places it.</summary>
internal sealed record CameraInfo(string Name, int Node, bool Orthographic, float YFov, float YMag, float? AspectRatio = null);

/// <summary>A punctual light, its intensity already in the renderer's radiometric units.</summary>
internal sealed record LightInfo(int Node, PunctualLightType Type, Vector3 Intensity, float Range, float InnerConeCos, float OuterConeCos);
