using RenderFarm.Core;
using RenderFarm.Inference.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Inference.Tests;

public sealed class ImageInputFacts : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("image-input-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_png_becomes_planes_of_red_green_and_blue_in_row_major_order()
    {
        // 3 wide, 2 high: the tensor is [1, 3, 2, 3] with x fastest, then y, then channel.
        string path = SavePng(3, 2, (x, y) => new Rgba32((byte)(10 * x), (byte)(100 + y), (byte)255, 255));

        Tensor tensor = ImageInput.Load(path, ImagePreprocessing.Default);

        Assert.Equal([1, 3, 2, 3], tensor.Shape);
        float[] expected =
        [
            0f, 10 / 255f, 20 / 255f, 0f, 10 / 255f, 20 / 255f, // R
            100 / 255f, 100 / 255f, 100 / 255f, 101 / 255f, 101 / 255f, 101 / 255f, // G
            1f, 1f, 1f, 1f, 1f, 1f, // B
        ];
        Assert.Equal(expected, tensor.Data, (a, b) => Math.Abs(a - b) < 1e-6f);
    }

    [Fact]
    public void Bgr_with_per_channel_mean_and_std_follows_the_declared_formula()
    {
        string path = SavePng(1, 1, (_, _) => new Rgba32(200, 100, 50, 255));
        ImagePreprocessing preprocessing = ImagePreprocessing.Parse("--channels bgr --scale 1 --mean 103.939,116.779,123.68 --std 2,4,8");

        Tensor tensor = ImageInput.Load(path, preprocessing);

        // Tensor channel 0 is blue: (50 × 1 − 103.939) / 2, then green, then red.
        Assert.Equal([1, 3, 1, 1], tensor.Shape);
        Assert.Equal((50 - 103.939f) / 2, tensor.Data[0], 4);
        Assert.Equal((100 - 116.779f) / 4, tensor.Data[1], 4);
        Assert.Equal((200 - 123.68f) / 8, tensor.Data[2], 4);
    }

    [Fact]
    public void Gray_is_bt709_luma_of_the_stored_values()
    {
        string path = SavePng(2, 1, (x, _) => x == 0 ? new Rgba32(255, 0, 0, 255) : new Rgba32(0, 0, 255, 255));

        Tensor tensor = ImageInput.Load(path, ImagePreprocessing.Parse("--channels gray"));

        Assert.Equal([1, 1, 1, 2], tensor.Shape);
        Assert.Equal(0.2126f, tensor.Data[0], 5);
        Assert.Equal(0.0722f, tensor.Data[1], 5);
    }

    [Fact]
    public void Resizing_stretches_to_the_declared_size_and_keeps_a_flat_colour()
    {
        string path = SavePng(40, 10, (_, _) => new Rgba32(51, 102, 204, 255));

        Tensor tensor = ImageInput.Load(path, ImagePreprocessing.Parse("--image-size 8x6"));

        Assert.Equal([1, 3, 6, 8], tensor.Shape);
        Assert.All(tensor.Data.Take(48), v => Assert.Equal(0.2f, v, 5));
        Assert.All(tensor.Data.Skip(48).Take(48), v => Assert.Equal(0.4f, v, 5));
        Assert.All(tensor.Data.Skip(96), v => Assert.Equal(0.8f, v, 5));
    }

    [Fact]
    public void Alpha_is_dropped_not_composited()
    {
        string path = SavePng(1, 1, (_, _) => new Rgba32(255, 128, 0, 0));

        Tensor tensor = ImageInput.Load(path, ImagePreprocessing.Default);

        Assert.Equal([1f, 128 / 255f, 0f], tensor.Data, (a, b) => Math.Abs(a - b) < 1e-6f);
    }

    [Fact]
    public void Jpeg_is_read_too()
    {
        string path = Path.Combine(_folder, "flat.JPG");
        using (var image = new Image<Rgb24>(16, 16, new Rgb24(128, 64, 32)))
        {
            image.SaveAsJpeg(path);
        }

        Tensor tensor = ImageInput.Load(path, ImagePreprocessing.Default);

        Assert.True(ImageInput.IsImagePath(path));
        Assert.Equal([1, 3, 16, 16], tensor.Shape);
        Assert.Equal(128 / 255f, tensor.Data.Take(256).Average(), 1);
        Assert.Equal(32 / 255f, tensor.Data.Skip(512).Average(), 1);
    }

    [Fact]
    public void Identify_gives_the_shape_load_gives_without_decoding_pixels()
    {
        string path = SavePng(7, 5, (_, _) => new Rgba32(1, 2, 3, 255));

        Assert.Equal([1, 3, 5, 7], ImageInput.IdentifyShape(path, ImagePreprocessing.Default));
        Assert.Equal([1, 1, 4, 4], ImageInput.IdentifyShape(path, ImagePreprocessing.Parse("--image-size 4x4 --channels gray")));
        Assert.Equal(ImageInput.Load(path, ImagePreprocessing.Default).Shape, ImageInput.IdentifyShape(path, ImagePreprocessing.Default));
    }

    [Fact]
    public void A_file_that_is_not_an_image_is_one_user_error()
    {
        string path = Path.Combine(_folder, "notes.png");
        File.WriteAllText(path, "not a picture");

        var load = Assert.Throws<UserInputException>(() => ImageInput.Load(path, ImagePreprocessing.Default));
        var identify = Assert.Throws<UserInputException>(() => ImageInput.IdentifyShape(path, ImagePreprocessing.Default));
        var missing = Assert.Throws<UserInputException>(() => ImageInput.Load(Path.Combine(_folder, "missing.png"), ImagePreprocessing.Default));

        Assert.Equal($"{path}: not an image this program reads (PNG or JPEG).", load.Message);
        Assert.Equal(load.Message, identify.Message);
        Assert.EndsWith("missing.png: no such file.", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_png_is_one_user_error()
    {
        string path = SavePng(32, 32, (x, y) => new Rgba32((byte)x, (byte)y, 0, 255));
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<UserInputException>(() => ImageInput.Load(path, ImagePreprocessing.Default));

        Assert.StartsWith($"{path}: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void The_option_string_parses_and_round_trips()
    {
        ImagePreprocessing parsed = ImagePreprocessing.Parse("--image-size 224x224 --scale 0.00392157 --mean 0.485,0.456,0.406 --std=0.229,0.224,0.225");

        Assert.Equal(new ImageSize(224, 224), parsed.Size);
        Assert.Equal(ChannelOrder.Rgb, parsed.Channels);
        Assert.Equal(0.00392157f, parsed.Scale);
        Assert.Equal([0.485f, 0.456f, 0.406f], parsed.Mean);
        Assert.Equal([0.229f, 0.224f, 0.225f], parsed.Std);
        Assert.Equal(
            "--image-size 224x224 --channels rgb --scale 0.00392157 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225",
            parsed.ToString());
        Assert.Equal(parsed, ImagePreprocessing.Parse(parsed.ToString()));
        Assert.NotEqual(parsed, parsed with { Std = [0.229f, 0.224f, 0.226f] });
        Assert.Equal(ImagePreprocessing.Default, ImagePreprocessing.Parse(""));
    }

    [Theory]
    [InlineData("--mean 0.5,0.5", "--mean has 2 values; give one, or one per channel (3 for rgb).")]
    [InlineData("--channels gray --std 1,2,3", "--std has 3 values; give one, or one per channel (1 for gray).")]
    [InlineData("--std 0.2,0,0.2", "--std values must be finite and not 0; got 0.")]
    [InlineData("--scale 0", "--scale must be a finite number other than 0; got 0.")]
    [InlineData("--scale abc", "--scale: 'abc' is not a number.")]
    [InlineData("--channels cmyk", "--channels must be rgb, bgr or gray; got 'cmyk'.")]
    [InlineData("--image-size 224", "'224' is not an image size; write WIDTHxHEIGHT, e.g. 512x512.")]
    [InlineData("--resize 224x224", "'--resize' is not an image preprocessing option; use --image-size, --channels, --scale, --mean and --std.")]
    [InlineData("--scale", "--scale needs a value.")]
    [InlineData("--scale 1 --scale 2", "--scale is given twice.")]
    public void Bad_option_strings_are_one_user_error_each(string text, string expected)
    {
        var error = Assert.Throws<UserInputException>(() => ImagePreprocessing.Parse(text));

        Assert.Equal(expected, error.Message);
    }

    private string SavePng(int width, int height, Func<int, int, Rgba32> pixel)
    {
        string path = Path.Combine(_folder, $"{Guid.NewGuid():N}.png");
        using var image = new Image<Rgba32>(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[x, y] = pixel(x, y);
            }
        }

        image.SaveAsPng(path);
        return path;
    }
}
