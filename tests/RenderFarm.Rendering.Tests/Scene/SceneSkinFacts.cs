using System.Numerics;
using System.Text.Json.Nodes;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.SceneImportFacts;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>Skins: joint matrices evaluated per frame and applied to positions and normals before the BVH build.</summary>
public sealed class SceneSkinFacts : IDisposable
{
    private static readonly float s_half = MathF.Sqrt(0.5f);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Joint_matrices_move_vertices_and_normals_and_the_skinned_node_transform_is_ignored()
    {
        SceneAsset scene = SceneAsset.Load(TwoJointTriangle(_dir));

        // At rest the inverse bind matrices undo the joints' transforms: the mesh sits where its file puts it,
        // not 100 units along X where its node would place it.
        GpuSceneData rest = scene.BuildFrame(0, 1);
        AssertNear(new Vector3(0, 0, 0), rest.Triangles[0].V0);
        AssertNear(new Vector3(1, 1, 0), rest.Triangles[0].V1);
        AssertNear(new Vector3(1, 2, 0), rest.Triangles[0].V2);

        // Joint 1 (at y = 1) turns 90° about +Y by t = 1: (x, y, z) → (z, y, −x) about the joint. Vertex 1 follows it
        // alone; vertex 2 has half of each, so it lands halfway between the two joints' results.
        GpuSceneData bent = scene.BuildFrame(1, 1);
        AssertNear(new Vector3(0, 0, 0), bent.Triangles[0].V0);
        AssertNear(new Vector3(0, 1, -1), bent.Triangles[0].V1);
        AssertNear(new Vector3(0.5f, 2, -0.5f), bent.Triangles[0].V2);

        // Normals: (0, 0, 1) turns to (1, 0, 0) with the joint, and to 45° under the half-and-half blend.
        GpuTriangleShading shading = bent.Shading[0];
        AssertNear(new Vector3(0, 0, 1), Xyz(shading.N0));
        AssertNear(new Vector3(1, 0, 0), Xyz(shading.N1));
        AssertNear(new Vector3(s_half, 0, s_half), Xyz(shading.N2));

        // Halfway through the key range the joint has turned 45°.
        GpuSceneData half = scene.BuildFrame(0.5, 1);
        AssertNear(new Vector3(s_half, 1, -s_half), half.Triangles[0].V1);
    }

