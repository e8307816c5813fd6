using System.Numerics;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Schema2;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;
using static RenderFarm.Rendering.Tests.Scene.SceneImportFacts;

namespace RenderFarm.Rendering.Tests.Scene;

public sealed class SceneAnimationFacts : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Linear_translation_is_interpolated_between_keys_and_clamped_outside_them()
    {
        (ModelRoot model, Node node) = SingleTriangle();
        model.CreateAnimation("move").CreateTranslationChannel(node, new Dictionary<float, Vector3>
        {
            [1] = new(0, 0, 0),
            [3] = new(10, 0, 0),
        });

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));

        Assert.Equal(3, scene.AnimationDurationSeconds, 6);
        Assert.Equal(5, V0(scene, 2).X, 4);
        Assert.Equal(2.5f, V0(scene, 1.5).X, 4);
        Assert.Equal(0, V0(scene, 0).X, 4);
        Assert.Equal(0, V0(scene, -4).X, 4);
        Assert.Equal(10, V0(scene, 3).X, 4);
        Assert.Equal(10, V0(scene, 100).X, 4);
    }

    [Fact]
    public void Rotation_is_slerped()
    {
        (ModelRoot model, Node node) = SingleTriangle();
        model.CreateAnimation("spin").CreateRotationChannel(node, new Dictionary<float, Quaternion>
        {
            [0] = Quaternion.Identity,
            [2] = Quaternion.CreateFromAxisAngle(Vector3.UnitZ, MathF.PI / 2),
        });

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.GltfEmbedded));
        GpuTriangle t = scene.BuildFrame(1, 1).Triangles[0];

        // Halfway through a 90° turn about Z, vertex (1,0,0) sits at 45° on the unit circle.
        float c = MathF.Sqrt(0.5f);
        AssertNear(new Vector3(c, c, 0), t.V1);
        AssertNear(new Vector3(-c, c, 0), t.V2);
    }

    [Fact]
    public void Step_interpolation_holds_the_previous_key()
    {
        (ModelRoot model, Node node) = SingleTriangle();
        model.CreateAnimation("jump").CreateScaleChannel(node, new Dictionary<float, Vector3>
        {
            [0] = new(1, 1, 1),
            [1] = new(2, 2, 2),
            [2] = new(4, 4, 4),
        }, linear: false);

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));

        Assert.Equal(1, V1(scene, 0.99).X, 5);
        Assert.Equal(2, V1(scene, 1.0).X, 5);
        Assert.Equal(2, V1(scene, 1.5).X, 5);
        Assert.Equal(4, V1(scene, 2.5).X, 5);
    }

    [Fact]
    public void All_animations_play_together_and_the_duration_is_the_longest()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("m");
        AddPrimitive(mesh, UnitTriangle);
        global::SharpGLTF.Schema2.Scene scene = model.UseScene(0);
        Node a = scene.CreateNode("a");
        a.Mesh = mesh;
        Node b = scene.CreateNode("b");
        b.Mesh = mesh;
        model.CreateAnimation("first").CreateTranslationChannel(a, new Dictionary<float, Vector3> { [0] = Vector3.Zero, [2] = new(0, 0, 2) });
        model.CreateAnimation("second").CreateTranslationChannel(b, new Dictionary<float, Vector3> { [0] = new(0, 0, -1), [4] = new(0, 0, -5) });

        SceneAsset asset = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));

        // Both nodes draw one mesh, which frames draw through instances; flattened, the triangles are in world space.
        asset.FlattenSharedMeshes = true;
        GpuSceneData frame = asset.BuildFrame(1, 1);
        float[] depths = Array.ConvertAll(frame.Triangles, t => t.V0.Z);
        Array.Sort(depths);

        Assert.Equal(4, asset.AnimationDurationSeconds, 6);
        Assert.Equal(-2, depths[0], 5);
        Assert.Equal(1, depths[1], 5);
    }

    [Fact]
    public void Animated_parent_moves_its_children()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("m");
        AddPrimitive(mesh, UnitTriangle);
        Node parent = model.UseScene(0).CreateNode("parent");
        Node child = parent.CreateNode("child");
        child.Mesh = mesh;
        child.LocalTransform = new SharpGLTF.Transforms.AffineTransform(null, null, new Vector3(0, 3, 0));
        model.CreateAnimation("lift").CreateTranslationChannel(parent, new Dictionary<float, Vector3> { [0] = Vector3.Zero, [1] = new(0, 10, 0) });

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));

        Assert.Equal(8, V0(scene, 0.5).Y, 5);
    }

    private static Vector3 V0(SceneAsset scene, double time) => scene.BuildFrame(time, 1).Triangles[0].V0;

    private static Vector3 V1(SceneAsset scene, double time) => scene.BuildFrame(time, 1).Triangles[0].V1;
}
