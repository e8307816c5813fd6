using System.Numerics;
using System.Text.Json.Nodes;
using RenderFarm.Core;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using Xunit;
using static RenderFarm.Rendering.Tests.Scene.SceneImportFacts;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>
/// Nothing a scene holds is dropped without a word: what is not drawn is listed one line per item, and camera names
/// pick the camera. Before, points, lines, unknown extensions, extra UV sets and vertex colours vanished silently.
/// </summary>
public sealed class SceneReportFacts : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_scene_that_uses_only_what_is_drawn_reports_nothing()
    {
        Assert.Empty(SceneAsset.Load(Triangle(_ => { })).Unsupported);
        Assert.Empty(SceneAsset.Load(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb")).Unsupported);
    }

    [Fact]
    public void Unsupported_extensions_are_listed_and_supported_ones_are_not()
    {
        string path = Triangle(gltf => gltf.Root["extensionsUsed"] = new JsonArray("KHR_lights_punctual", "KHR_materials_iridescence", "EXT_made_up"));

        IReadOnlyList<string> report = SceneAsset.Load(path).Unsupported;

        Assert.Equal(
            ["extension 'KHR_materials_iridescence' is not supported; what it adds is not drawn.", "extension 'EXT_made_up' is not supported; what it adds is not drawn."],
            report);
    }

    [Fact]
    public void Points_lines_extra_attributes_and_other_scenes_are_listed()
    {
        string path = Triangle(gltf =>
        {
            int uv = gltf.Floats(new[] { Vector2.Zero, Vector2.One, Vector2.UnitX }, "VEC2");
            int colour = gltf.Floats(new[] { Vector4.One, Vector4.One, Vector4.One }, "VEC4");
            JsonObject triangle = gltf.Meshes[0]!["primitives"]![0]!.AsObject();
            // TEXCOORD_1 and COLOR_0 are drawn; the sets after them are not.
            triangle["attributes"]!["TEXCOORD_1"] = uv;
            triangle["attributes"]!["COLOR_0"] = colour;
            triangle["attributes"]!["TEXCOORD_2"] = uv;
            triangle["attributes"]!["COLOR_1"] = colour;
            gltf.Meshes[0]!["name"] = "Grass\nblade";
            gltf.Meshes[0]!["primitives"]!.AsArray().Add(new JsonObject { ["attributes"] = new JsonObject { ["POSITION"] = 0 }, ["mode"] = 0 });
            gltf.Meshes[0]!["primitives"]!.AsArray().Add(new JsonObject { ["attributes"] = new JsonObject { ["POSITION"] = 0 }, ["mode"] = 3 });
            gltf.Root["scenes"]!.AsArray().Add(new JsonObject { ["nodes"] = new JsonArray(0) });
        });

        IReadOnlyList<string> report = SceneAsset.Load(path).Unsupported;

        Assert.Equal(5, report.Count);
        Assert.Contains("1 scene(s) besides the default one are not drawn.", report);
        Assert.Contains("mesh 'Grass?blade' has POINTS primitives; points and lines are not drawn.", report);
        Assert.Contains("mesh 'Grass?blade' has LINE_STRIP primitives; points and lines are not drawn.", report);
        Assert.Contains("mesh 'Grass?blade' has TEXCOORD_2; only TEXCOORD_0 to TEXCOORD_1 are read.", report);
        Assert.Contains("mesh 'Grass?blade' has COLOR_1; only COLOR_0 is drawn.", report);
    }

    [Fact]
    public void The_report_is_bounded_however_many_items_a_file_holds()
    {
        string path = Triangle(gltf =>
        {
            for (int i = 0; i < 100; i++)
            {
                gltf.Meshes.Add(new JsonObject
                {
                    ["name"] = $"points {i}",
                    ["primitives"] = new JsonArray(new JsonObject { ["attributes"] = new JsonObject { ["POSITION"] = 0 }, ["mode"] = 0 }),
                });
                gltf.Nodes.Add(new JsonObject { ["mesh"] = i + 1 });
                gltf.Root["scenes"]![0]!["nodes"]!.AsArray().Add(i + 1);
            }
        });

        IReadOnlyList<string> report = SceneAsset.Load(path).Unsupported;

        // Forty lines, then one that counts the rest.
        Assert.Equal(41, report.Count);
        Assert.Equal("... and 60 more item(s) not drawn.", report[^1]);
    }

    [Fact]
    public void A_camera_is_picked_by_name_and_an_unknown_name_is_refused_listing_the_cameras()
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/skinned-cylinder/skinned-cylinder.glb"));

        Assert.Equal(0, scene.CameraIndex(null));
        Assert.Equal(0, scene.CameraIndex("Front"));
        Assert.Equal(1, scene.CameraIndex("Side"));
        AssertNear(new Vector3(4, 1, 0), Xyz(scene.BuildFrame(0, 1, scene.CameraIndex("Side")).FrameParams.CameraOrigin));
        AssertNear(new Vector3(2.2f, 1.6f, 3.2f), Xyz(scene.BuildFrame(0, 1, scene.CameraIndex("Front")).FrameParams.CameraOrigin));

        UserInputException unknown = Assert.Throws<UserInputException>(() => scene.CameraIndex("side"));
        Assert.Equal("'skinned-cylinder' has no camera called 'side'; its cameras are 'Front', 'Side'.", unknown.Message);

        UserInputException none = Assert.Throws<UserInputException>(() => SceneAsset.Load(Triangle(_ => { })).CameraIndex("Main"));
        Assert.Contains("has no camera called 'Main': it has no cameras at all", none.Message, StringComparison.Ordinal);
    }

    private static Vector3 Xyz(Vector4 v) => new(v.X, v.Y, v.Z);

    private string Triangle(Action<RawGltf> edit)
    {
        var gltf = new RawGltf();
        int positions = gltf.Positions([new(0, 0, 0), new(1, 0, 0), new(0, 1, 0)]);
        gltf.AddMesh(new JsonObject { ["attributes"] = new JsonObject { ["POSITION"] = positions } });
        gltf.AddNode(new JsonObject { ["mesh"] = 0 });
        edit(gltf);
        return gltf.Save(_dir, "report.gltf");
    }
}
