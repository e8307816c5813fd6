using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using SixLabors.ImageSharp;

namespace RenderFarm.Cli.Tests;

/// <summary><c>render --format exr</c>, <c>--exr-depth</c> and <c>--denoise</c> through the embedded farm (a real worker on the local device).</summary>
[Trait("Category", "Gpu")]
public class RenderOutputFacts
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");

    // Before, --format exr and --denoise rendered on the client's own device and were refused with a farm. Now the
    // farm delivers the frame: a provider's verified linear EXR that equals a render of the same settings here, bit for bit.
    [Fact]
    public async Task FormatExr_OnTheFarm_IsTheLocalRenderBitForBit_WithItsAovs()
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult result = await CliRunner.RunAsync(
            "render", s_cornellBox, "--frames", "2-3", "--size", "24x16", "--spp", "2", "--format", "exr", "--exr-depth", "float", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("2 frame(s) in", result.Output, StringComparison.Ordinal);
        Assert.Equal(["frame_0002.exr", "frame_0003.exr"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        ExrImage image = ExrReader.Read(await File.ReadAllBytesAsync(Path.Combine(output, "frame_0002.exr")));
        Assert.Equal((24, 16, ExrCompression.Zip), (image.Width, image.Height, image.Compression));
        Assert.Equal(FarmFrame.ChannelNames, image.Channels.Select(c => c.Name));
        Assert.All(image.Channels, c => Assert.Equal(ExrPixelType.Float, c.Type));
        // Linear radiance, not tone-mapped: the light seen directly is far above 1.
        Assert.True(image.Channel("R").Values.Max() > 1.5f, $"brightest R {image.Channel("R").Values.Max()}");

        foreach (int frame in (int[])[2, 3])
        {
            (HdrImage farmImage, FrameAovs farmAovs) = FarmFrame.Read(await File.ReadAllBytesAsync(Path.Combine(output, $"frame_{frame:D4}.exr")), s_settings.Size, ExrDepth.Float);
            (HdrImage local, FrameAovs localAovs) = RenderHere(frame);
            Assert.Equal(local.Pixels, farmImage.Pixels);
            Assert.Equal(localAovs.Albedo, farmAovs.Albedo);
            Assert.Equal(localAovs.Normal, farmAovs.Normal);
            Assert.Equal(localAovs.Depth, farmAovs.Depth);
            Assert.Equal(localAovs.Emission, farmAovs.Emission);
            Assert.Equal(localAovs.Coverage, farmAovs.Coverage);
        }
    }

    // The client denoises the verified frame after download with the denoiser a render here runs: with float channels
    // its inputs are the rendered values themselves, so the denoised EXR and PNG are those of a denoise here, bit for bit.
    [Fact]
    public async Task Denoise_OnTheFarm_IsTheLocalDenoiseOfTheSameFrame()
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;

        CliResult exr = await CliRunner.RunAsync(
            "render", s_cornellBox, "--size", "24x16", "--spp", "2", "--format", "exr", "--exr-depth", "float", "--denoise", "--out", output);
        CliResult png = await CliRunner.RunAsync("render", s_cornellBox, "--size", "24x16", "--spp", "2", "--denoise", "--out", output);

        Assert.True(exr.ExitCode == 0, exr.Error);
        Assert.True(png.ExitCode == 0, png.Error);
        Assert.Contains("s denoise -> frame_0001.exr", exr.Output, StringComparison.Ordinal);
        (HdrImage local, FrameAovs aovs) = RenderHere(1);
        HdrImage denoised = Denoiser.Denoise(local, aovs);
        ExrImage image = ExrReader.Read(await File.ReadAllBytesAsync(Path.Combine(output, "frame_0001.exr")));
        Assert.Equal(ExrPixelType.Float, image.Channel("R").Type);
        Assert.NotEqual(image.Channel("R").Values, image.Channel("noisy.R").Values);
        for (int c = 0; c < 3; c++)
        {
            string name = "RGB"[c].ToString();
            Assert.Equal(denoised.Pixels.Where((_, i) => i % 3 == c), image.Channel(name).Values);
            Assert.Equal(local.Pixels.Where((_, i) => i % 3 == c), image.Channel("noisy." + name).Values);
        }

        using var expectedPng = new MemoryStream();
        PngFrameWriter.Write(denoised, expectedPng, s_settings.ToneMapping, s_settings.ExposureStops, s_settings.SixteenBit);
        Assert.Equal(expectedPng.ToArray(), await File.ReadAllBytesAsync(Path.Combine(output, "frame_0001.png")));
    }

    // The settings the commands above ask for, and a render of them on this machine's device as a provider renders it.
    private static readonly RenderSettings s_settings = new() { Size = new ImageSize(24, 16), SamplesPerPixel = 2 };

    private static (HdrImage Image, FrameAovs Aovs) RenderHere(int frame)
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        using ComputeDevice device = ComputeDevice.Open();
        using var tracer = new PathTracer(device);
        using var aovPass = new AovPass(tracer);
        HdrImage image = tracer.Render(scene, frame, s_settings, progress: null, CancellationToken.None).Image;
        return (image, aovPass.Render(scene, frame, s_settings));
    }

    [Theory]
    [InlineData("--format", "exr", "--detach", "true", "--detach needs --coordinator")]
    [InlineData("--denoise", "true", "--exr-depth", "float", "--exr-depth needs --format exr")]
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
