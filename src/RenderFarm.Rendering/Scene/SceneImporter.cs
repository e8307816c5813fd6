using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Reads a parsed glTF file into a <see cref="SceneDescription"/>: walks the default scene's node tree and reads its
/// cameras and lights; meshes through <see cref="MeshImporter"/>, materials through <see cref="MaterialImporter"/>,
/// skins through <see cref="SkinImporter"/>, and which meshes are stored once through <see cref="MeshSharing"/>.
/// </summary>
/// <remarks>
/// <para>Geometry: TRIANGLES primitives, plus TRIANGLE_STRIP and TRIANGLE_FAN converted to triangle lists; points
/// and lines are skipped. TEXCOORD_0 and TEXCOORD_1 are read (a texture that names a later set is sampled with
/// TEXCOORD_0), and COLOR_0.
/// A mesh used by several nodes is read once and drawn once per node instance. A mesh drawn by several node instances
/// that none of them skins, without morph targets and without emissive materials, is shared: stored once in its own
/// space and drawn through instances of a two-level BVH (<see cref="GpuSceneBuilder"/>); every other use is flattened
/// to world space per frame.</para>
/// </remarks>
internal static class SceneImporter
{
    /// <summary>Vertical field of view of a camera that states none, and of the default camera.</summary>
    public const float DefaultVerticalFov = 40f * MathF.PI / 180f;

    // Photometric to radiometric conversion used by Blender's glTF importer (lm/W at 555 nm).
    private const float LumensPerWatt = 683f;

    /// <summary>Reads the default scene of <paramref name="model"/>.</summary>
    /// <param name="model">The parsed file.</param>
    /// <param name="displayName">The file's name, for messages.</param>
    /// <param name="name">The scene's name.</param>
    /// <exception cref="UserInputException">The scene exceeds a budget or has no triangles.</exception>
    public static SceneDescription Import(ModelRoot model, string displayName, string name)
    {
        var textures = new TexturePacker(displayName);
        var materials = new GpuMaterial[model.LogicalMaterials.Count + 1];
        for (int i = 0; i < model.LogicalMaterials.Count; i++)
        {
            materials[i] = MaterialImporter.Import(model.LogicalMaterials[i], textures);
        }

        uint defaultMaterial = (uint)model.LogicalMaterials.Count;
        materials[defaultMaterial] = MaterialImporter.DefaultMaterial;

        AnimationEvaluator animation = AnimationEvaluator.Import(model);
        var report = new SceneReport();
        ReportExtensions(model, report);

        var nodes = new List<SceneNode>();
        var instanceOf = new Dictionary<int, int>();
        var skinned = new List<(Node Node, int Instance)>();
        var cameras = new List<CameraInfo>();
        var lights = new List<LightInfo>();
        var meshes = new Dictionary<int, MeshPart[]>();
        var meshOf = new List<int>();
        var meshUses = new Dictionary<int, int>();
        var unshareable = new HashSet<int>();
        long triangleCount = 0;
        long morphDeltaCount = 0;
        global::SharpGLTF.Schema2.Scene? scene = model.DefaultScene ?? (model.LogicalScenes.Count > 0 ? model.LogicalScenes[0] : null);
        if (model.LogicalScenes.Count > 1)
        {
            report.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{model.LogicalScenes.Count - 1} scene(s) besides the default one are not drawn."));
        }

        var pending = new Stack<(Node Node, int Parent)>();
        if (scene is not null)
        {
            PushChildren(pending, scene.VisualChildren, -1);
        }

        while (pending.Count > 0)
        {
            (Node node, int parent) = pending.Pop();
            int index = nodes.Count;

            // A node reached through several parents is drawn once per path; the tree's size is bounded, not just the file's.
            if (index >= SceneLimits.MaxNodes)
            {
                throw new UserInputException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{displayName}' has more than {SceneLimits.MaxNodes} node instances in its scene tree; the limit is {SceneLimits.MaxNodes}."));
            }

            MeshPart[] parts = [];
            if (node.Mesh is Mesh mesh && !meshes.TryGetValue(mesh.LogicalIndex, out parts!))
            {
                parts = MeshImporter.Import(mesh, materials, defaultMaterial, displayName, report);
                meshes.Add(mesh.LogicalIndex, parts);
            }

            // Triangles drawn, every instance counted, are bounded as the file is walked; what is stored and transformed per
            // frame depends on which meshes are shared, known once the walk ends (the walk itself allocates per node only).
            // A mesh with morph targets is never shared, so its displacements are counted per node here.
            foreach (MeshPart part in parts)
            {
                triangleCount = checked(triangleCount + (part.Indices.Length / 3));
                morphDeltaCount = checked(morphDeltaCount + ((long)part.Positions.Length * (part.Targets?.Length ?? 0)));
            }

            if (triangleCount > SceneLimits.MaxInstancedTriangles)
            {
                throw new UserInputException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{displayName}' draws at least {triangleCount} triangles (counting each node that uses a mesh); the limit is {SceneLimits.MaxInstancedTriangles}."));
            }

            ImportGuards.CheckBudget(displayName, "morph target displacements applied per frame (vertices times targets, per node)", morphDeltaCount, SceneLimits.MaxMorphDisplacementsPerFrame);

            instanceOf.TryAdd(node.LogicalIndex, index);
            int skin = -1;
            if (node.Skin is not null && parts.Any(p => p.Joints is not null))
            {
                skin = skinned.Count;
                skinned.Add((node, index));
            }

            nodes.Add(new SceneNode(parent, node.LogicalIndex, node.LocalMatrix, parts, skin, RestWeights(node, parts)));
            int meshIndex = parts.Length > 0 ? node.Mesh!.LogicalIndex : -1;
            meshOf.Add(meshIndex);
            if (meshIndex >= 0)
            {
                meshUses[meshIndex] = meshUses.GetValueOrDefault(meshIndex) + 1;
                if (skin >= 0)
                {
                    unshareable.Add(meshIndex);
                }
            }
            if (node.Camera is Camera camera)
            {
                cameras.Add(ImportCamera(camera, node, index, cameras.Count));
            }

            if (node.PunctualLight is PunctualLight light)
            {
                lights.Add(new LightInfo(
                    index,
                    light.LightType,
                    light.Color * light.Intensity / LumensPerWatt,
                    float.IsFinite(light.Range) && light.Range > 0 ? light.Range : 0,
                    MathF.Cos(light.InnerConeAngle),
                    MathF.Cos(light.OuterConeAngle)));
            }

            PushChildren(pending, node.VisualChildren, index);
        }

        if (triangleCount == 0)
        {
            throw new UserInputException($"'{displayName}' has no triangles in its default scene.");
        }

        SkinInfo[] skins = SkinImporter.Import(skinned, nodes, instanceOf, displayName);
        (MeshPart[][] shared, int flattenedTriangles) = MeshSharing.Share(displayName, nodes, meshOf, meshes, meshUses, unshareable, materials);
        return new SceneDescription
        {
            Name = name,
            Nodes = [.. nodes],
            Cameras = [.. cameras],
            Lights = [.. lights],
            Materials = materials,
            Textures = textures.Textures,
            Texels = textures.Texels(),
            Animation = animation,
            Skins = skins,
            TriangleCount = (int)triangleCount,
            SharedMeshes = shared,
            FlattenedTriangleCount = flattenedTriangles,
            Unsupported = report.ToList(),
        };
    }

