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
/// and lines are skipped. Only TEXCOORD_0 is read; a texture that names another set is sampled with TEXCOORD_0.
/// A mesh used by several nodes is read once and drawn once per node instance.</para>
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

        var nodes = new List<SceneNode>();
        var cameras = new List<CameraInfo>();
        var lights = new List<LightInfo>();
        var meshes = new Dictionary<int, MeshPart[]>();
        long triangleCount = 0;
        global::SharpGLTF.Schema2.Scene? scene = model.DefaultScene ?? (model.LogicalScenes.Count > 0 ? model.LogicalScenes[0] : null);
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
                parts = ImportMesh(mesh, materials, defaultMaterial, displayName);
                meshes.Add(mesh.LogicalIndex, parts);
            }

            foreach (MeshPart part in parts)
            {
                triangleCount = checked(triangleCount + (part.Indices.Length / 3));
            }

            if (triangleCount > SceneLimits.MaxTriangles)
            {
                throw new UserInputException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{displayName}' draws at least {triangleCount} triangles (counting each node that uses a mesh); the limit is {SceneLimits.MaxTriangles}."));
            }

            nodes.Add(new SceneNode(parent, node.LogicalIndex, node.LocalMatrix, parts));
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
            TriangleCount = (int)triangleCount,
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

    private static MeshPart[] ImportMesh(Mesh mesh, GpuMaterial[] materials, uint defaultMaterial, string displayName)
    {
        var parts = new List<MeshPart>();
        foreach (MeshPrimitive primitive in mesh.Primitives)
        {
            if (primitive.DrawPrimitiveType is not (PrimitiveType.TRIANGLES or PrimitiveType.TRIANGLE_STRIP or PrimitiveType.TRIANGLE_FAN)
                || primitive.GetVertexAccessor("POSITION") is not Accessor positionAccessor)
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

            Vector3[]? normals = primitive.GetVertexAccessor("NORMAL") is Accessor n ? ToArray(n.AsVector3Array()) : null;
            Vector4[]? tangents = primitive.GetVertexAccessor("TANGENT") is Accessor t ? ToArray(t.AsVector4Array()) : null;
            Vector2[]? uvs = primitive.GetVertexAccessor("TEXCOORD_0") is Accessor uv ? ToArray(uv.AsVector2Array()) : null;

            // Attributes of the wrong length are invalid glTF; drop them rather than read past their end.
            normals = normals?.Length == positions.Length ? normals : null;
            tangents = tangents?.Length == positions.Length ? tangents : null;
            uvs = uvs?.Length == positions.Length ? uvs : null;

            uint material = primitive.Material is Material m ? (uint)m.LogicalIndex : defaultMaterial;
            bool generateTangents = tangents is null && uvs is not null && materials[material].NormalTexture >= 0;
            parts.Add(new MeshPart([.. indices], positions, normals, tangents, uvs, material, generateTangents));
        }

        return [.. parts];
    }

    private static T[] ToArray<T>(IList<T> source)
    {
        var result = new T[source.Count];
        source.CopyTo(result, 0);
        return result;
    }

    private static CameraInfo ImportCamera(Camera camera, Node node, int nodeIndex, int ordinal)
    {
        string name = !string.IsNullOrEmpty(camera.Name) ? camera.Name
            : !string.IsNullOrEmpty(node.Name) ? node.Name
            : $"Camera {ordinal}";
        return camera.Settings switch
        {
            CameraOrthographic orthographic => new CameraInfo(name, nodeIndex, true, 0, orthographic.YMag),
            CameraPerspective perspective => new CameraInfo(name, nodeIndex, false, perspective.VerticalFOV, 0, perspective.AspectRatio),
            _ => new CameraInfo(name, nodeIndex, false, DefaultVerticalFov, 0),
        };
    }
}
