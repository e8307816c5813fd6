using RenderFarm.Core;
using RenderFarm.Inference.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Inference.Tests;

public sealed class ImageOutputFacts
{
    [Theory]
    [InlineData(new[] { 1, 3, 4, 5 }, true)]
    [InlineData(new[] { 1, 1, 4, 5 }, true)]
    [InlineData(new[] { 3, 4, 5 }, false)] // rank 3: a sequence as often as an image
    [InlineData(new[] { 1, 2, 2 }, false)]
    [InlineData(new[] { 1, 40, 6625 }, false)] // an OCR recogniser's per-step class scores
    [InlineData(new[] { 2, 3, 4, 5 }, false)] // a batch of two
    [InlineData(new[] { 1, 4, 4, 5 }, false)] // four channels
    [InlineData(new[] { 1, 3, 1, 1 }, false)] // three scores
    [InlineData(new[] { 1, 1000 }, false)]
    [InlineData(new[] { 1, 1, 3, 4, 5 }, false)]
    public void Image_shaped_means_one_or_three_channels_of_at_least_two_by_two(int[] shape, bool expected)
    {
        Assert.Equal(expected, ImageOutput.IsImageShaped(shape));
    }

    [Fact]
    public void One_channel_becomes_an_8_bit_gray_png_with_rounding_and_counted_clamps()
    {
        var tensor = new Tensor([1, 1, 2, 3], [0f, 0.5f, 1f, 1.2f, -0.1f, float.NaN]);

        (byte[] png, long clamped) = ImageOutput.EncodePng(tensor, ImagePostprocessing.Default);

        using Image<L8> image = Image.Load<L8>(png);
        PngMetadata metadata = Image.Identify(png).Metadata.GetPngMetadata();
        Assert.Equal(PngColorType.Grayscale, metadata.ColorType);
        Assert.Equal(PngBitDepth.Bit8, metadata.BitDepth);
        Assert.Equal((3, 2), (image.Width, image.Height));
        byte[] pixels = [image[0, 0].PackedValue, image[1, 0].PackedValue, image[2, 0].PackedValue, image[0, 1].PackedValue, image[1, 1].PackedValue, image[2, 1].PackedValue];
        Assert.Equal([0, 128, 255, 255, 0, 0], pixels);
        Assert.Equal(3, clamped);
    }

    [Fact]
    public void Three_channels_are_red_green_and_blue_planes()
    {
        // [1, 3, 2, 2]: the R plane, then G, then B; each row-major.
        var tensor = new Tensor([1, 3, 2, 2], [0.2f, 1f, 0f, 0f, 0.4f, 0f, 0f, 1f, 0.6f, 0.5f, 0f, 0f]);

        (byte[] png, long clamped) = ImageOutput.EncodePng(tensor, ImagePostprocessing.Default);

        using Image<Rgb24> image = Image.Load<Rgb24>(png);
        Assert.Equal(PngColorType.Rgb, Image.Identify(png).Metadata.GetPngMetadata().ColorType);
        Assert.Equal(new Rgb24(51, 102, 153), image[0, 0]);
        Assert.Equal(new Rgb24(255, 0, 128), image[1, 0]);
        Assert.Equal(new Rgb24(0, 0, 0), image[0, 1]);
        Assert.Equal(new Rgb24(0, 255, 0), image[1, 1]);
        Assert.Equal(0, clamped);
    }

    [Fact]
    public void A_declared_scale_and_offset_map_minus_one_to_one_onto_the_byte_range()
    {
        var tensor = new Tensor([1, 1, 2, 2], [-1f, 0f, 1f, 3f]);
        ImagePostprocessing postprocessing = ImagePostprocessing.FromOptions("127.5", "127.5");

        (byte[] png, long clamped) = ImageOutput.EncodePng(tensor, postprocessing);

        using Image<L8> image = Image.Load<L8>(png);
        Assert.Equal(0, image[0, 0].PackedValue);
        Assert.Equal(128, image[1, 0].PackedValue);
        Assert.Equal(255, image[0, 1].PackedValue);
        Assert.Equal(255, image[1, 1].PackedValue);
        Assert.Equal(1, clamped);
    }

    [Fact]
    public void A_tensor_that_is_not_an_image_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => ImageOutput.EncodePng(Tensor.Zeros(1, 1000), ImagePostprocessing.Default));

        Assert.Contains("[1, 1000] is not an image", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("x", null, "--output-scale: 'x' is not a finite number.")]
    [InlineData(null, "Infinity", "--output-offset: 'Infinity' is not a finite number.")]
    public void Bad_output_options_are_user_errors(string? scale, string? offset, string expected)
    {
        var error = Assert.Throws<UserInputException>(() => ImagePostprocessing.FromOptions(scale, offset));

        Assert.Equal(expected, error.Message);
    }
}
