using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// <c>render --environment FILE [--environment-strength S] [--environment-rotation DEG]</c>: the map is read and
/// refused here when bad, uploaded beside the scene, and named in the job's settings by its SHA-256.
/// </summary>
public sealed partial class EnvironmentOptionFacts
{
    private static readonly string s_scene = RepositoryPaths.Combine("samples/environment/environment.glb");
    private static readonly string s_sky = RepositoryPaths.Combine("samples/environment/sky.hdr");

    [GeneratedRegex(@"job ([0-9a-f-]{36}):")]
    private static partial Regex JobLine();

    [Fact]
    public async Task The_map_travels_with_the_job_by_its_hash_with_strength_and_rotation()
    {
        await using CliFarm farm = await CliFarm.StartAsync();

        CliResult submitted = await farm.RunAsync(
            "render", s_scene, "--environment", s_sky, "--environment-strength", "0.5", "--environment-rotation", "30",
            "--size", "8x8", "--spp", "1", "--detach", "--out", Path.Combine(farm.Folder, "frames"));
        Assert.True(submitted.ExitCode == 0, submitted.Error);
        Match line = JobLine().Match(submitted.Output);
        Assert.True(line.Success, submitted.Output);

        CliResult shown = await farm.RunAsync("job", "show", line.Groups[1].Value, "--json");
        Assert.True(shown.ExitCode == 0, shown.Error);
        JsonNode environment = JsonNode.Parse(shown.Output)!["settings"]!["environment"]!;
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(s_sky))), environment["sha256"]!.GetValue<string>());
        Assert.Equal(0.5f, environment["strength"]!.GetValue<float>());
        Assert.Equal(30f, environment["rotationDegrees"]!.GetValue<float>());
    }

    // Each is refused before any farm starts or anything is uploaded, in one line.
    [Theory]
    [InlineData("strength", "--environment-strength and --environment-rotation need --environment FILE.")]
    [InlineData("background", "--environment replaces the uniform --background; give one of them.")]
    [InlineData("missing", "does not exist.")]
    [InlineData("not-a-map", "is neither a Radiance .hdr nor an OpenEXR file.")]
    [InlineData("truncated", "Environment map truncated.hdr:")]
    [InlineData("negative", "Environment strength must be between 0 and")]
    public async Task A_bad_environment_is_refused_in_one_line(string mistake, string expected)
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-environment-").FullName;
        try
        {
            string notMap = Path.Combine(folder, "not-a-map.hdr");
            await File.WriteAllTextAsync(notMap, "P3 1 1 255 0 0 0");
            string truncated = Path.Combine(folder, "truncated.hdr");
            byte[] sky = await File.ReadAllBytesAsync(s_sky);
            await File.WriteAllBytesAsync(truncated, sky.AsSpan(0, sky.Length / 2).ToArray());
            string[] extra = mistake switch
            {
                "strength" => ["--environment-strength", "2"],
                "background" => ["--environment", s_sky, "--background", "0.5"],
                "missing" => ["--environment", Path.Combine(folder, "absent.hdr")],
                "not-a-map" => ["--environment", notMap],
                "truncated" => ["--environment", truncated],
                _ => ["--environment", s_sky, "--environment-strength", "-1"],
            };

            CliResult result = await CliRunner.RunAsync(
                ["render", s_scene, "--local", "--size", "8x8", "--spp", "1", "--out", Path.Combine(folder, "frames"), .. extra]);

            JobCommandFacts.AssertOneLine(result, 2, expected);
            Assert.False(Directory.Exists(Path.Combine(folder, "frames")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
