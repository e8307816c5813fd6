using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Schema2;
using SharpGLTF.Transforms;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;

namespace RenderFarm.Rendering.Tests.Scene;

public sealed class SceneImportFacts : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(GltfFormat.Glb)]
    [InlineData(GltfFormat.GltfExternal)]
    [InlineData(GltfFormat.GltfEmbedded)]
    public void Loads_every_container_format(GltfFormat format)
    {
        (ModelRoot model, Node node) = SingleTriangle();
        node.LocalTransform = new AffineTransform(null, null, new Vector3(1, 2, 3));

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, format, "tri"));
        GpuSceneData frame = scene.BuildFrame(0, 1);

        Assert.Equal("tri", scene.Name);
        Assert.Equal(1, scene.TriangleCount);
        Assert.Equal(0, scene.AnimationDurationSeconds);
        Assert.Empty(scene.CameraNames);
        Assert.Single(frame.Triangles);
        Assert.Equal(new Vector3(1, 2, 3), frame.Triangles[0].V0);
        Assert.Equal(new Vector3(2, 2, 3), frame.Triangles[0].V1);
        Assert.Equal(new Vector3(1, 3, 3), frame.Triangles[0].V2);
        Assert.Single(frame.Nodes);
        Assert.Equal(1u, frame.Nodes[0].Count);
    }

    [Fact]
    public void Gltf_with_a_byte_order_mark_loads()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(path)]);

        Assert.Equal(1, SceneAsset.Load(path).TriangleCount);
    }

    [Fact]
    public void Child_transform_applies_before_parent_transform()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("m");
        AddPrimitive(mesh, UnitTriangle);
        Node parent = model.UseScene(0).CreateNode("parent");
        parent.LocalTransform = new AffineTransform(null, Quaternion.CreateFromAxisAngle(Vector3.UnitY, MathF.PI / 2), new Vector3(10, 0, 0));
        Node child = parent.CreateNode("child");
        child.LocalTransform = new AffineTransform(new Vector3(2), null, new Vector3(0, 1, 0));
        child.Mesh = mesh;

        GpuTriangle t = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1).Triangles[0];

        // (1,0,0) scaled by 2 and lifted to (2,1,0), then turned +90° about Y to (0,1,-2) and moved by +10 X.
        AssertNear(new Vector3(10, 1, 0), t.V0);
        AssertNear(new Vector3(10, 1, -2), t.V1);
        AssertNear(new Vector3(10, 3, 0), t.V2);
    }

    [Fact]
    public void Matrix_node_matches_equivalent_trs_node()
    {
        var rotation = Quaternion.CreateFromYawPitchRoll(0.3f, -0.7f, 1.1f);
        var scale = new Vector3(1, 2, 3);
        var translation = new Vector3(-4, 5, 6);
        Matrix4x4 matrix = Matrix4x4.CreateScale(scale) * Matrix4x4.CreateFromQuaternion(rotation) * Matrix4x4.CreateTranslation(translation);

        (ModelRoot trsModel, Node trsNode) = SingleTriangle();
        trsNode.LocalTransform = new AffineTransform(scale, rotation, translation);
        (ModelRoot matrixModel, Node matrixNode) = SingleTriangle();
        matrixNode.LocalMatrix = matrix;

        GpuTriangle a = SceneAsset.Load(Save(trsModel, _dir, GltfFormat.Glb, "trs")).BuildFrame(0, 1).Triangles[0];
        GpuTriangle b = SceneAsset.Load(Save(matrixModel, _dir, GltfFormat.GltfEmbedded, "matrix")).BuildFrame(0, 1).Triangles[0];

        AssertNear(Vector3.Transform(UnitTriangle[1], matrix), b.V1);
        AssertNear(a.V0, b.V0);
        AssertNear(a.V1, b.V1);
        AssertNear(a.V2, b.V2);
    }

    [Fact]
    public void Indexed_and_non_indexed_meshes_give_the_same_triangles()
    {
        Vector3[] quad = [new(0, 0, 0), new(1, 0, 0), new(1, 1, 0), new(0, 1, 0)];
        ModelRoot model = ModelRoot.CreateModel();
        Mesh indexed = model.CreateMesh("indexed");
        AddPrimitive(indexed, quad, [0, 1, 2, 0, 2, 3]);
        Mesh flat = model.CreateMesh("flat");
        AddPrimitive(flat, [quad[0], quad[1], quad[2], quad[0], quad[2], quad[3]]);
        global::SharpGLTF.Schema2.Scene scene = model.UseScene(0);
        scene.CreateNode("a").Mesh = indexed;
        Node b = scene.CreateNode("b");
        b.Mesh = flat;
        b.LocalTransform = new AffineTransform(null, null, new Vector3(0, 0, 5));

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1);

        Assert.Equal(4, frame.Triangles.Length);
        List<string> near = Keys(frame, t => t.V0.Z == 0);
        List<string> far = Keys(frame, t => t.V0.Z == 5);
        Assert.Equal(2, near.Count);
        Assert.Equal(near, far);
    }

    [Fact]
    public void Non_triangle_primitives_are_skipped_and_strips_and_fans_are_converted()
    {
        Vector3[] quad = [new(0, 0, 0), new(1, 0, 0), new(0, 1, 0), new(1, 1, 0)];
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("mixed");
        AddPrimitive(mesh, quad, type: PrimitiveType.POINTS);
        AddPrimitive(mesh, quad, type: PrimitiveType.LINES);
        AddPrimitive(mesh, quad, type: PrimitiveType.LINE_STRIP);
        AddPrimitive(mesh, quad, type: PrimitiveType.TRIANGLE_STRIP);
        AddPrimitive(mesh, [new(0, 0, 1), new(1, 0, 1), new(1, 1, 1), new(0, 1, 1), new(-1, 0, 1)], type: PrimitiveType.TRIANGLE_FAN);
        AddPrimitive(mesh, UnitTriangle);
        model.UseScene(0).CreateNode("n").Mesh = mesh;

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));
        GpuSceneData frame = scene.BuildFrame(0, 1);

        Assert.Equal(2 + 3 + 1, scene.TriangleCount);
        Assert.Equal(6, frame.Triangles.Length);
        foreach (GpuTriangle t in frame.Triangles)
        {
            Assert.True(Vector3.Cross(t.V1 - t.V0, t.V2 - t.V0).Length() > 0.1f, "converted triangles are not degenerate");
        }
    }

    [Fact]
    public void Missing_normals_become_flat_face_normals()
    {
        (ModelRoot model, Node node) = SingleTriangle();
        node.LocalTransform = new AffineTransform(null, Quaternion.CreateFromAxisAngle(Vector3.UnitX, -MathF.PI / 2), null);

        GpuTriangleShading s = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1).Shading[0];

        // The XY triangle faces +Z; turned -90° about X it faces +Y.
        AssertNear(new Vector3(0, 1, 0), Xyz(s.N0));
        Assert.Equal(s.N0, s.N1);
        Assert.Equal(s.N0, s.N2);
        Assert.Equal(Vector4.Zero, s.T0);
    }

    [Fact]
    public void Vertex_normals_use_the_inverse_transpose_and_mirrored_nodes_are_rewound()
    {
        Vector3 slanted = Vector3.Normalize(new Vector3(1, 0, 1));
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("m");
        AddPrimitive(mesh, UnitTriangle, normals: [slanted, slanted, slanted], uvs: [new(0, 0), new(1, 0), new(0, 1)]);
        Node node = model.UseScene(0).CreateNode("n");
        node.Mesh = mesh;
        node.LocalTransform = new AffineTransform(new Vector3(-2, 1, 1), null, null);

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1);
        GpuTriangle t = frame.Triangles[0];
        GpuTriangleShading s = frame.Shading[0];

        // Scale (-2,1,1): inverse transpose maps (1,0,1) to (-1/2,0,1).
        AssertNear(Vector3.Normalize(new Vector3(-0.5f, 0, 1)), Xyz(s.N0));

        // The mirror flips the winding back so the geometric normal still faces the vertex normals' side.
        Vector3 geometric = Vector3.Cross(t.V1 - t.V0, t.V2 - t.V0);
        Assert.True(Vector3.Dot(geometric, Xyz(s.N0)) > 0);
        AssertNear(new Vector3(0, 0, 0), t.V0);
        AssertNear(new Vector3(0, 1, 0), t.V1);
        AssertNear(new Vector3(-2, 0, 0), t.V2);

        // UVs follow their vertices through the re-winding.
        Assert.Equal(new Vector4(0, 0, 0, 1), s.Uv01);
        Assert.Equal(new Vector4(1, 0, 0, 0), s.Uv2);
    }

    [Fact]
    public void Tangents_are_generated_from_uvs_when_a_normal_texture_needs_them()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Material material = model.CreateMaterial("bumpy");
        material.InitializePBRMetallicRoughness();
        material.FindChannel("Normal")!.Value.SetTexture(0, model.UseImage(Png(1, 1, (_, _) => new(128, 128, 255, 255))), null,
            TextureWrapMode.REPEAT, TextureWrapMode.REPEAT, TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.DEFAULT);
        Mesh mesh = model.CreateMesh("m");

        // Standard upright mapping: u grows along +X, glTF v grows downwards (along -Y).
        AddPrimitive(mesh, UnitTriangle, material: material, uvs: [new(0, 1), new(1, 1), new(0, 0)]);
        model.UseScene(0).CreateNode("n").Mesh = mesh;

        GpuTriangleShading s = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1).Shading[0];

        Assert.Equal(new Vector4(1, 0, 0, 1), s.T0);
        Assert.Equal(s.T0, s.T1);
        Assert.Equal(s.T0, s.T2);
    }

    [Fact]
    public void Supplied_tangents_are_transformed_and_keep_handedness()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("m");
        Vector4 tangent = new(1, 0, 0, -1);
        AddPrimitive(mesh, UnitTriangle, normals: [Vector3.UnitZ, Vector3.UnitZ, Vector3.UnitZ], tangents: [tangent, tangent, tangent]);
        Node node = model.UseScene(0).CreateNode("n");
        node.Mesh = mesh;
        node.LocalTransform = new AffineTransform(new Vector3(3, 3, 3), Quaternion.CreateFromAxisAngle(Vector3.UnitZ, MathF.PI / 2), null);

        GpuTriangleShading s = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, 1).Shading[0];

        AssertNear(new Vector3(0, 1, 0), Xyz(s.T0));
        Assert.Equal(-1, s.T0.W);
    }

    internal static void AssertNear(Vector3 expected, Vector3 actual, float tolerance = 1e-5f)
    {
        Assert.True(Vector3.Distance(expected, actual) <= tolerance, $"expected {expected}, got {actual}");
    }

    internal static Vector3 Xyz(Vector4 v) => new(v.X, v.Y, v.Z);

    // Order-independent description of triangles in the XY plane.
    private static List<string> Keys(GpuSceneData frame, Func<GpuTriangle, bool> filter)
    {
        var keys = new List<string>();
        foreach (GpuTriangle t in frame.Triangles)
        {
            if (filter(t))
            {
                Vector3[] corners = [t.V0 with { Z = 0 }, t.V1 with { Z = 0 }, t.V2 with { Z = 0 }];
                Array.Sort(corners, (p, q) => p.X != q.X ? p.X.CompareTo(q.X) : p.Y.CompareTo(q.Y));
                keys.Add(string.Join(";", corners));
            }
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }
}
