using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Decides which meshes are stored once and drawn through instances (a two-level BVH) and which are flattened to world
/// space per frame, and holds what that stores and transforms to the scene budgets.
/// </summary>
internal static class MeshSharing
{
    // Marks the node instances whose mesh is shared (SceneNode.SharedMesh) and holds what is stored and transformed per
    // frame to the budgets: a shared mesh counts once, every other use once per node instance.
    public static (MeshPart[][] Shared, int FlattenedTriangles) Share(
        string displayName,
        List<SceneNode> nodes,
        List<int> meshOf,
        Dictionary<int, MeshPart[]> meshes,
        Dictionary<int, int> meshUses,
        HashSet<int> unshareable,
        GpuMaterial[] materials)
    {
        var sharedIndex = new Dictionary<int, int>();
        var shared = new List<MeshPart[]>();
        long instances = 0;
        long stored = 0;
        long flattened = 0;
        long vertices = 0;
        for (int i = 0; i < nodes.Count; i++)
        {
            int mesh = meshOf[i];
            if (mesh < 0)
            {
                continue;
            }

            MeshPart[] parts = meshes[mesh];
            if (!sharedIndex.TryGetValue(mesh, out int index) && IsShareable(mesh, parts, meshUses, unshareable, materials))
            {
                index = shared.Count;
                shared.Add(parts);
                sharedIndex.Add(mesh, index);
                foreach (MeshPart part in parts)
                {
                    stored += part.Indices.Length / 3;
                    vertices += part.Positions.Length;
                }
            }

            if (sharedIndex.ContainsKey(mesh))
            {
                nodes[i] = nodes[i] with { SharedMesh = sharedIndex[mesh] };
                instances++;
                continue;
            }

            foreach (MeshPart part in parts)
            {
                stored += part.Indices.Length / 3;
                flattened += part.Indices.Length / 3;
                vertices += part.Positions.Length;
            }
        }

        ImportGuards.CheckBudget(displayName, "mesh instances", instances, SceneLimits.MaxInstances);
        if (stored > SceneLimits.MaxTriangles)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{displayName}' stores {stored} triangles (each node's mesh once per node, a shared static mesh once); the limit is {SceneLimits.MaxTriangles}."));
        }

        ImportGuards.CheckBudget(displayName, "vertices transformed per frame (each node's mesh once per node, a shared static mesh once)", vertices, SceneLimits.MaxVerticesPerFrame);
        return ([.. shared], (int)flattened);
    }

    // Several uses, none skinned, no morph targets, and no emissive material: next-event estimation samples emitters as
    // world-space triangles, so a mesh that emits stays flattened.
    private static bool IsShareable(int mesh, MeshPart[] parts, Dictionary<int, int> meshUses, HashSet<int> unshareable, GpuMaterial[] materials) =>
        meshUses[mesh] >= 2
        && !unshareable.Contains(mesh)
        && parts.All(p => p.Targets is null && p.Joints is null && !Emits(materials[p.Material]));

    private static bool Emits(in GpuMaterial m) => m.Emissive.X > 0 || m.Emissive.Y > 0 || m.Emissive.Z > 0;
}
