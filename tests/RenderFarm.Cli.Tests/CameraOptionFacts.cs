using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// <c>render --camera NAME</c> picks among a scene's cameras and travels with the job to the farm's workers; an unknown
/// name is refused in one line that lists the cameras. What the scene holds that is not drawn is printed as warnings.
/// </summary>
public sealed partial class CameraOptionFacts
{
    private static readonly string s_skinnedCylinder = RepositoryPaths.Combine("samples/skinned-cylinder/skinned-cylinder.glb");

    [GeneratedRegex(@"job ([0-9a-f-]{36}):")]
    private static partial Regex JobLine();

    [Fact]
    public async Task An_unknown_camera_is_refused_in_one_line_listing_the_cameras()
    {
        await using CliFarm farm = await CliFarm.StartAsync();

        CliResult result = await farm.RunAsync(
            "render", s_skinnedCylinder, "--camera", "Back", "--size", "8x8", "--spp", "1", "--detach", "--out", Path.Combine(farm.Folder, "frames"));

        JobCommandFacts.AssertOneLine(result, 2, "has no camera called 'Back'; its cameras are 'Front', 'Side'");
    }

    [Fact]
    public async Task The_camera_travels_with_the_job()
    {
        await using CliFarm farm = await CliFarm.StartAsync();

        CliResult submitted = await farm.RunAsync(
            "render", s_skinnedCylinder, "--camera", "Side", "--size", "8x8", "--spp", "1", "--detach", "--out", Path.Combine(farm.Folder, "frames"));
        Assert.True(submitted.ExitCode == 0, submitted.Error);
        Match line = JobLine().Match(submitted.Output);
        Assert.True(line.Success, submitted.Output);

        CliResult shown = await farm.RunAsync("job", "show", line.Groups[1].Value, "--json");
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Equal("Side", JsonNode.Parse(shown.Output)!["settings"]!["camera"]!.GetValue<string>());
    }

    // Guards: a points primitive and an extension the renderer lacks were dropped without a word.
    [Fact]
    public async Task What_is_not_drawn_is_printed_as_warnings()
    {
        await using CliFarm farm = await CliFarm.StartAsync();
        JsonNode root = JsonNode.Parse(TestGltf.Triangle())!;
        root["extensionsUsed"] = new JsonArray("KHR_materials_iridescence");
        root["meshes"]![0]!["primitives"]!.AsArray().Add(new JsonObject { ["attributes"] = new JsonObject { ["POSITION"] = 0 }, ["mode"] = 1 });
        string scene = Path.Combine(farm.Folder, "lines.gltf");
        await File.WriteAllTextAsync(scene, root.ToJsonString(), Encoding.UTF8);

        CliResult result = await farm.RunAsync("render", scene, "--size", "8x8", "--spp", "1", "--detach", "--out", Path.Combine(farm.Folder, "frames"));

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("warning: lines: extension 'KHR_materials_iridescence' is not supported", result.Error, StringComparison.Ordinal);
        Assert.Contains("warning: lines: mesh 0 has LINES primitives; points and lines are not drawn.", result.Error, StringComparison.Ordinal);
    }
}
