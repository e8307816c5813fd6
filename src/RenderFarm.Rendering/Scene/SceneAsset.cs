using System.Globalization;
using System.Numerics;
using System.Text.Json;
using RenderFarm.Core;
using RenderFarm.Rendering.Acceleration;
using RenderFarm.Rendering.PathTracing;
using SharpGLTF.Animations;
using SharpGLTF.Schema2;
using SharpGLTF.Validation;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// A glTF 2.0 scene loaded once and turned into GPU buffers per frame.
/// </summary>
/// <remarks>
/// <para>Geometry: TRIANGLES primitives, plus TRIANGLE_STRIP and TRIANGLE_FAN converted to triangle
/// lists; points and lines are skipped. Skins and morph targets are ignored (the mesh is drawn in its
/// static pose under its node's transform). Only TEXCOORD_0 is read; a texture that names another set
/// is sampled with TEXCOORD_0. Triangles are emitted so that cross(V1 − V0, V2 − V0) points to the
/// front side: nodes whose world transform mirrors (negative determinant) are re-wound.</para>
/// <para>Normals: vertex normals when present, otherwise the flat face normal repeated on all three
/// vertices. Tangents: vertex tangents when present; otherwise, for materials with a normal texture,
/// per-triangle tangents from the UV gradient, orthogonalised against each vertex normal, with
/// w = +1 when the bitangent cross(N, T) points along decreasing glTF v (the MikkTSpace/Blender
/// convention); where UVs are absent or degenerate the tangents stay zero.</para>
/// <para>Animation: translation, rotation and scale channels of all animations play together (a later
/// animation wins when two drive the same property); each channel holds its first/last key outside
/// its key range.</para>
/// </remarks>
public sealed class SceneAsset
{
    private const float DefaultVerticalFov = 40f * MathF.PI / 180f;

    // Photometric to radiometric conversion used by Blender's glTF importer (lm/W at 555 nm).
    private const float LumensPerWatt = 683f;

    private readonly SceneNode[] _nodes;
    private readonly CameraInfo[] _cameras;
    private readonly LightInfo[] _lights;
    private readonly GpuMaterial[] _materials;
    private readonly GpuTexture[] _textures;
    private readonly uint[] _texels;
    private readonly Vector3 _boundsMin;
    private readonly Vector3 _boundsMax;

    private SceneAsset(
        string name,
        SceneNode[] nodes,
        CameraInfo[] cameras,
        LightInfo[] lights,
        GpuMaterial[] materials,
        TexturePacker textures,
        int triangleCount,
        double duration)
    {
        Name = name;
        _nodes = nodes;
        _cameras = cameras;
        _lights = lights;
        _materials = materials;
        _textures = textures.Textures;
        _texels = textures.Texels();
        TriangleCount = triangleCount;
        AnimationDurationSeconds = duration;
        CameraNames = Array.AsReadOnly(Array.ConvertAll(cameras, c => c.Name));
        (_boundsMin, _boundsMax) = Bounds(WorldMatrices(0));
    }

    /// <summary>The file name without its extension.</summary>
    public string Name { get; }

    /// <summary>The time of the last key of any animation, in seconds; 0 when nothing is animated.</summary>
    public double AnimationDurationSeconds { get; }

    /// <summary>Number of triangles drawn each frame.</summary>
    public int TriangleCount { get; }

    /// <summary>Number of KHR_lights_punctual lights in the default scene.</summary>
    public int LightCount => _lights.Length;

    /// <summary>
    /// Names of the cameras in the default scene's node tree, depth first in document order (the
    /// camera's name, else its node's, else "Camera N"). Empty when the file has none, in which case
    /// camera index 0 is a default camera framing the whole scene.
    /// </summary>
    public IReadOnlyList<string> CameraNames { get; }

