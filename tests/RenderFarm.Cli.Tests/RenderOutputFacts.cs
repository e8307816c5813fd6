using RenderFarm.Rendering.Imaging;
using RenderFarm.Testing;
using SixLabors.ImageSharp;

namespace RenderFarm.Cli.Tests;

/// <summary><c>render --format exr</c>, <c>--exr-depth</c> and <c>--denoise</c>.</summary>
[Trait("Category", "Gpu")]
public class RenderOutputFacts
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");

    [Fact]
    public async Task FormatExr_WritesLinearRgbAndAovs()
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult result = await CliRunner.RunAsync(
            "render", s_cornellBox, "--frames", "2-3", "--size", "24x16", "--spp", "2", "--format", "exr", "--exr-depth", "float", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("2 frame(s) in", result.Output, StringComparison.Ordinal);
        Assert.Equal(["frame_0002.exr", "frame_0003.exr"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        ExrImage image = ExrReader.Read(await File.ReadAllBytesAsync(Path.Combine(output, "frame_0002.exr")));
        Assert.Equal((24, 16, ExrCompression.Zip), (image.Width, image.Height, image.Compression));
        Assert.Equal(["B", "G", "N.X", "N.Y", "N.Z", "R", "Z", "albedo.B", "albedo.G", "albedo.R"], image.Channels.Select(c => c.Name));
        Assert.All(image.Channels, c => Assert.Equal(ExrPixelType.Float, c.Type));
        // Linear radiance, not tone-mapped: the light seen directly is far above 1.
        Assert.True(image.Channel("R").Values.Max() > 1.5f, $"brightest R {image.Channel("R").Values.Max()}");
    }

    [Fact]
    public async Task Denoise_WritesTheDenoisedFrame_AndKeepsTheNoisyOneInTheExr()
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult exr = await CliRunner.RunAsync(
            "render", s_cornellBox, "--size", "24x16", "--spp", "2", "--format", "exr", "--denoise", "--out", output);
        CliResult png = await CliRunner.RunAsync("render", s_cornellBox, "--size", "24x16", "--spp", "2", "--denoise", "--out", output);

        Assert.True(exr.ExitCode == 0, exr.Error);
        Assert.True(png.ExitCode == 0, png.Error);
        Assert.Contains("s denoise", exr.Output, StringComparison.Ordinal);
        ExrImage image = ExrReader.Read(await File.ReadAllBytesAsync(Path.Combine(output, "frame_0001.exr")));
        Assert.Equal(ExrPixelType.Half, image.Channel("R").Type);
        Assert.NotEqual(image.Channel("R").Values, image.Channel("noisy.R").Values);
        Assert.Equal(24, Image.Identify(Path.Combine(output, "frame_0001.png")).Width);
    }

    [Theory]
    [InlineData("--format", "exr", "--coordinator", "http://127.0.0.1:1", "--local")]
    [InlineData("--denoise", "true", "--coordinator", "http://127.0.0.1:1", "--local")]
    [InlineData("--format", "exr", "--detach", "true", "--local")]
    [InlineData("--format", "png", "--exr-depth", "float", "--exr-depth needs --format exr")]
    public async Task FarmOrMismatchedOptions_AreRefusedInOneLine(string option1, string value1, string option2, string value2, string expected)
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult result = await CliRunner.RunAsync("render", s_cornellBox, option1, value1, option2, value2, "--out", output);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("renderfarm: error: ", result.Error, StringComparison.Ordinal);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
        Assert.Empty(Directory.GetFiles(output));
    }
}