    [Fact]
    public void A_joint_index_past_the_skin_is_refused_in_one_line()
    {
        // Guards the joint lookup: vertex 1 would otherwise read past the skin's two joint matrices.
        string path = TwoJointTriangle(_dir, jointOfVertex1: 2);
        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));
        Assert.Contains("'skin.gltf' is not a valid glTF file", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void A_skin_with_more_joints_than_the_limit_is_refused_before_parsing()
    {
        string path = TwoJointTriangle(_dir);
        JsonObject root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        root["skins"]![0]!["joints"] = new JsonArray([.. Enumerable.Repeat(1, SceneLimits.MaxJointsPerSkin + 1).Select(i => JsonValue.Create(i))]);
        File.WriteAllText(path, root.ToJsonString());

        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));
        Assert.Contains($"{SceneLimits.MaxJointsPerSkin + 1} joints in one skin; the limit is {SceneLimits.MaxJointsPerSkin}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_skinned_cylinder_sample_bends_over_its_frames()
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/skinned-cylinder/skinned-cylinder.glb"));
        Assert.Equal(["Front", "Side"], scene.CameraNames);
        Assert.Empty(scene.Unsupported);

        // Frame 1 stands straight: its top cap at 1.6. Frame 24 (t = 23/24 s) has the upper bone at 90°: the top
        // comes down to about the joint's height (0.8 plus the cylinder's radius) and reaches out about 0.8 sideways.
        (float top, float reach) = Cylinder(scene.BuildFrame(0, 1));
        Assert.Equal(1.6f, top, 3);
        Assert.True(reach < 0.21f, $"straight cylinder reaches {reach}");

        (top, reach) = Cylinder(scene.BuildFrame(23.0 / 24, 1));
        Assert.InRange(top, 0.95f, 1.1f);
        Assert.InRange(reach, 0.75f, 0.9f);
    }

    // The highest point and the farthest horizontal distance from the Y axis of the cylinder's vertices (the floor
    // lies at y = 0 and the light at y = 3).
    private static (float Top, float Reach) Cylinder(GpuSceneData frame)
    {
        float top = float.NegativeInfinity;
        float reach = 0;
        foreach (GpuTriangle t in frame.Triangles)
        {
            foreach (Vector3 v in (ReadOnlySpan<Vector3>)[t.V0, t.V1, t.V2])
            {
                if (Math.Abs(v.Y) < 1e-4 || Math.Abs(v.Y - 3) < 1e-4)
                {
                    continue;
                }

                top = Math.Max(top, v.Y);
                reach = Math.Max(reach, new Vector2(v.X, v.Z).Length());
            }
        }

        return (top, reach);
    }

    private static Vector3 Xyz(Vector4 v) => new(v.X, v.Y, v.Z);

    /// <summary>
    /// A triangle skinned to joint 0 (at the origin) and joint 1 (at y = 1, turning 90° about +Y from t = 0 to 1):
    /// vertex 0 follows joint 0, vertex 1 joint 1, vertex 2 half of each. Its node lies 100 units along X.
    /// </summary>
    internal static string TwoJointTriangle(TempDirectory dir, ushort jointOfVertex1 = 1)
    {
        var gltf = new RawGltf();
        int positions = gltf.Positions([new(0, 0, 0), new(1, 1, 0), new(1, 2, 0)]);
        int normals = gltf.Floats(new[] { Vector3.UnitZ, Vector3.UnitZ, Vector3.UnitZ }, "VEC3");
        int joints = gltf.Joints([0, 0, 0, 0, jointOfVertex1, 0, 0, 0, 0, 1, 0, 0]);
        int weights = gltf.Floats(new[] { new Vector4(1, 0, 0, 0), new Vector4(1, 0, 0, 0), new Vector4(0.5f, 0.5f, 0, 0) }, "VEC4");
        int inverseBind = gltf.Floats(new[] { Matrix4x4.Identity, Matrix4x4.CreateTranslation(0, -1, 0) }, "MAT4");
        int times = gltf.Floats(new[] { 0f, 1f }, "SCALAR", [0], [1]);
        int rotations = gltf.Floats(new[] { Quaternion.Identity, Quaternion.CreateFromAxisAngle(Vector3.UnitY, MathF.PI / 2) }, "VEC4");
        gltf.AddMesh(new JsonObject
        {
            ["attributes"] = new JsonObject { ["POSITION"] = positions, ["NORMAL"] = normals, ["JOINTS_0"] = joints, ["WEIGHTS_0"] = weights },
        });
        gltf.AddNode(new JsonObject { ["mesh"] = 0, ["skin"] = 0, ["translation"] = RawGltf.Array(100, 0, 0) });
        gltf.AddNode(new JsonObject { ["children"] = new JsonArray(2) });
        gltf.AddNode(new JsonObject { ["translation"] = RawGltf.Array(0, 1, 0) });
        gltf.Root["scenes"]![0]!["nodes"] = new JsonArray(0, 1);
        gltf.Root["skins"] = new JsonArray(new JsonObject { ["joints"] = new JsonArray(1, 2), ["inverseBindMatrices"] = inverseBind });
        gltf.Root["animations"] = new JsonArray(new JsonObject
        {
            ["samplers"] = new JsonArray(new JsonObject { ["input"] = times, ["output"] = rotations, ["interpolation"] = "LINEAR" }),
            ["channels"] = new JsonArray(new JsonObject { ["sampler"] = 0, ["target"] = new JsonObject { ["node"] = 2, ["path"] = "rotation" } }),
        });
        return gltf.Save(dir, "skin.gltf");
    }
}
