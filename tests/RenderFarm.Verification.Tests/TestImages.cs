using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Verification.Tests;

/// <summary>Images drawn in code, and the ways a cheating provider could alter a frame.</summary>
internal static class TestImages
{
    public static Image<Rgb24> Gradient(int width, int height) =>
        Draw(width, height, (x, y) => new Rgb24((byte)(255 * x / (width - 1)), (byte)(255 * y / (height - 1)), 96));

    public static Image<Rgb24> Checkerboard(int width, int height, int square) =>
        Draw(width, height, (x, y) => ((x / square) + (y / square)) % 2 == 0 ? new Rgb24(230, 230, 230) : new Rgb24(20, 20, 20));

    /// <summary>A bright disc and a darker square on a gradient: shapes without text.</summary>
    public static Image<Rgb24> Shapes(int width, int height) => Draw(width, height, (x, y) =>
    {
        float dx = x - (0.3f * width), dy = y - (0.4f * height);
        if ((dx * dx) + (dy * dy) < 0.04f * width * width)
        {
            return new Rgb24(240, 200, 60);
        }

        if (x > 0.6f * width && x < 0.85f * width && y > 0.55f * height && y < 0.8f * height)
        {
            return new Rgb24(40, 60, 160);
        }

        return new Rgb24((byte)(60 + (120 * y / height)), 90, (byte)(60 + (120 * x / width)));
    });

    public static Image<Rgb24> Noise(int width, int height, int seed)
    {
        var random = new Random(seed);
        return Draw(width, height, (_, _) => new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
    }

    public static Image<Rgb24> Blank(int width, int height) => new(width, height, new Rgb24(0, 0, 0));

    public static Image<Rgb24> Mirrored(Image<Rgb24> image) => image.Clone(c => c.Flip(FlipMode.Horizontal));

    /// <summary>Moves the picture <paramref name="pixels"/> to the right, repeating the left column.</summary>
    public static Image<Rgb24> ShiftedRight(Image<Rgb24> image, int pixels)
    {
        Image<Rgb24> shifted = image.Clone();
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                shifted[x, y] = image[Math.Max(0, x - pixels), y];
            }
        }

        return shifted;
    }

    public static Image<Rgb24> DownscaledThenUpscaled(Image<Rgb24> image, int factor) => image.Clone(c => c
        .Resize(image.Width / factor, image.Height / factor)
        .Resize(image.Width, image.Height));

    public static Image<Rgb24> ReencodedAsJpeg(Image<Rgb24> image, int quality)
    {
        using var jpeg = new MemoryStream();
        image.SaveAsJpeg(jpeg, new JpegEncoder { Quality = quality });
        jpeg.Position = 0;
        using Image<Rgb24> decoded = Image.Load<Rgb24>(jpeg);
        return PngRoundTrip(decoded);
    }

    public static Image<Rgb24> PngRoundTrip(Image<Rgb24> image)
    {
        using var png = new MemoryStream();
        image.SaveAsPng(png, new PngEncoder { ColorType = PngColorType.Rgb });
        png.Position = 0;
        return Image.Load<Rgb24>(png);
    }

    private static Image<Rgb24> Draw(int width, int height, Func<int, int, Rgb24> pixel)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[x, y] = pixel(x, y);
            }
        }

        return image;
    }
}
