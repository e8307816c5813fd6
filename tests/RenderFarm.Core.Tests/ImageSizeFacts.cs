using RenderFarm.Core;

namespace RenderFarm.Core.Tests;

public class ImageSizeFacts
{
    [Theory]
    [InlineData("512x512", 512, 512)]
    [InlineData("1920X1080", 1920, 1080)]
    [InlineData("1x1", 1, 1)]
    public void Parse_AcceptsWidthByHeight(string text, int width, int height)
    {
        ImageSize size = ImageSize.Parse(text);

        Assert.Equal(width, size.Width);
        Assert.Equal(height, size.Height);
        Assert.Equal((long)width * height, size.PixelCount);
    }

    [Theory]
    [InlineData("512", "not an image size")]
    [InlineData("512x", "not an image size")]
    [InlineData("axb", "not an image size")]
    [InlineData("0x10", "out of range")]
    [InlineData("-5x10", "out of range")]
    [InlineData("20000x10", "out of range")]
    public void Parse_RejectsBadSizesWithAClearMessage(string text, string expected)
    {
        var error = Assert.Throws<UserInputException>(() => ImageSize.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
