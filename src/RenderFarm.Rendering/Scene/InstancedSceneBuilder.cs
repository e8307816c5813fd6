using System.Globalization;
using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.Acceleration;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Packs a posed frame whose shared meshes are drawn through instances: a top-level BVH over the instances, each
/// shared mesh's own BVH stored once, and the rest of the scene flattened as one more instance.
/// </summary>
internal static class InstancedSceneBuilder
{
    // The two-level layout: nodes [top level | flattened triangles' BVH | each shared mesh's BVH], triangles [flattened |
    // each shared mesh's], instances in top-level leaf order. Emitters index the flattened triangles, which come first
    // in the order a single-level frame gives them.
    internal static GpuSceneData Build(
        SceneDescription scene,
        ScenePose pose,
        (Vector3 Min, Vector3 Max) bounds,
        float imageAspectRatio,
        int cameraIndex,
        SharedMeshGeometry[] shared)
    {
        Matrix4x4[] world = pose.World;
        var flatten = new bool[scene.Nodes.Length];
        var instanced = new List<(int Node, Matrix4x4 Inverse)>();
        long stored = scene.FlattenedTriangleCount;
        foreach (SharedMeshGeometry mesh in shared)
        {
            stored += mesh.Triangles.Length;
        }

        for (int i = 0; i < scene.Nodes.Length; i++)
        {
            SceneNode node = scene.Nodes[i];
            if (node.SharedMesh < 0)
            {
                flatten[i] = true;
            }
            else if (Matrix4x4.Invert(world[i], out Matrix4x4 inverse) && IsFinite(inverse))
            {
                instanced.Add((i, inverse));
            }
            else
            {
                flatten[i] = true;
                stored += shared[node.SharedMesh].Triangles.Length;
            }
        }

        if (stored > SceneLimits.MaxTriangles)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{scene.Name}' has instances scaled to zero at this frame; flattening them makes {stored} triangles, and the limit is {SceneLimits.MaxTriangles}."));
        }

        (Vector3[] vertices, GpuTriangleShading[] flatShading, uint[] flatMaterials) = MeshFlattener.Flatten(scene, pose, flatten);
        int flatCount = flatMaterials.Length;
        Bvh? flatBvh = flatCount > 0 ? Bvh.Build(vertices) : null;

        // Boxes of the instances in world space, padded so that rounding in the shader's ray transform never culls a
        // ray the instance's own BVH would report.
        int instanceCount = instanced.Count + (flatBvh is null ? 0 : 1);
        var boxes = new Vector3[3 * instanceCount];
        for (int k = 0; k < instanced.Count; k++)
        {
            SharedMeshGeometry mesh = shared[scene.Nodes[instanced[k].Node].SharedMesh];
            (Vector3 min, Vector3 max) = TransformBox(mesh.Min, mesh.Max, world[instanced[k].Node]);
            Vector3 pad = (Vector3.Abs(min) + Vector3.Abs(max) + (max - min)) * 1e-6f;
            boxes[3 * k] = min - pad;
            boxes[(3 * k) + 1] = boxes[(3 * k) + 2] = max + pad;
        }

        if (flatBvh is not null)
        {
            int k = instanced.Count;
            boxes[3 * k] = flatBvh.Nodes[0].Min;
            boxes[(3 * k) + 1] = boxes[(3 * k) + 2] = flatBvh.Nodes[0].Max;
        }

        // A box is a triangle with its corners as vertices: the builder needs only each item's bounds and centroid.
        Bvh top = Bvh.Build(boxes);
        var nodes = new List<GpuBvhNode>(top.Nodes);
        var triangles = new GpuTriangle[checked(flatCount + shared.Sum(m => m.Triangles.Length))];
        var shading = new GpuTriangleShading[triangles.Length];
        uint flatRoot = (uint)nodes.Count;
        if (flatBvh is not null)
        {
            GpuSceneBuilder.WriteInBvhOrder(flatBvh.TriangleOrder, vertices, flatShading, flatMaterials, triangles, shading);

            AppendNodes(nodes, flatBvh.Nodes, 0);
        }

