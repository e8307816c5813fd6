using System.Numerics;
using System.Text.Json.Nodes;
using RenderFarm.Core;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.SceneImportFacts;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>Morph targets: mesh weights, node weights and the weights animation channel, on positions and normals.</summary>
public sealed class SceneMorphFacts : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_mesh_weights_apply_when_the_node_has_none()
    {
        GpuSceneData frame = SceneAsset.Load(MorphedTriangle(_dir, meshWeights: [0.5f, 0])).BuildFrame(0, 1);

        // Target 0 lifts every vertex by (0, 0, 1) and tilts the normal by (1, 0, −1): at weight 0.5, z = 0.5 and
        // the normal (0.5, 0, 0.5) normalised.
        AssertNear(new Vector3(0, 0, 0.5f), frame.Triangles[0].V0);
        AssertNear(new Vector3(1, 0, 0.5f), frame.Triangles[0].V1);
        float h = MathF.Sqrt(0.5f);
        AssertNear(new Vector3(h, 0, h), new Vector3(frame.Shading[0].N0.X, frame.Shading[0].N0.Y, frame.Shading[0].N0.Z));
    }

    [Fact]
    public void The_node_weights_override_the_mesh_weights()
    {
        GpuSceneData frame = SceneAsset.Load(MorphedTriangle(_dir, meshWeights: [0.5f, 0], nodeWeights: [0.25f, 1])).BuildFrame(0, 1);

        // Target 1 moves vertex 0 alone by (1, 0, 0).
        AssertNear(new Vector3(1, 0, 0.25f), frame.Triangles[0].V0);
        AssertNear(new Vector3(1, 0, 0.25f), frame.Triangles[0].V1);
    }

    [Fact]
    public void The_weights_channel_is_interpolated_and_held_past_its_keys()
    {
        SceneAsset scene = SceneAsset.Load(MorphedTriangle(_dir, meshWeights: [0.5f, 0], animate: true));
        Assert.Equal(2, scene.AnimationDurationSeconds, 6);

        // Keys: (0, 0) at t = 0 and (1, 2) at t = 2.
        AssertNear(new Vector3(0, 0, 0), scene.BuildFrame(0, 1).Triangles[0].V0);
        AssertNear(new Vector3(1, 0, 0.5f), scene.BuildFrame(1, 1).Triangles[0].V0);
        AssertNear(new Vector3(2, 0, 1), scene.BuildFrame(2, 1).Triangles[0].V0);
        AssertNear(new Vector3(2, 0, 1), scene.BuildFrame(7, 1).Triangles[0].V0);
    }

    [Fact]
    public void More_morph_targets_than_the_limit_are_refused_before_parsing()
    {
        string path = MorphedTriangle(_dir, meshWeights: [0, 0]);
        JsonObject root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        JsonArray targets = root["meshes"]![0]!["primitives"]![0]!["targets"]!.AsArray();
        while (targets.Count <= SceneLimits.MaxMorphTargetsPerPrimitive)
        {
            targets.Add(targets[0]!.DeepClone());
        }

        File.WriteAllText(path, root.ToJsonString());
        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));
        Assert.Contains($"morph targets in one mesh primitive; the limit is {SceneLimits.MaxMorphTargetsPerPrimitive}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_morph_shape_sample_stretches_over_its_frames()
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/morph-shape/morph-shape.glb"));
        Assert.Empty(scene.Unsupported);

        // "Flat" (half height) holds 0.25 and "Tall" (double height, 0.7 width) runs 0 → 1 over frames 1-24: the
        // sphere's top is at 1 − 0.25 × 0.5 = 0.875 on frame 1 and 0.875 + 1 = 1.875 on frame 24, its half-width
        // 0.5 then 0.5 × (1 − 0.3) = 0.35.
        (float top, float reach) = Shape(scene.BuildFrame(0, 1));
        Assert.Equal(0.875f, top, 3);
        Assert.Equal(0.5f, reach, 2);
        (top, reach) = Shape(scene.BuildFrame(23.0 / 24, 1));
        Assert.Equal(1.875f, top, 3);
        Assert.Equal(0.35f, reach, 2);
    }

    private static (float Top, float Reach) Shape(GpuSceneData frame)
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

    /// <summary>
    /// The unit triangle in z = 0 with normals +Z and two morph targets: 0 lifts all vertices by (0, 0, 1) and tilts
    /// normals by (1, 0, −1); 1 moves vertex 0 by (1, 0, 0). Optionally a weights channel from (0, 0) at t = 0 to (1, 2) at t = 2.
    /// </summary>
    private static string MorphedTriangle(TempDirectory dir, float[] meshWeights, float[]? nodeWeights = null, bool animate = false)
    {
        var gltf = new RawGltf();
        int positions = gltf.Positions([new(0, 0, 0), new(1, 0, 0), new(0, 1, 0)]);
        int normals = gltf.Floats(new[] { Vector3.UnitZ, Vector3.UnitZ, Vector3.UnitZ }, "VEC3");
        int lift = gltf.Positions([Vector3.UnitZ, Vector3.UnitZ, Vector3.UnitZ]);
        int tilt = gltf.Floats(new[] { new Vector3(1, 0, -1), new Vector3(1, 0, -1), new Vector3(1, 0, -1) }, "VEC3");
        int shift = gltf.Positions([Vector3.UnitX, Vector3.Zero, Vector3.Zero]);
        gltf.AddMesh(
            new JsonObject
            {
                ["attributes"] = new JsonObject { ["POSITION"] = positions, ["NORMAL"] = normals },
                ["targets"] = new JsonArray(
                    new JsonObject { ["POSITION"] = lift, ["NORMAL"] = tilt },
                    new JsonObject { ["POSITION"] = shift }),
            },
            meshWeights);
        var node = new JsonObject { ["mesh"] = 0 };
        if (nodeWeights is not null)
        {
            node["weights"] = RawGltf.Array(nodeWeights);
        }

        gltf.AddNode(node);
        if (animate)
        {
            int times = gltf.Floats(new[] { 0f, 2f }, "SCALAR", [0], [2]);
            int values = gltf.Floats(new[] { 0f, 0f, 1f, 2f }, "SCALAR");
            gltf.Root["animations"] = new JsonArray(new JsonObject
            {
                ["samplers"] = new JsonArray(new JsonObject { ["input"] = times, ["output"] = values, ["interpolation"] = "LINEAR" }),
                ["channels"] = new JsonArray(new JsonObject { ["sampler"] = 0, ["target"] = new JsonObject { ["node"] = 0, ["path"] = "weights" } }),
            });
        }

        return gltf.Save(dir, "morph.gltf");
    }
}
