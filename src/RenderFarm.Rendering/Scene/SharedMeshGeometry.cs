using System.Numerics;
using RenderFarm.Rendering.Acceleration;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// A shared mesh packed once in its own space: its triangles in the order of its own BVH, their shading attributes, and
/// the BVH with node indices relative to its root (0) and leaves indexing <see cref="Triangles"/> from 0.
/// <see cref="GpuSceneBuilder"/> places these behind a frame's top level, offsetting the indices.
/// </summary>
internal sealed class SharedMeshGeometry
{
    private SharedMeshGeometry(GpuBvhNode[] nodes, GpuTriangle[] triangles, GpuTriangleShading[] shading)
    {
        Nodes = nodes;
        Triangles = triangles;
        Shading = shading;
    }

    /// <summary>The mesh's BVH; the root is node 0.</summary>
    public GpuBvhNode[] Nodes { get; }

    /// <summary>The mesh's triangles in object space, in BVH leaf order.</summary>
    public GpuTriangle[] Triangles { get; }

    /// <summary>Shading attributes in object space, same order as <see cref="Triangles"/>.</summary>
    public GpuTriangleShading[] Shading { get; }

    /// <summary>Lower corner of the mesh's bounds in object space.</summary>
    public Vector3 Min => Nodes[0].Min;

    /// <summary>Upper corner of the mesh's bounds in object space.</summary>
    public Vector3 Max => Nodes[0].Max;

    /// <summary>Packs each of <paramref name="meshes"/> (the scene's <see cref="SceneDescription.SharedMeshes"/>).</summary>
    public static SharedMeshGeometry[] BuildAll(MeshPart[][] meshes) => Array.ConvertAll(meshes, Build);

    /// <summary>Packs one mesh: its parts with the identity transform, then its BVH.</summary>
    public static SharedMeshGeometry Build(MeshPart[] parts)
    {
        int count = 0;
        foreach (MeshPart part in parts)
        {
            count = checked(count + (part.Indices.Length / 3));
        }

        var vertices = new Vector3[3 * count];
        var shading = new GpuTriangleShading[count];
        var materials = new uint[count];
        int written = 0;
        foreach (MeshPart part in parts)
        {
            written = MeshFlattener.AppendPart(part, Matrix4x4.Identity, [], null, vertices, shading, materials, written);
        }

        Bvh bvh = Bvh.Build(vertices);
        var triangles = new GpuTriangle[count];
        var orderedShading = new GpuTriangleShading[count];
        GpuSceneBuilder.WriteInBvhOrder(bvh.TriangleOrder, vertices, shading, materials, triangles, orderedShading);

        return new SharedMeshGeometry(bvh.Nodes, triangles, orderedShading);
    }
}