        var meshRoots = new uint[shared.Length];
        int triangleOffset = flatCount;
        for (int m = 0; m < shared.Length; m++)
        {
            meshRoots[m] = (uint)nodes.Count;
            AppendNodes(nodes, shared[m].Nodes, (uint)triangleOffset);
            shared[m].Triangles.CopyTo(triangles, triangleOffset);
            shared[m].Shading.CopyTo(shading, triangleOffset);
            triangleOffset += shared[m].Triangles.Length;
        }

        var instances = new GpuInstance[instanceCount];
        for (int slot = 0; slot < instanceCount; slot++)
        {
            int k = top.TriangleOrder[slot];
            if (k == instanced.Count)
            {
                instances[slot] = new GpuInstance { Root = flatRoot, Flags = GpuInstance.FlagIdentity };
                continue;
            }

            (int node, Matrix4x4 inverse) = instanced[k];
            Matrix4x4 m = world[node];
            instances[slot] = new GpuInstance
            {
                WorldToObject0 = new Vector4(inverse.M11, inverse.M21, inverse.M31, inverse.M41),
                WorldToObject1 = new Vector4(inverse.M12, inverse.M22, inverse.M32, inverse.M42),
                WorldToObject2 = new Vector4(inverse.M13, inverse.M23, inverse.M33, inverse.M43),
                ObjectToWorld0 = new Vector4(m.M11, m.M21, m.M31, m.M41),
                ObjectToWorld1 = new Vector4(m.M12, m.M22, m.M32, m.M42),
                ObjectToWorld2 = new Vector4(m.M13, m.M23, m.M33, m.M43),
                Root = meshRoots[scene.Nodes[node].SharedMesh],
                Flags = m.GetDeterminant() < 0 ? GpuInstance.FlagMirrored : 0,
            };
        }

        GpuEmitter[] emitters = LightPacker.BuildEmitters(scene.Materials, triangles);
        GpuLight[] lights = LightPacker.BuildLights(scene.Lights, world);
        GpuFrameParams frame = CameraPacker.BuildCamera(scene.Cameras, world, bounds, imageAspectRatio, cameraIndex);
        frame.EmitterCount = (uint)emitters.Length;
        frame.LightCount = (uint)lights.Length;
        frame.Flags |= GpuFrameParams.FlagInstances;
        return new GpuSceneData
        {
            Nodes = [.. nodes],
            Triangles = triangles,
            Shading = shading,
            Materials = scene.Materials,
            Textures = scene.Textures,
            Texels = scene.Texels,
            Emitters = emitters,
            Lights = lights,
            Instances = instances,
            FrameParams = frame,
        };
    }

    // Appends a BVH whose indices start at 0: interior nodes' children move with the nodes, leaves' triangles by triangleOffset.
    private static void AppendNodes(List<GpuBvhNode> nodes, GpuBvhNode[] source, uint triangleOffset)
    {
        uint nodeOffset = (uint)nodes.Count;
        foreach (GpuBvhNode node in source)
        {
            GpuBvhNode moved = node;
            moved.LeftOrFirst += node.Count == 0 ? nodeOffset : triangleOffset;
            nodes.Add(moved);
        }
    }

    private static (Vector3 Min, Vector3 Max) TransformBox(Vector3 min, Vector3 max, Matrix4x4 m)
    {
        var lo = new Vector3(float.PositiveInfinity);
        var hi = new Vector3(float.NegativeInfinity);
        for (int corner = 0; corner < 8; corner++)
        {
            var p = new Vector3((corner & 1) == 0 ? min.X : max.X, (corner & 2) == 0 ? min.Y : max.Y, (corner & 4) == 0 ? min.Z : max.Z);
            Vector3 q = Vector3.Transform(p, m);
            lo = Vector3.Min(lo, q);
            hi = Vector3.Max(hi, q);
        }

        return (lo, hi);
    }

    private static bool IsFinite(Matrix4x4 m) =>
        float.IsFinite(m.M11) && float.IsFinite(m.M12) && float.IsFinite(m.M13) && float.IsFinite(m.M14)
        && float.IsFinite(m.M21) && float.IsFinite(m.M22) && float.IsFinite(m.M23) && float.IsFinite(m.M24)
        && float.IsFinite(m.M31) && float.IsFinite(m.M32) && float.IsFinite(m.M33) && float.IsFinite(m.M34)
        && float.IsFinite(m.M41) && float.IsFinite(m.M42) && float.IsFinite(m.M43) && float.IsFinite(m.M44);

}
