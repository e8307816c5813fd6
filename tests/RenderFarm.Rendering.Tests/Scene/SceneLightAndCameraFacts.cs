using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Schema2;
using SharpGLTF.Transforms;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;
using static RenderFarm.Rendering.Tests.Scene.SceneImportFacts;

namespace RenderFarm.Rendering.Tests.Scene;

public sealed class SceneLightAndCameraFacts : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Punctual_lights_are_converted_like_blenders_importer()
    {
        (ModelRoot model, Node mesh) = SingleTriangle();
        PunctualLight spot = model.CreatePunctualLight("spot", PunctualLightType.Spot);
        spot.SetColor(new Vector3(1, 0.5f, 0.25f), 683 * 2, 7);
        spot.SetSpotCone(0.2f, 0.6f);
        Node spotNode = mesh.CreateNode("spot");
        spotNode.PunctualLight = spot;
        spotNode.LocalTransform = new AffineTransform(null, Quaternion.CreateFromAxisAngle(Vector3.UnitX, -MathF.PI / 2), new Vector3(0, 5, 0));
        PunctualLight sun = model.CreatePunctualLight("sun", PunctualLightType.Directional);
        sun.SetColor(Vector3.One, 3, 0);
        model.UseScene(0).CreateNode("sun").PunctualLight = sun;

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));
        GpuSceneData frame = scene.BuildFrame(0, 1);

        Assert.Equal(2, scene.LightCount);
        Assert.Equal(2u, frame.FrameParams.LightCount);
        GpuLight s = Array.Find(frame.Lights, l => l.Type == GpuLight.TypeSpot);
        GpuLight d = Array.Find(frame.Lights, l => l.Type == GpuLight.TypeDirectional);
        AssertNear(new Vector3(2, 1, 0.5f), s.Intensity);
        AssertNear(new Vector3(0, 5, 0), s.Position);

        // -Z turned -90° about X points down.
        AssertNear(new Vector3(0, -1, 0), s.Direction);
        Assert.Equal(7, s.Range);
        Assert.Equal(MathF.Cos(0.2f), s.InnerConeCos, 6);
        Assert.Equal(MathF.Cos(0.6f), s.OuterConeCos, 6);
        AssertNear(new Vector3(3f / 683), d.Intensity, 1e-7f);
        AssertNear(new Vector3(0, 0, -1), d.Direction);
        Assert.Equal(0, d.Range);
    }

    [Fact]
    public void Perspective_camera_vectors_follow_the_node_and_image_aspect()
    {
        (ModelRoot model, _) = SingleTriangle();
        Camera camera = model.CreateCamera("Main");
        camera.SetPerspectiveMode(1.0f, 0.8f, 0.1f, 100);
        Node node = model.UseScene(0).CreateNode("camNode");
        node.Camera = camera;
        node.LocalTransform = new AffineTransform(null, Quaternion.CreateFromAxisAngle(Vector3.UnitY, MathF.PI / 2), new Vector3(1, 2, 3));

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));
        GpuFrameParams p = scene.BuildFrame(0, 2).FrameParams;

        Assert.Equal(["Main"], scene.CameraNames);
        float tanHalf = MathF.Tan(0.4f);

        // Turned +90° about Y the camera looks along -X, right is -Z. A square camera (aspectRatio 1) rendered 2:1
        // keeps its field of view on the image's larger side, the width, as Blender's sensor fit AUTO does.
        AssertNear(new Vector3(1, 2, 3), Xyz(p.CameraOrigin));
        AssertNear(new Vector3(-1, 0, 0), Xyz(p.CameraForward));
        AssertNear(new Vector3(0, 0, -tanHalf), Xyz(p.CameraRight));
        AssertNear(new Vector3(0, tanHalf / 2, 0), Xyz(p.CameraUp));
        Assert.Equal(0u, p.Flags);
        Assert.Equal((0u, 0u, 0u, 0u, 0u), (p.Width, p.Height, p.Seed, p.Frame, p.MaxBounces));
        Assert.Equal(Vector4.Zero, p.Environment);
    }

    [Fact]
    public void Orthographic_camera_uses_ymag_and_keeps_pixels_square()
    {
        (ModelRoot model, _) = SingleTriangle();
        Camera first = model.CreateCamera("persp");
        first.SetPerspectiveMode(null, 1, 0.1f, 10);
        model.UseScene(0).CreateNode("a").Camera = first;
        Camera ortho = model.CreateCamera("ortho");
        ortho.SetOrthographicMode(3, 2, 0.1f, 10);
        model.UseScene(0).CreateNode("b").Camera = ortho;

        SceneAsset scene = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb));
        GpuFrameParams p = scene.BuildFrame(0, 1.5f, 1).FrameParams;

        Assert.Equal(["persp", "ortho"], scene.CameraNames);
        Assert.Equal(GpuFrameParams.FlagOrthographic, p.Flags);
        AssertNear(new Vector3(3, 0, 0), Xyz(p.CameraRight));
        AssertNear(new Vector3(0, 2, 0), Xyz(p.CameraUp));
        AssertNear(new Vector3(0, 0, -1), Xyz(p.CameraForward));
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.5f)]
    [InlineData(2.5f)]
    public void Default_camera_sees_the_whole_scene(float aspect)
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("m");
        AddPrimitive(mesh, [new(-3, 0, -8), new(5, 1, 2), new(0, 7, 1)]);
        AddPrimitive(mesh, [new(-1, -4, 4), new(2, -1, -6), new(4, 2, 3)]);
        Node node = model.UseScene(0).CreateNode("n");
        node.Mesh = mesh;
        node.LocalTransform = new AffineTransform(new Vector3(2), null, new Vector3(100, 0, 0));

        GpuSceneData frame = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb)).BuildFrame(0, aspect);
        GpuFrameParams p = frame.FrameParams;

        AssertNear(new Vector3(0, 0, -1), Xyz(p.CameraForward));
        Assert.Equal(MathF.Tan(20 * MathF.PI / 180), p.CameraUp.Y, 5);
        Assert.Equal(p.CameraUp.Y * aspect, p.CameraRight.X, 5);
        foreach (GpuTriangle t in frame.Triangles)
        {
            foreach (Vector3 v in new[] { t.V0, t.V1, t.V2 })
            {
                Vector3 d = v - Xyz(p.CameraOrigin);
                float depth = Vector3.Dot(d, Xyz(p.CameraForward));
                Assert.True(depth > 0, "vertex in front of the camera");
                Assert.InRange(Vector3.Dot(d, Xyz(p.CameraRight)) / p.CameraRight.LengthSquared() / depth, -1, 1);
                Assert.InRange(Vector3.Dot(d, Xyz(p.CameraUp)) / p.CameraUp.LengthSquared() / depth, -1, 1);
            }
        }
    }

    [Fact]
    public void Camera_index_out_of_range_is_a_user_error()
    {
        (ModelRoot model, _) = SingleTriangle();
        SceneAsset noCameras = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb, "none"));
        Camera camera = model.CreateCamera("only");
        camera.SetPerspectiveMode(null, 1, 0.1f, 10);
        model.UseScene(0).CreateNode("c").Camera = camera;
        SceneAsset oneCamera = SceneAsset.Load(Save(model, _dir, GltfFormat.Glb, "one"));

        UserInputException none = Assert.Throws<UserInputException>(() => noCameras.BuildFrame(0, 1, 1));
        UserInputException one = Assert.Throws<UserInputException>(() => oneCamera.BuildFrame(0, 1, 2));
        Assert.Throws<UserInputException>(() => oneCamera.BuildFrame(0, 1, -1));

        Assert.Contains("no cameras", none.Message, StringComparison.Ordinal);
        Assert.Contains("Camera 2", one.Message, StringComparison.Ordinal);
        Assert.Contains("1 camera", one.Message, StringComparison.Ordinal);
    }
}
