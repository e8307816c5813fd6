using RenderFarm.Testing;
using SixLabors.ImageSharp;

namespace RenderFarm.Cli.Tests;

[Trait("Category", "Gpu")]
public class RenderCommandFacts
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");

    [Fact]
    public async Task Render_WritesOnePngPerFrameAndASummary()
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult result = await CliRunner.RunAsync("render", s_cornellBox, "--frames", "3-4", "--size", "32x24", "--spp", "2", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        foreach (int frame in new[] { 3, 4 })
        {
            IImageInfo info = Image.Identify(Path.Combine(output, $"frame_{frame:D4}.png"));
            Assert.Equal(32, info.Width);
            Assert.Equal(24, info.Height);
        }

        Assert.Equal(2, Directory.GetFiles(output).Length);
        Assert.Contains("2 frame(s) in", result.Output, StringComparison.Ordinal);
        Assert.Contains("Msamples/s", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Render_Writes16BitPngsWhenAsked()
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult result = await CliRunner.RunAsync("render", s_cornellBox, "--size", "16x16", "--spp", "1", "--16bit", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(48, Image.Identify(Path.Combine(output, "frame_0001.png")).PixelType.BitsPerPixel);
    }

    [Fact]
    public async Task View_ChangesOnlyTheWrittenPng()
    {
        var pictures = new Dictionary<string, byte[]>();
        foreach (string view in new[] { "filmic", "standard", "clamp" })
        {
            string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;
            CliResult result = await CliRunner.RunAsync("render", s_cornellBox, "--size", "16x16", "--spp", "2", "--view", view, "--out", output);
            Assert.True(result.ExitCode == 0, result.Error);
            pictures[view] = File.ReadAllBytes(Path.Combine(output, "frame_0001.png"));
        }

        Assert.Equal(pictures["standard"], pictures["clamp"]);
        Assert.NotEqual(pictures["standard"], pictures["filmic"]);
    }

    [Theory]
    [InlineData("does-not-exist.glb", "--frames", "1", "does-not-exist.glb")]
    [InlineData("{scene}", "--frames", "5-2", "ends before it starts")]
    [InlineData("{scene}", "--frames", "0", "start at 1")]
    [InlineData("{scene}", "--size", "0x10", "out of range")]
    [InlineData("{scene}", "--size", "big", "not an image size")]
    [InlineData("{scene}", "--spp", "0", "Samples per pixel")]
    [InlineData("{scene}", "--device", "99", "device")]
    [InlineData("{scene}", "--budget", "5", "--budget needs --coordinator")]
    [InlineData("{scene}", "--view", "sepia", "--view must be aces, filmic or standard")]
    public async Task BadInput_GivesOneClearLineAndExitCode2(string scene, string option, string value, string expected)
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult result = await CliRunner.RunAsync("render", scene.Replace("{scene}", s_cornellBox, StringComparison.Ordinal), option, value, "--out", output);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("renderfarm: error: ", result.Error, StringComparison.Ordinal);
        Assert.Contains(expected, result.Error, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(output));
    }

    [Fact]
    public async Task NotAGltfFile_IsRefusedClearly()
    {
        string bogus = Path.Combine(Directory.CreateTempSubdirectory("renderfarm-cli-").FullName, "scene.glb");
        await File.WriteAllTextAsync(bogus, "this is not a glTF file");

        CliResult result = await CliRunner.RunAsync("render", bogus);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("renderfarm: error: ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownOption_IsRefused()
    {
        CliResult result = await CliRunner.RunAsync("render", s_cornellBox, "--colour", "red");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--colour", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Devices_ListsTheDefaultDevice()
    {
        CliResult result = await CliRunner.RunAsync("devices");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Matches(@"(?m)^\* \d+: ", result.Output);
    }
}
