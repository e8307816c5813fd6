using System.Globalization;
using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Schema2;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Reads a parsed glTF file into a <see cref="SceneDescription"/>: the default scene's node tree, the triangle
/// primitives of its meshes, its cameras and lights; materials through <see cref="MaterialImporter"/>.
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
                parts = ImportMesh(mesh, materials, defaultMaterial, displayName, report);
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

            CheckBudget(displayName, "morph target displacements applied per frame (vertices times targets, per node)", morphDeltaCount, SceneLimits.MaxMorphDisplacementsPerFrame);

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

        SkinInfo[] skins = ImportSkins(skinned, nodes, instanceOf, displayName);
        (MeshPart[][] shared, int flattenedTriangles) = ShareMeshes(displayName, nodes, meshOf, meshes, meshUses, unshareable, materials);
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

    // Marks the node instances whose mesh is shared (SceneNode.SharedMesh) and holds what is stored and transformed per
    // frame to the budgets: a shared mesh counts once, every other use once per node instance.
    private static (MeshPart[][] Shared, int FlattenedTriangles) ShareMeshes(
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

        CheckBudget(displayName, "mesh instances", instances, SceneLimits.MaxInstances);
        if (stored > SceneLimits.MaxTriangles)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{displayName}' stores {stored} triangles (each node's mesh once per node, a shared static mesh once); the limit is {SceneLimits.MaxTriangles}."));
        }

        CheckBudget(displayName, "vertices transformed per frame (each node's mesh once per node, a shared static mesh once)", vertices, SceneLimits.MaxVerticesPerFrame);
        return ([.. shared], (int)flattened);
    }

    // Several uses, none skinned, no morph targets, and no emissive material: next-event estimation samples emitters as
    // world-space triangles, so a mesh that emits stays flattened.
    private static bool IsShareable(int mesh, MeshPart[] parts, Dictionary<int, int> meshUses, HashSet<int> unshareable, GpuMaterial[] materials) =>
        meshUses[mesh] >= 2
        && !unshareable.Contains(mesh)
        && parts.All(p => p.Targets is null && p.Joints is null && !Emits(materials[p.Material]));

    private static bool Emits(in GpuMaterial m) => m.Emissive.X > 0 || m.Emissive.Y > 0 || m.Emissive.Z > 0;

    // Pushes in reverse so nodes pop depth first in document order.
    private static void PushChildren(Stack<(Node Node, int Parent)> pending, IEnumerable<Node> children, int parent)
    {
        var list = new List<Node>(children);
        for (int i = list.Count - 1; i >= 0; i--)
        {
            pending.Push((list[i], parent));
        }
    }

    private static MeshPart[] ImportMesh(Mesh mesh, GpuMaterial[] materials, uint defaultMaterial, string displayName, SceneReport report)
    {
        string meshName = string.IsNullOrEmpty(mesh.Name)
            ? string.Create(CultureInfo.InvariantCulture, $"mesh {mesh.LogicalIndex}")
            : $"mesh '{Shorten(mesh.Name)}'";
        var parts = new List<MeshPart>();
        foreach (MeshPrimitive primitive in mesh.Primitives)
        {
            if (primitive.DrawPrimitiveType is not (PrimitiveType.TRIANGLES or PrimitiveType.TRIANGLE_STRIP or PrimitiveType.TRIANGLE_FAN))
            {
                report.Add($"{meshName} has {primitive.DrawPrimitiveType} primitives; points and lines are not drawn.");
                continue;
            }

            if (primitive.GetVertexAccessor("POSITION") is not Accessor positionAccessor)
            {
                continue;
            }

            Vector3[] positions = ToArray(positionAccessor.AsVector3Array());
            var indices = new List<int>();
            foreach ((int a, int b, int c) in primitive.GetTriangleIndices())
            {
                if ((uint)a >= (uint)positions.Length || (uint)b >= (uint)positions.Length || (uint)c >= (uint)positions.Length)
                {
                    throw new UserInputException(
                        $"'{displayName}' is not a valid glTF file: mesh {mesh.LogicalIndex} has a vertex index past its {positions.Length} vertices.");
                }

                indices.Add(a);
                indices.Add(b);
                indices.Add(c);
            }

            if (indices.Count == 0)
            {
                continue;
            }

            ReportAttributes(primitive, meshName, report);
            Vector3[]? normals = primitive.GetVertexAccessor("NORMAL") is Accessor n ? ToArray(n.AsVector3Array()) : null;
            Vector4[]? tangents = primitive.GetVertexAccessor("TANGENT") is Accessor t ? ToArray(t.AsVector4Array()) : null;
            Vector2[]? uvs = primitive.GetVertexAccessor("TEXCOORD_0") is Accessor uv ? ToArray(uv.AsVector2Array()) : null;
            Vector2[]? uvs1 = primitive.GetVertexAccessor("TEXCOORD_1") is Accessor uv1 ? ToArray(uv1.AsVector2Array()) : null;
            Vector4[]? colors = primitive.GetVertexAccessor("COLOR_0") is Accessor color ? ToArray(color.AsColorArray()) : null;

            // Attributes of the wrong length are invalid glTF; drop them rather than read past their end.
            normals = normals?.Length == positions.Length ? normals : null;
            tangents = tangents?.Length == positions.Length ? tangents : null;
            uvs = uvs?.Length == positions.Length ? uvs : null;
            uvs1 = uvs1?.Length == positions.Length ? uvs1 : null;
            colors = colors?.Length == positions.Length ? colors : null;

            uint material = primitive.Material is Material m ? (uint)m.LogicalIndex : defaultMaterial;
            bool generateTangents = tangents is null && uvs is not null && materials[material].NormalTexture >= 0;
            (int[]? joints, Vector4[]? weights, int maxJoint) = ImportInfluences(primitive, positions.Length, displayName, meshName);
            MorphTarget[]? targets = ImportTargets(primitive, positions.Length, displayName, meshName, report);
            parts.Add(new MeshPart([.. indices], positions, normals, tangents, uvs, material, generateTangents, joints, weights, targets)
            {
                MaxJoint = maxJoint,
                Uvs1 = uvs1,
                Colors = colors,
            });
        }

        return [.. parts];
    }

    // JOINTS_0 and WEIGHTS_0 together, weights normalised so their sum is 1 (exporters round them); a vertex whose
    // weights are all zero is left all zero and follows the skinned node rigidly.
    private static (int[]? Joints, Vector4[]? Weights, int MaxJoint) ImportInfluences(
        MeshPrimitive primitive, int vertexCount, string displayName, string meshName)
    {
        if (primitive.GetVertexAccessor("JOINTS_0") is not Accessor jointAccessor
            || primitive.GetVertexAccessor("WEIGHTS_0") is not Accessor weightAccessor)
        {
            return (null, null, -1);
        }

        IList<Vector4> jointValues = jointAccessor.AsVector4Array();
        IList<Vector4> weightValues = weightAccessor.AsVector4Array();
        if (jointValues.Count != vertexCount || weightValues.Count != vertexCount)
        {
            throw new UserInputException(
                $"'{displayName}' is not a valid glTF file: {meshName} has JOINTS_0 or WEIGHTS_0 of another length than its {vertexCount} vertices.");
        }

        var joints = new int[4 * vertexCount];
        var weights = new Vector4[vertexCount];
        int maxJoint = -1;
        for (int v = 0; v < vertexCount; v++)
        {
            Vector4 j = jointValues[v];
            Vector4 w = Vector4.Max(weightValues[v], Vector4.Zero);
            float sum = w.X + w.Y + w.Z + w.W;
            weights[v] = sum > 0 && float.IsFinite(sum) ? w / sum : Vector4.Zero;
            ReadOnlySpan<float> components = [j.X, j.Y, j.Z, j.W];
            for (int k = 0; k < 4; k++)
            {
                float value = components[k];
                if (!(value >= 0 && value < SceneLimits.MaxJointsPerSkin) || value != MathF.Floor(value))
                {
                    throw new UserInputException(
                        $"'{displayName}' is not a valid glTF file: {meshName} names a joint that is not a whole number below {SceneLimits.MaxJointsPerSkin}.");
                }

                joints[(4 * v) + k] = (int)value;
                maxJoint = Math.Max(maxJoint, (int)value);
            }
        }

        return (joints, weights, maxJoint);
    }

    private static MorphTarget[]? ImportTargets(MeshPrimitive primitive, int vertexCount, string displayName, string meshName, SceneReport report)
    {
        int count = primitive.MorphTargetsCount;
        if (count == 0)
        {
            return null;
        }

        if (count > SceneLimits.MaxMorphTargetsPerPrimitive)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{displayName}': {meshName} has {count} morph targets in one primitive; the limit is {SceneLimits.MaxMorphTargetsPerPrimitive}."));
        }

        var targets = new MorphTarget[count];
        for (int i = 0; i < count; i++)
        {
            IReadOnlyDictionary<string, Accessor> accessors = primitive.GetMorphTargetAccessors(i);
            Vector3[]? Read(string attribute)
            {
                if (!accessors.TryGetValue(attribute, out Accessor? accessor))
                {
                    return null;
                }

                Vector3[] values = ToArray(accessor.AsVector3Array());
                return values.Length == vertexCount ? values : throw new UserInputException(
                    $"'{displayName}' is not a valid glTF file: {meshName} has a morph target {attribute} of another length than its {vertexCount} vertices.");
            }

            foreach (string attribute in accessors.Keys)
            {
                if (attribute is not ("POSITION" or "NORMAL" or "TANGENT"))
                {
                    report.Add($"{meshName} has morph target {Shorten(attribute)} displacements; only POSITION, NORMAL and TANGENT are morphed.");
                }
            }

            targets[i] = new MorphTarget(Read("POSITION"), Read("NORMAL"), Read("TANGENT"));
        }

        return targets;
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

    private static SkinInfo[] ImportSkins(List<(Node Node, int Instance)> skinned, List<SceneNode> nodes, Dictionary<int, int> instanceOf, string displayName)
    {
        var skins = new SkinInfo[skinned.Count];
        for (int s = 0; s < skins.Length; s++)
        {
            Skin skin = skinned[s].Node.Skin;
            int count = skin.JointsCount;
            if (count > SceneLimits.MaxJointsPerSkin)
            {
                throw new UserInputException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{displayName}' has a skin of {count} joints; the limit is {SceneLimits.MaxJointsPerSkin}."));
            }

            foreach (MeshPart part in nodes[skinned[s].Instance].Parts)
            {
                if (part.MaxJoint >= count)
                {
                    throw new UserInputException(string.Create(
                        CultureInfo.InvariantCulture,
                        $"'{displayName}' is not a valid glTF file: a vertex names joint {part.MaxJoint} of skin {skin.LogicalIndex}, which has {count}."));
                }
            }

            IReadOnlyList<Node> joints = skin.Joints;
            IReadOnlyList<Matrix4x4> inverseBind = skin.InverseBindMatrices;
            var jointInstances = new int[count];
            var matrices = new Matrix4x4[count];
            for (int j = 0; j < count; j++)
            {
                // A joint outside the default scene has no pose this renderer evaluates.
                if (!instanceOf.TryGetValue(joints[j].LogicalIndex, out jointInstances[j]))
                {
                    throw new UserInputException(string.Create(
                        CultureInfo.InvariantCulture,
                        $"'{displayName}': joint {j} of skin {skin.LogicalIndex} (node {joints[j].LogicalIndex}) is not in the default scene, so the skin cannot be posed."));
                }

                matrices[j] = j < inverseBind.Count ? inverseBind[j] : Matrix4x4.Identity;
            }

            skins[s] = new SkinInfo(jointInstances, matrices);
        }

        return skins;
    }

    private static void ReportExtensions(ModelRoot model, SceneReport report)
    {
        foreach (string extension in model.ExtensionsUsed)
        {
            if (!SupportedFeatures.Extensions.Contains(extension))
            {
                report.Add($"extension '{Shorten(extension)}' is not supported; what it adds is not drawn.");
            }
        }
    }

    private static void ReportAttributes(MeshPrimitive primitive, string meshName, SceneReport report)
    {
        foreach (string attribute in primitive.VertexAccessors.Keys)
        {
            string? line = attribute switch
            {
                _ when attribute.StartsWith("TEXCOORD_", StringComparison.Ordinal)
                    && (!int.TryParse(attribute.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out int set) || set >= SupportedFeatures.TexCoordSets)
                    => SupportedFeatures.TexCoordSets == 1
                        ? $"{meshName} has {Shorten(attribute)}; only TEXCOORD_0 is read."
                        : string.Create(CultureInfo.InvariantCulture, $"{meshName} has {Shorten(attribute)}; only TEXCOORD_0 to TEXCOORD_{SupportedFeatures.TexCoordSets - 1} are read."),
                _ when attribute.StartsWith("COLOR_", StringComparison.Ordinal) && !(SupportedFeatures.VertexColors && attribute == "COLOR_0")
                    => SupportedFeatures.VertexColors ? $"{meshName} has {Shorten(attribute)}; only COLOR_0 is drawn." : $"{meshName} has {Shorten(attribute)}; vertex colours are not drawn.",
                _ when (attribute.StartsWith("JOINTS_", StringComparison.Ordinal) || attribute.StartsWith("WEIGHTS_", StringComparison.Ordinal))
                    && attribute is not ("JOINTS_0" or "WEIGHTS_0")
                    => $"{meshName} has {Shorten(attribute)}; only the four joint influences of JOINTS_0/WEIGHTS_0 are applied.",
                _ => null,
            };
            if (line is not null)
            {
                report.Add(line);
            }
        }
    }

    private static void CheckBudget(string displayName, string what, long value, long limit)
    {
        if (value > limit)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{displayName}' has at least {value} {what}; the limit is {limit}."));
        }
    }

    // Names come from the file: control characters (a newline would split a report line) become '?'.
    private static string Shorten(string text) => WithoutControls(text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "..."));

    private static string WithoutControls(string text) => string.Create(text.Length, text, (span, source) =>
    {
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = char.IsControl(source[i]) ? '?' : source[i];
        }
    });

    private static T[] ToArray<T>(IList<T> source)
    {
        var result = new T[source.Count];
        source.CopyTo(result, 0);
        return result;
    }

    private static CameraInfo ImportCamera(Camera camera, Node node, int nodeIndex, int ordinal)
    {
        // Control characters become '?', so a name always prints on one line.
        string name = !string.IsNullOrEmpty(camera.Name) ? WithoutControls(camera.Name)
            : !string.IsNullOrEmpty(node.Name) ? WithoutControls(node.Name)
            : $"Camera {ordinal}";
        return camera.Settings switch
        {
            CameraOrthographic orthographic => new CameraInfo(name, nodeIndex, true, 0, orthographic.YMag),
            CameraPerspective perspective => new CameraInfo(name, nodeIndex, false, perspective.VerticalFOV, 0, perspective.AspectRatio),
            _ => new CameraInfo(name, nodeIndex, false, DefaultVerticalFov, 0),
        };
    }
}
