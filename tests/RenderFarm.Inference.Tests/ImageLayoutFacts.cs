using RenderFarm.Core;
using RenderFarm.Inference.IO;
using RenderFarm.Inference.Tests.Models;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Channels-last models fed images: the layout is recognised from the input's shape (or given), images are transposed
/// to [1, H, W, C], and hints name the right sizes. Before this, a [?, 128, 128, 3] input got the hint
/// "--image-size 3x128", and following it gave a second wrong hint.
/// </summary>
[Collection(GpuCollection.Name)]
public sealed class ImageLayoutFacts : IDisposable
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;
    private readonly string _folder = Directory.CreateTempSubdirectory("image-layout-").FullName;

    public ImageLayoutFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string SavePng(int width, int height)
    {
        string path = Path.Combine(_folder, $"image-{width}x{height}.png");
        using var image = new Image<Rgba32>(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[x, y] = new Rgba32((byte)(x * 13), (byte)(y * 29), (byte)((x + y) * 7), 255);
            }
        }

        image.SaveAsPng(path);
        return path;
    }

    [Theory]
    [InlineData(new[] { 0, 128, 128, 3 }, ImageLayout.Nhwc)]
    [InlineData(new[] { 0, 0, 0, 3 }, ImageLayout.Nhwc)]
    [InlineData(new[] { 1, 64, 48, 1 }, ImageLayout.Nhwc)]
    [InlineData(new[] { 0, 3, 0, 0 }, ImageLayout.Nchw)]
    [InlineData(new[] { 1, 3, 3, 3 }, ImageLayout.Nchw)] // ambiguous: the default
    [InlineData(new[] { 0, 0, 0, 0 }, ImageLayout.Nchw)]
    public void The_layout_is_recognised_from_the_input_shape(int[] dims, ImageLayout expected)
    {
        // 0 stands for a dynamic dimension.
        Assert.Equal(expected, InputBatching.DetectLayout([.. dims.Select(d => d == 0 ? (int?)null : d)]));
    }

    [Fact]
    public void A_channels_last_input_gets_hints_in_its_own_layout()
    {
        var batching = new InputBatching(new TensorInfo("image", [null, 32, 48, 3]), ImagePreprocessing.Default);
        string png = SavePng(20, 10);
        var error = Assert.Throws<UserInputException>(() => batching.Describe(png));
        Assert.EndsWith("use --image-size 48x32.", error.Message, StringComparison.Ordinal);

        var gray = new InputBatching(new TensorInfo("image", [null, 10, 20, 1]), ImagePreprocessing.Default);
        var channels = Assert.Throws<UserInputException>(() => gray.Describe(png));
        Assert.EndsWith("use --channels gray.", channels.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public void An_NHWC_model_fed_a_png_matches_the_oracle_and_the_channels_first_image()
    {
        var random = new Random(9);
        var builder = new ModelBuilder(17).Input("image", null, 10, 12, 3).Output("features")
            .Initializer("w", [4, 3, 3, 3], Oracle.RandomData(random, 108))
            .Node("Transpose", ["image"], ["nchw"], a => a.Ints("perm", 0, 3, 1, 2))
            .Node("Conv", ["nchw", "w"], ["conv"], a => a.Ints("pads", 1, 1, 1, 1))
            .Node("Transpose", ["conv"], ["features"], a => a.Ints("perm", 0, 2, 3, 1));
        OnnxModel model = builder.Build();
        var batching = new InputBatching(model.Inputs[0], ImagePreprocessing.Default);
        Assert.Equal(ImageLayout.Nhwc, batching.Layout);
        string png = SavePng(12, 10);

        InputItem item = batching.Describe(png);
        Tensor nhwc = batching.Load(item);
        Tensor nchw = ImageInput.Load(png, ImagePreprocessing.Default);

        Assert.Equal([1, 10, 12, 3], item.Shape);
        Assert.Equal(nchw.Data[(2 * 10 * 12) + (4 * 12) + 5], nhwc.Data[(((4 * 12) + 5) * 3) + 2]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["image"] = nhwc }, _output, "NHWC model fed a PNG");
        Assert.True(ImageOutput.IsImageShaped([1, 10, 12, 3], ImageLayout.Nhwc));
        Assert.Equal(nchw.Data, ImageOutput.ToChannelsFirst(nhwc).Data);
    }

    [Fact]
    public void A_layout_option_that_is_neither_is_refused()
    {
        var error = Assert.Throws<UserInputException>(() => InputBatching.ParseLayout("hwc"));
        Assert.Equal("--layout must be nchw or nhwc; got 'hwc'.", error.Message);
    }
}