    // Pushes in reverse so nodes pop depth first in document order.
    private static void PushChildren(Stack<(Node Node, int Parent)> pending, IEnumerable<Node> children, int parent)
    {
        var list = new List<Node>(children);
        for (int i = list.Count - 1; i >= 0; i--)
        {
            pending.Push((list[i], parent));
        }
    }

    // The node's weights when it has as many as the mesh has targets, else the mesh's, else zeros (glTF 2.0, 3.7.2.2).
    private static float[] RestWeights(Node node, MeshPart[] parts)
    {
        int count = 0;
        foreach (MeshPart part in parts)
        {
            count = Math.Max(count, part.Targets?.Length ?? 0);
        }

        var weights = new float[count];
        if (count == 0)
        {
            return weights;
        }

        IReadOnlyList<float> source = node.MorphWeights is { Count: > 0 } own ? own : node.Mesh?.MorphWeights ?? [];
        for (int i = 0; i < count && i < source.Count; i++)
        {
            weights[i] = float.IsFinite(source[i]) ? source[i] : 0;
        }

        return weights;
    }

    private static void ReportExtensions(ModelRoot model, SceneReport report)
    {
        foreach (string extension in model.ExtensionsUsed)
        {
            if (!SupportedFeatures.Extensions.Contains(extension))
            {
                report.Add($"extension '{ImportGuards.Shorten(extension)}' is not supported; what it adds is not drawn.");
            }
        }
    }

    private static CameraInfo ImportCamera(Camera camera, Node node, int nodeIndex, int ordinal)
    {
        // Control characters become '?', so a name always prints on one line.
        string name = !string.IsNullOrEmpty(camera.Name) ? ImportGuards.WithoutControls(camera.Name)
            : !string.IsNullOrEmpty(node.Name) ? ImportGuards.WithoutControls(node.Name)
            : $"Camera {ordinal}";
        return camera.Settings switch
        {
            CameraOrthographic orthographic => new CameraInfo(name, nodeIndex, true, 0, orthographic.YMag),
            CameraPerspective perspective => new CameraInfo(name, nodeIndex, false, perspective.VerticalFOV, 0, perspective.AspectRatio),
            _ => new CameraInfo(name, nodeIndex, false, DefaultVerticalFov, 0),
        };
    }
}
