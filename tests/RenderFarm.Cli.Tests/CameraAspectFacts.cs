using System.Text;
using System.Text.Json.Nodes;
using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// <c>render</c> takes the frame size from the camera like Blender: without <c>--size</c>, 1920 on the long side at
/// the camera's aspect; with a width alone, the height from that aspect; and it warns when frames are asked of a scene
/// that does not move.
/// </summary>
public sealed class CameraAspectFacts
{
    // A triangle seen by a 16:9 camera, as Blender exports a scene rendered at 1920x1080.
    private static string WideCameraScene(string folder)
    {
        JsonNode root = JsonNode.Parse(TestGltf.Triangle())!;
        root["cameras"] = new JsonArray(new JsonObject
        {
            ["type"] = "perspective",
            ["perspective"] = new JsonObject { ["aspectRatio"] = 16.0 / 9.0, ["yfov"] = 0.4, ["znear"] = 0.1 },
        });
        root["nodes"]!.AsArray().Add(new JsonObject { ["camera"] = 0, ["translation"] = new JsonArray(0.5, 0.5, 3) });
        root["scenes"]![0]!["nodes"]!.AsArray().Add(1);
        string path = Path.Combine(folder, "wide.gltf");
        File.WriteAllText(path, root.ToJsonString(), Encoding.UTF8);
        return path;
    }

    [Theory]
    [InlineData(null, "1920x1080")]
    [InlineData("32", "32x18")]
    [InlineData("40x40", "40x40")]
    public async Task The_size_follows_the_cameras_aspect_unless_both_sides_are_given(string? size, string expected)
    {
        await using CliFarm farm = await CliFarm.StartAsync();
        string scene = WideCameraScene(farm.Folder);
        List<string> arguments = ["render", scene, "--spp", "1", "--detach", "--out", Path.Combine(farm.Folder, "frames")];
        if (size is not null)
        {
            arguments.AddRange(["--size", size]);
        }

        CliResult result = await farm.RunAsync([.. arguments]);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains($"frames 1, {expected}, 1 spp", result.Output, StringComparison.Ordinal);
    }

    // Guards: asking 24 frames of a still scene rendered 24 identical pictures without a word.
    [Fact]
    public async Task Frames_of_a_still_scene_get_a_warning()
    {
        await using CliFarm farm = await CliFarm.StartAsync();

        CliResult result = await farm.RunAsync(
            "render", RepositoryPaths.Combine("samples/textured-cube/textured-cube.glb"), "--frames", "1-3", "--size", "8x8", "--spp", "1", "--detach", "--out", Path.Combine(farm.Folder, "frames"));

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("warning: textured-cube", result.Error, StringComparison.Ordinal);
        Assert.Contains("has no animation: all 3 frames will be the same picture", result.Error, StringComparison.Ordinal);
    }
}
