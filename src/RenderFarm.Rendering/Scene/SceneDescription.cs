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

    /// <summary>Triangles drawn per frame, every instance counted.</summary>
    public required int TriangleCount { get; init; }
}

/// <summary>One node instance of the scene tree.</summary>
/// <param name="Parent">Index of the parent instance in <see cref="SceneDescription.Nodes"/>, or −1 for a root.</param>
/// <param name="LogicalIndex">The node's index in the file, which animation channels name.</param>
/// <param name="Local">The node's rest transform (row-vector convention).</param>
/// <param name="Parts">The triangle primitives of the node's mesh; empty when it has none.</param>
internal sealed record SceneNode(int Parent, int LogicalIndex, Matrix4x4 Local, MeshPart[] Parts);

/// <summary>One triangle primitive in its mesh's space, indices already expanded to a triangle list.</summary>
internal sealed record MeshPart(
    int[] Indices, Vector3[] Positions, Vector3[]? Normals, Vector4[]? Tangents, Vector2[]? Uvs, uint Material, bool GenerateTangents);

/// <summary>A camera and the node instance that places it.</summary>
internal sealed record CameraInfo(string Name, int Node, bool Orthographic, float YFov, float YMag, float? AspectRatio = null);

/// <summary>A punctual light, its intensity already in the renderer's radiometric units.</summary>
internal sealed record LightInfo(int Node, PunctualLightType Type, Vector3 Intensity, float Range, float InnerConeCos, float OuterConeCos);