    /// <summary>
    /// The width over height the camera was made for (glTF <c>aspectRatio</c>), or null when the scene has no camera or
    /// its camera does not say; an image of this aspect shows exactly the camera's view.
    /// </summary>
    public float? CameraAspectRatio(int cameraIndex = 0) =>
        cameraIndex >= 0 && cameraIndex < _cameras.Length && _cameras[cameraIndex].AspectRatio is { } aspect && CameraFit.IsUsableAspect(aspect) ? aspect : null;

    /// <summary>Loads a .glb or .gltf file (buffers and images external or embedded as data URIs).</summary>
    /// <param name="path">The file.</param>
    /// <param name="access">
    /// Which other files it may read: by default those it names inside its own folder; uploaded scenes
    /// (coordinator, workers) use <see cref="SceneFileAccess.SelfContained"/>. Nothing outside the scene's
    /// folder is ever opened (<see cref="SceneFileAccess"/>), and every count is held to <see cref="SceneLimits"/>.
    /// </param>
    /// <returns>The scene, with its textures decoded and packed.</returns>
    /// <exception cref="UserInputException">
    /// The file is missing, not glTF, broken, needs an unsupported extension, names a file outside its bundle,
    /// exceeds a budget, or has no triangles. The message names the file by its name only, never a local path.
    /// </exception>
    public static SceneAsset Load(string path, SceneFileAccess access = SceneFileAccess.Folder)
    {
        (ModelRoot model, string displayName) = ReadModel(path, access);
        try
        {
            return Import(model, displayName, Path.GetFileNameWithoutExtension(path));
        }
        catch (Exception ex) when (IsModelError(ex))
        {
            throw new UserInputException($"'{displayName}' is not a valid glTF file: {Brief(ex)}", ex);
        }
    }

    /// <summary>
    /// Packs a scene and the files it names into one self-contained binary glTF (.glb), the form a farm
    /// stores: a "glTF Separate" export (.gltf + .bin + textures) becomes one upload. The scene is read under
    /// the same rule and budgets as <see cref="Load"/> with <see cref="SceneFileAccess.Folder"/>.
    /// </summary>
    /// <param name="path">The .gltf or .glb file.</param>
    /// <returns>The .glb bytes.</returns>
    /// <exception cref="UserInputException">As for <see cref="Load"/>.</exception>
    public static byte[] PackAsGlb(string path)
    {
        (ModelRoot model, string displayName) = ReadModel(path, SceneFileAccess.Folder);
        try
        {
            using var stream = new MemoryStream();
            model.WriteGLB(stream);
            return stream.ToArray();
        }
        catch (Exception ex) when (IsModelError(ex))
        {
            throw new UserInputException($"'{displayName}' could not be packed into a .glb: {Brief(ex)}", ex);
        }
    }

    private static (ModelRoot Model, string DisplayName) ReadModel(string path, SceneFileAccess access)
    {
        ArgumentNullException.ThrowIfNull(path);
        string displayName = Path.GetFileName(path);
        if (!File.Exists(path))
        {
            throw new UserInputException($"Scene file '{path}' was not found.");
        }

        byte[] bytes;
        try
        {
            var file = new FileInfo(path);
            if (file.Length > SceneLimits.MaxBundleBytes)
            {
                throw new UserInputException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"'{displayName}' is {file.Length} bytes; the limit is {SceneLimits.MaxBundleBytes}."));
            }

            bytes = GltfPreflight.StripByteOrderMark(File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Scene file '{displayName}' could not be read.", ex);
        }

