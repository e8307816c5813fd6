using System.Globalization;
using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.Acceleration;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Packs a posed <see cref="SceneDescription"/> for the path tracer: world-space triangles in BVH order with
/// their shading attributes, the emissive triangles to sample, the punctual lights and the camera.
/// </summary>
/// <remarks>
/// <para>Shared meshes (<see cref="SceneDescription.SharedMeshes"/>) are not flattened: each is packed once in its own space
/// (<see cref="SharedMeshGeometry"/>) and each node instance drawing it becomes a <see cref="GpuInstance"/> of a top-level
/// BVH, with the flattened triangles as one more instance whose transform is the identity. A node instance whose world
/// transform is singular at the frame (scaled to zero along an axis) has no inverse to carry rays into its space, so
/// its triangles are flattened at that frame instead.</para>
/// </remarks>
internal static class GpuSceneBuilder
{
    /// <summary>
    /// Flattens <paramref name="scene"/> in <paramref name="pose"/> to world space, builds the BVH and packs
    /// everything for the GPU. Width, height, seed, frame and max bounces are left 0.
    /// </summary>
    /// <param name="scene">The scene.</param>
    /// <param name="pose">Its pose at the frame's time.</param>
    /// <param name="bounds">The rest-pose bounds the default camera frames when the scene has no camera.</param>
    /// <param name="imageAspectRatio">Image width divided by height.</param>
    /// <param name="cameraIndex">A valid index into the scene's cameras, or 0 when it has none.</param>
    /// <param name="shared">
    /// The scene's shared meshes packed (<see cref="SharedMeshGeometry.BuildAll"/>), drawn through instances; null to
    /// flatten every mesh, shared or not, as a scene without shared meshes is.
    /// </param>
    /// <exception cref="UserInputException">The triangles to flatten at this frame exceed <see cref="SceneLimits.MaxTriangles"/>.</exception>
    public static GpuSceneData Build(
        SceneDescription scene,
        ScenePose pose,
        (Vector3 Min, Vector3 Max) bounds,
        float imageAspectRatio,
        int cameraIndex,
        SharedMeshGeometry[]? shared = null)
    {
        if (shared is not null && scene.SharedMeshes.Length > 0)
        {
            return InstancedSceneBuilder.Build(scene, pose, bounds, imageAspectRatio, cameraIndex, shared);
        }

        if (scene.TriangleCount > SceneLimits.MaxTriangles)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{scene.Name}' flattened draws {scene.TriangleCount} triangles; the limit is {SceneLimits.MaxTriangles}."));
        }

        (Vector3[] vertices, GpuTriangleShading[] shading, uint[] materials) = MeshFlattener.Flatten(scene, pose);
        Matrix4x4[] world = pose.World;
        Bvh bvh = Bvh.Build(vertices);
        var triangles = new GpuTriangle[bvh.TriangleOrder.Length];
        var orderedShading = new GpuTriangleShading[triangles.Length];
        WriteInBvhOrder(bvh.TriangleOrder, vertices, shading, materials, triangles, orderedShading);

        GpuEmitter[] emitters = LightPacker.BuildEmitters(scene.Materials, triangles);
        GpuLight[] lights = LightPacker.BuildLights(scene.Lights, world);
        GpuFrameParams frame = CameraPacker.BuildCamera(scene.Cameras, world, bounds, imageAspectRatio, cameraIndex);
        frame.EmitterCount = (uint)emitters.Length;
        frame.LightCount = (uint)lights.Length;
        return new GpuSceneData
        {
            Nodes = bvh.Nodes,
            Triangles = triangles,
            Shading = orderedShading,
            Materials = scene.Materials,
            Textures = scene.Textures,
            Texels = scene.Texels,
            Emitters = emitters,
            Lights = lights,
            FrameParams = frame,
        };
    }

    /// <summary>The bounds of every drawn vertex of <paramref name="scene"/> in <paramref name="pose"/>.</summary>
    public static (Vector3 Min, Vector3 Max) Bounds(SceneDescription scene, ScenePose pose)
    {
        var min = new Vector3(float.PositiveInfinity);
        var max = new Vector3(float.NegativeInfinity);
        bool[]? flatten = scene.SharedMeshes.Length == 0 ? null : Array.ConvertAll(scene.Nodes, n => n.SharedMesh < 0);
        foreach (Vector3 p in MeshFlattener.Flatten(scene, pose, flatten).Vertices)
        {
            min = Vector3.Min(min, p);
            max = Vector3.Max(max, p);
        }

        // Shared meshes' vertices as flattening would place them (a rigid node's world matrix), without storing them.
        for (int i = 0; flatten is not null && i < scene.Nodes.Length; i++)
        {
            if (flatten[i])
            {
                continue;
            }

            Matrix4x4 m = pose.World[i];
            foreach (MeshPart part in scene.Nodes[i].Parts)
            {
                foreach (int index in part.Indices)
                {
                    Vector3 p = Vector3.Transform(part.Positions[index], m);
                    min = Vector3.Min(min, p);
                    max = Vector3.Max(max, p);
                }
            }
        }

        return (min, max);
    }

    /// <summary>
    /// Writes flattened triangles (three vertices each) and their shading into the order a BVH build chose, from the
    /// start of the destination arrays.
    /// </summary>
    internal static void WriteInBvhOrder(
        int[] order,
        Vector3[] vertices,
        GpuTriangleShading[] shading,
        uint[] materials,
        GpuTriangle[] triangles,
        GpuTriangleShading[] orderedShading)
    {
        for (int i = 0; i < order.Length; i++)
        {
            int source = order[i];
            triangles[i] = new GpuTriangle
            {
                V0 = vertices[3 * source],
                V1 = vertices[(3 * source) + 1],
                V2 = vertices[(3 * source) + 2],
                Material = materials[source],
            };
            orderedShading[i] = shading[source];
        }
    }
}