        var bundle = new SceneBundle(path, access);
        bool isBinary = GltfPreflight.Check(displayName, bytes, bundle);
        try
        {
            return (Read(bundle, bytes, isBinary), displayName);
        }
        catch (Exception ex) when (IsModelError(ex))
        {
            throw new UserInputException($"'{displayName}' is not a valid glTF file: {Brief(ex)}", ex);
        }
    }

    /// <summary>
    /// Poses the scene at <paramref name="timeSeconds"/>, flattens it to world space, builds the BVH
    /// and packs everything for the GPU. Width, height, seed, frame and max bounces are left 0.
    /// Materials, textures and texels are packed once at load and every frame returns the same
    /// arrays; treat them as read-only.
    /// </summary>
    /// <param name="timeSeconds">Animation time; times outside an animation's keys hold its end values.</param>
    /// <param name="imageAspectRatio">Image width divided by height.</param>
    /// <param name="cameraIndex">Index into <see cref="CameraNames"/>; 0 selects the default camera when there are none.</param>
    /// <returns>The frame's buffers.</returns>
    /// <exception cref="UserInputException">The camera index is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The time or aspect ratio is not finite, or the aspect ratio is not positive.</exception>
    public GpuSceneData BuildFrame(double timeSeconds, float imageAspectRatio, int cameraIndex = 0)
    {
        if (!double.IsFinite(timeSeconds))
        {
            throw new ArgumentOutOfRangeException(nameof(timeSeconds), timeSeconds, "Time must be finite.");
        }

        if (!(imageAspectRatio > 0) || !float.IsFinite(imageAspectRatio))
        {
            throw new ArgumentOutOfRangeException(nameof(imageAspectRatio), imageAspectRatio, "Aspect ratio must be positive and finite.");
        }

        if (cameraIndex < 0 || cameraIndex >= Math.Max(1, _cameras.Length))
        {
            throw new UserInputException(_cameras.Length == 0
                ? $"Camera {cameraIndex} does not exist: '{Name}' has no cameras, so only the default camera 0 can be used."
                : $"Camera {cameraIndex} does not exist: '{Name}' has {_cameras.Length} camera(s), numbered 0 to {_cameras.Length - 1}.");
        }

        Matrix4x4[] world = WorldMatrices((float)timeSeconds);
        var vertices = new Vector3[3 * TriangleCount];
        var shading = new GpuTriangleShading[TriangleCount];
        var materials = new uint[TriangleCount];
        int written = 0;
        for (int i = 0; i < _nodes.Length; i++)
        {
            foreach (MeshPart part in _nodes[i].Parts)
            {
                written = AppendPart(part, world[i], vertices, shading, materials, written);
            }
        }

        Bvh bvh = Bvh.Build(vertices);
        int[] order = bvh.TriangleOrder;
        var triangles = new GpuTriangle[TriangleCount];
        var orderedShading = new GpuTriangleShading[TriangleCount];
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

        GpuEmitter[] emitters = BuildEmitters(triangles);
        GpuLight[] lights = BuildLights(world);
        GpuFrameParams frame = BuildCamera(world, imageAspectRatio, cameraIndex);
        frame.EmitterCount = (uint)emitters.Length;
        frame.LightCount = (uint)lights.Length;
        return new GpuSceneData
        {
            Nodes = bvh.Nodes,
            Triangles = triangles,
            Shading = orderedShading,
            Materials = _materials,
            Textures = _textures,
            Texels = _texels,
            Emitters = emitters,
            Lights = lights,
            FrameParams = frame,
        };
    }

    private static ModelRoot Read(SceneBundle bundle, byte[] bytes, bool isBinary)
    {
        // Every external file is read through the bundle's rule; with no URI resolver, the reader never opens a path itself.
        ReadContext context = ReadContext.Create(bundle.Read);

        // TryFix accepts the small spec deviations common exporters produce but still rejects broken data.
        context.Validation = ValidationMode.TryFix;
        using var stream = new MemoryStream(bytes, writable: false);
        return isBinary ? context.ReadBinarySchema2(stream) : context.ReadTextSchema2(stream);
    }

    // Exceptions SharpGLTF raises for malformed content; anything else is a bug and propagates. Its JSON reader
    // answers a value of an unexpected type (a string where an enum belongs, an unknown accessor type) with
    // NotImplementedException, and its tangent repair a NaN with NotFiniteNumberException: those count only
    // when SharpGLTF itself threw them.
    private static bool IsModelError(Exception ex) => ex is ModelException or IOException or JsonException
        or InvalidDataException or ArgumentException or FormatException or InvalidOperationException
        or NotSupportedException or IndexOutOfRangeException or KeyNotFoundException
        || (ex is NotImplementedException or ArithmeticException
            && ex.TargetSite?.DeclaringType?.Namespace?.StartsWith("SharpGLTF", StringComparison.Ordinal) == true);

    private static string Brief(Exception ex) => ex switch
    {
        NotImplementedException => "a value has a type or form the glTF reader cannot interpret.",
        ArithmeticException => "a number is out of range or not finite.",
        _ => Brief(ex.Message),
    };

    private static string Brief(string message)
    {
        // SharpGLTF appends the file's generator ("Model generated by <...>") to its validation messages.
        int generator = message.IndexOf("Model generated by", StringComparison.Ordinal);
        string line = (generator > 0 ? message[..generator] : message).Split('\n', 2)[0].Trim();
        return line.Length <= 200 ? line : string.Concat(line.AsSpan(0, 197), "...");
    }

    private static SceneAsset Import(ModelRoot model, string displayName, string name)
    {
        var textures = new TexturePacker(displayName);
        var materials = new GpuMaterial[model.LogicalMaterials.Count + 1];
        for (int i = 0; i < model.LogicalMaterials.Count; i++)
        {
            materials[i] = MaterialImporter.Import(model.LogicalMaterials[i], textures);
        }

        uint defaultMaterial = (uint)model.LogicalMaterials.Count;
        materials[defaultMaterial] = MaterialImporter.DefaultMaterial;

        (Dictionary<int, NodeAnimation> animations, double duration) = ImportAnimations(model);

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

            nodes.Add(new SceneNode(parent, node.LocalMatrix, animations.GetValueOrDefault(node.LogicalIndex), parts));
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

        return new SceneAsset(name, [.. nodes], [.. cameras], [.. lights], materials, textures, (int)triangleCount, duration);
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

    private static (Dictionary<int, NodeAnimation> Animations, double Duration) ImportAnimations(ModelRoot model)
    {
        var result = new Dictionary<int, NodeAnimation>();
        double duration = 0;
        foreach (Animation animation in model.LogicalAnimations)
        {
            foreach (AnimationChannel channel in animation.Channels)
            {
                if (channel.TargetNode is not Node node)
                {
                    continue;
                }

                NodeAnimation Target()
                {
                    if (!result.TryGetValue(node.LogicalIndex, out NodeAnimation? target))
                    {
                        target = new NodeAnimation(node.LocalTransform.GetDecomposed());
                        result.Add(node.LogicalIndex, target);
                    }

                    return target;
                }

                switch (channel.TargetNodePath)
                {
                    case PropertyPath.translation when Track.Create(channel.GetTranslationSampler()) is Track<Vector3> translation:
                        Target().Translation = translation;
                        duration = Math.Max(duration, translation.End);
                        break;
                    case PropertyPath.rotation when Track.Create(channel.GetRotationSampler()) is Track<Quaternion> rotation:
                        Target().Rotation = rotation;
                        duration = Math.Max(duration, rotation.End);
                        break;
                    case PropertyPath.scale when Track.Create(channel.GetScaleSampler()) is Track<Vector3> scale:
                        Target().Scale = scale;
                        duration = Math.Max(duration, scale.End);
                        break;
                    case PropertyPath.weights:
                        // Morph weights are not drawn, but their keys still belong to the animation's length.
                        if (channel.GetMorphSampler() is IAnimationSampler<float[]> weights)
                        {
                            duration = Math.Max(duration, Track.KeyRange(weights).End);
                        }

                        break;
                    default:
                        break;
                }
            }
        }

        return (result, duration);
    }

    private Matrix4x4[] WorldMatrices(float time)
    {
        var world = new Matrix4x4[_nodes.Length];
        for (int i = 0; i < _nodes.Length; i++)
        {
            SceneNode node = _nodes[i];
            Matrix4x4 local = node.Animation?.Evaluate(time) ?? node.Local;

            // Row-vector convention: a child's local transform applies before its parent's.
            world[i] = node.Parent < 0 ? local : local * world[node.Parent];
        }

        return world;
    }

    private (Vector3 Min, Vector3 Max) Bounds(Matrix4x4[] world)
    {
        var min = new Vector3(float.PositiveInfinity);
        var max = new Vector3(float.NegativeInfinity);
        for (int i = 0; i < _nodes.Length; i++)
        {
            foreach (MeshPart part in _nodes[i].Parts)
            {
                foreach (int index in part.Indices)
                {
                    Vector3 p = Vector3.Transform(part.Positions[index], world[i]);
                    min = Vector3.Min(min, p);
                    max = Vector3.Max(max, p);
                }
            }
        }

        return (min, max);
    }

    private static int AppendPart(
        MeshPart part, Matrix4x4 world, Vector3[] vertices, GpuTriangleShading[] shading, uint[] materials, int written)
    {
        float det = world.GetDeterminant();
        Matrix4x4 normalMatrix = NormalMatrix(world, det);
        var positions = new Vector3[part.Positions.Length];
        for (int i = 0; i < positions.Length; i++)
        {
            positions[i] = Vector3.Transform(part.Positions[i], world);
        }

        Vector3[]? normals = null;
        if (part.Normals is Vector3[] localNormals)
        {
            normals = new Vector3[localNormals.Length];
            for (int i = 0; i < normals.Length; i++)
            {
                normals[i] = SafeNormalize(Vector3.TransformNormal(localNormals[i], normalMatrix));
            }
        }

        Vector4[]? tangents = null;
        if (part.Tangents is Vector4[] localTangents)
        {
            // A mirroring transform flips the bitangent's handedness.
            float handedness = det < 0 ? -1 : 1;
            tangents = new Vector4[localTangents.Length];
            for (int i = 0; i < tangents.Length; i++)
            {
                Vector4 t = localTangents[i];
                Vector3 xyz = SafeNormalize(Vector3.TransformNormal(new Vector3(t.X, t.Y, t.Z), world));
                tangents[i] = new Vector4(xyz, (t.W < 0 ? -1 : 1) * handedness);
            }
        }

        bool flip = det < 0;
        int[] indices = part.Indices;
        for (int k = 0; k < indices.Length; k += 3)
        {
            int a = indices[k];
            int b = flip ? indices[k + 2] : indices[k + 1];
            int c = flip ? indices[k + 1] : indices[k + 2];
            Vector3 p0 = positions[a];
            Vector3 p1 = positions[b];
            Vector3 p2 = positions[c];
            vertices[3 * written] = p0;
            vertices[(3 * written) + 1] = p1;
            vertices[(3 * written) + 2] = p2;
            materials[written] = part.Material;

            GpuTriangleShading s = default;
            if (normals is not null)
            {
                s.N0 = new Vector4(normals[a], 0);
                s.N1 = new Vector4(normals[b], 0);
                s.N2 = new Vector4(normals[c], 0);
            }
            else
            {
                var face = new Vector4(SafeNormalize(Vector3.Cross(p1 - p0, p2 - p0)), 0);
                s.N0 = s.N1 = s.N2 = face;
            }

            if (part.Uvs is Vector2[] uvs)
            {
                s.Uv01 = new Vector4(uvs[a].X, uvs[a].Y, uvs[b].X, uvs[b].Y);
                s.Uv2 = new Vector4(uvs[c].X, uvs[c].Y, 0, 0);
                if (part.GenerateTangents)
                {
                    GenerateTangents(ref s, p0, p1, p2, uvs[a], uvs[b], uvs[c]);
                }
            }

            if (tangents is not null)
            {
                s.T0 = tangents[a];
                s.T1 = tangents[b];
                s.T2 = tangents[c];
            }

            shading[written] = s;
            written++;
        }

        return written;
    }

    // Inverse transpose of the linear part, up to a positive scale: rows of the cofactor matrix with
    // the determinant's sign, which stays defined for singular (flattened) transforms.
    private static Matrix4x4 NormalMatrix(Matrix4x4 m, float det)
    {
        var r0 = new Vector3(m.M11, m.M12, m.M13);
        var r1 = new Vector3(m.M21, m.M22, m.M23);
        var r2 = new Vector3(m.M31, m.M32, m.M33);
        float sign = det < 0 ? -1 : 1;
        Vector3 c0 = Vector3.Cross(r1, r2) * sign;
        Vector3 c1 = Vector3.Cross(r2, r0) * sign;
        Vector3 c2 = Vector3.Cross(r0, r1) * sign;
        return new Matrix4x4(
            c0.X, c0.Y, c0.Z, 0,
            c1.X, c1.Y, c1.Z, 0,
            c2.X, c2.Y, c2.Z, 0,
            0, 0, 0, 1);
    }

    // Per-triangle tangent from the UV gradient; w = +1 when cross(N, T) runs along decreasing v.
    private static void GenerateTangents(ref GpuTriangleShading s, Vector3 p0, Vector3 p1, Vector3 p2, Vector2 uv0, Vector2 uv1, Vector2 uv2)
    {
        Vector3 e1 = p1 - p0;
        Vector3 e2 = p2 - p0;
        Vector2 d1 = uv1 - uv0;
        Vector2 d2 = uv2 - uv0;
        float r = (d1.X * d2.Y) - (d2.X * d1.Y);
        if (r == 0 || !float.IsFinite(r))
        {
            return;
        }

        Vector3 dpdu = ((e1 * d2.Y) - (e2 * d1.Y)) / r;
        Vector3 dpdv = ((e2 * d1.X) - (e1 * d2.X)) / r;
        s.T0 = Orthogonalize(s.N0, dpdu, dpdv);
        s.T1 = Orthogonalize(s.N1, dpdu, dpdv);
        s.T2 = Orthogonalize(s.N2, dpdu, dpdv);
    }

    private static Vector4 Orthogonalize(Vector4 normal4, Vector3 dpdu, Vector3 dpdv)
    {
        var normal = new Vector3(normal4.X, normal4.Y, normal4.Z);
        Vector3 tangent = SafeNormalize(dpdu - (normal * Vector3.Dot(normal, dpdu)));
        if (tangent == Vector3.Zero)
        {
            return Vector4.Zero;
        }

        float w = Vector3.Dot(Vector3.Cross(normal, tangent), dpdv) < 0 ? 1 : -1;
        return new Vector4(tangent, w);
    }

    private static Vector3 SafeNormalize(Vector3 v)
    {
        float length = v.Length();
        return length > 0 && float.IsFinite(length) ? v / length : Vector3.Zero;
    }

    private GpuEmitter[] BuildEmitters(GpuTriangle[] triangles)
    {
        var emitters = new List<GpuEmitter>();
        var weights = new List<double>();
        double total = 0;
        for (int i = 0; i < triangles.Length; i++)
        {
            Vector4 emissive = _materials[triangles[i].Material].Emissive;
            if (Math.Max(emissive.X, Math.Max(emissive.Y, emissive.Z)) <= 0)
            {
                continue;
            }

            ref readonly GpuTriangle t = ref triangles[i];
            float area = 0.5f * Vector3.Cross(t.V1 - t.V0, t.V2 - t.V0).Length();
            double weight = area * ((0.2126 * emissive.X) + (0.7152 * emissive.Y) + (0.0722 * emissive.Z));

            // A zero-area triangle can never be hit or sampled, so it does not emit.
            if (!(weight > 0) || !double.IsFinite(weight))
            {
                continue;
            }

            emitters.Add(new GpuEmitter { Triangle = (uint)i, Area = area });
            weights.Add(weight);
            total += weight;
        }

        GpuEmitter[] result = [.. emitters];
        double cumulative = 0;
        for (int i = 0; i < result.Length; i++)
        {
            cumulative += weights[i];
            result[i].Probability = (float)(weights[i] / total);
            result[i].Cdf = i == result.Length - 1 ? 1f : (float)(cumulative / total);
        }

        return result;
    }

    private GpuLight[] BuildLights(Matrix4x4[] world)
    {
        var lights = new GpuLight[_lights.Length];
        for (int i = 0; i < lights.Length; i++)
        {
            LightInfo info = _lights[i];
            Matrix4x4 m = world[info.Node];
            lights[i] = new GpuLight
            {
                Position = m.Translation,
                Type = info.Type switch
                {
                    PunctualLightType.Spot => GpuLight.TypeSpot,
                    PunctualLightType.Directional => GpuLight.TypeDirectional,
                    _ => GpuLight.TypePoint,
                },
                Direction = SafeNormalize(Vector3.TransformNormal(-Vector3.UnitZ, m)),
                Range = info.Range,
                Intensity = info.Intensity,
                InnerConeCos = info.Type == PunctualLightType.Spot ? info.InnerConeCos : 0,
                OuterConeCos = info.Type == PunctualLightType.Spot ? info.OuterConeCos : 0,
                SpotSmooth = info.Type == PunctualLightType.Spot ? SpotSmooth(info.InnerConeCos, info.OuterConeCos) : 0,
            };
        }

        return lights;
    }

    // Blender's importer sets spot_blend = 1 − inner / outer (angles), and Cycles fades the cone's edge over
    // (1 − cos outer) · spot_blend of the cosine.
    private static float SpotSmooth(float innerConeCos, float outerConeCos)
    {
        float outer = MathF.Acos(Math.Clamp(outerConeCos, -1f, 1f));
        float blend = outer > 0 ? Math.Clamp(1f - (MathF.Acos(Math.Clamp(innerConeCos, -1f, 1f)) / outer), 0f, 1f) : 1f;
        return (1f - outerConeCos) * blend;
    }

    private GpuFrameParams BuildCamera(Matrix4x4[] world, float aspect, int cameraIndex)
    {
        if (_cameras.Length == 0)
        {
            // Frame the time-0 bounding sphere with a 40° camera on the +Z side looking down -Z.
            Vector3 centre = (_boundsMin + _boundsMax) * 0.5f;
            float radius = Math.Max((_boundsMax - _boundsMin).Length() * 0.5f, 1e-6f);
            float tanHalf = MathF.Tan(DefaultVerticalFov / 2);
            float limitingHalfAngle = MathF.Atan(tanHalf * Math.Min(1, aspect));
            float distance = radius / MathF.Sin(limitingHalfAngle);
            return new GpuFrameParams
            {
                CameraOrigin = new Vector4(centre + new Vector3(0, 0, distance), 0),
                CameraRight = new Vector4(Vector3.UnitX * tanHalf * aspect, 0),
                CameraUp = new Vector4(Vector3.UnitY * tanHalf, 0),
                CameraForward = new Vector4(-Vector3.UnitZ, 0),
            };
        }

        CameraInfo camera = _cameras[cameraIndex];
        Matrix4x4 m = world[camera.Node];

        // Orthonormalise the node's axes so scale or shear in the hierarchy does not distort the view.
        Vector3 forward = SafeNormalize(Vector3.TransformNormal(-Vector3.UnitZ, m));
        Vector3 right = Vector3.TransformNormal(Vector3.UnitX, m);
        right = SafeNormalize(right - (forward * Vector3.Dot(forward, right)));
        Vector3 up = Vector3.TransformNormal(Vector3.UnitY, m);
        up = SafeNormalize(up - (forward * Vector3.Dot(forward, up)) - (right * Vector3.Dot(right, up)));
        var frame = new GpuFrameParams
        {
            CameraOrigin = new Vector4(m.Translation, 0),
            CameraForward = new Vector4(forward, 0),
        };
        if (camera.Orthographic)
        {
            // ymag fixes the half-height; the half-width follows the image so pixels stay square (xmag is ignored).
            frame.Flags = GpuFrameParams.FlagOrthographic;
            frame.CameraRight = new Vector4(right * camera.YMag * aspect, 0);
            frame.CameraUp = new Vector4(up * camera.YMag, 0);
        }
        else
        {
            (float tanHalfX, float tanHalfY) = CameraFit.TanHalfAngles(camera.YFov, camera.AspectRatio, aspect);
            frame.CameraRight = new Vector4(right * tanHalfX, 0);
            frame.CameraUp = new Vector4(up * tanHalfY, 0);
        }

        return frame;
    }

    private sealed record SceneNode(int Parent, Matrix4x4 Local, NodeAnimation? Animation, MeshPart[] Parts);

    private sealed record MeshPart(
        int[] Indices, Vector3[] Positions, Vector3[]? Normals, Vector4[]? Tangents, Vector2[]? Uvs, uint Material, bool GenerateTangents);

    private sealed record CameraInfo(string Name, int Node, bool Orthographic, float YFov, float YMag, float? AspectRatio = null);

    private sealed record LightInfo(int Node, PunctualLightType Type, Vector3 Intensity, float Range, float InnerConeCos, float OuterConeCos);

    private sealed class NodeAnimation(SharpGLTF.Transforms.AffineTransform rest)
    {
        private readonly Vector3 _scale = rest.Scale;
        private readonly Quaternion _rotation = rest.Rotation;
        private readonly Vector3 _translation = rest.Translation;

        public Track<Vector3>? Translation { get; set; }

        public Track<Quaternion>? Rotation { get; set; }

        public Track<Vector3>? Scale { get; set; }

        public Matrix4x4 Evaluate(float time)
        {
            Vector3 scale = Scale?.Sample(time) ?? _scale;
            Quaternion rotation = Rotation?.Sample(time) ?? _rotation;
            Vector3 translation = Translation?.Sample(time) ?? _translation;
            return Matrix4x4.CreateScale(scale)
                * Matrix4x4.CreateFromQuaternion(Quaternion.Normalize(rotation))
                * Matrix4x4.CreateTranslation(translation);
        }
    }

    private static class Track
    {
        public static Track<T>? Create<T>(IAnimationSampler<T>? sampler)
        {
            if (sampler is null)
            {
                return null;
            }

            (float start, float end) = KeyRange(sampler);
            return start <= end ? new Track<T>(sampler.CreateCurveSampler(true), start, end) : null;
        }

        public static (float Start, float End) KeyRange<T>(IAnimationSampler<T> sampler)
        {
            float start = float.PositiveInfinity;
            float end = float.NegativeInfinity;
            if (sampler.InterpolationMode == AnimationInterpolationMode.CUBICSPLINE)
            {
                foreach ((float key, _) in sampler.GetCubicKeys())
                {
                    start = Math.Min(start, key);
                    end = Math.Max(end, key);
                }
            }
            else
            {
                foreach ((float key, _) in sampler.GetLinearKeys())
                {
                    start = Math.Min(start, key);
                    end = Math.Max(end, key);
                }
            }

            return (start, end);
        }
    }

    private sealed class Track<T>(ICurveSampler<T> sampler, float start, float end)
    {
        public float End => end;

        public T Sample(float time) => sampler.GetPoint(Math.Clamp(time, start, end));
    }
}
