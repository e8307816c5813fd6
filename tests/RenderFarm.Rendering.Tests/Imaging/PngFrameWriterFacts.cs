using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Rendering.Tests.Imaging;

public class PngFrameWriterFacts
{
    private static HdrImage Gradient()
    {
        var image = new HdrImage(4, 2);
        for (int i = 0; i < image.Pixels.Length; i++)
        {
            image.Pixels[i] = i / (float)image.Pixels.Length;
        }

        return image;
    }

    [Fact]
    public void EightBit_StoresTheToneMappedValues()
    {
        using var stream = new MemoryStream();
        PngFrameWriter.Write(Gradient(), stream, ToneMapping.Clamp, 0, sixteenBit: false);
        stream.Position = 0;

        using Image<Rgb24> png = Image.Load<Rgb24>(stream);
        Assert.Equal(4, png.Width);
        Assert.Equal(2, png.Height);
        // Pixel (1, 0) holds linear values 3/24, 4/24, 5/24.
        Rgb24 pixel = png[1, 0];
        Assert.Equal((byte)Math.Round(ToneMapper.LinearToSrgb(3 / 24f) * 255), pixel.R);
        Assert.Equal((byte)Math.Round(ToneMapper.LinearToSrgb(5 / 24f) * 255), pixel.B);
    }

    [Fact]
    public void SixteenBit_KeepsMorePrecision()
    {
        using var stream = new MemoryStream();
        PngFrameWriter.Write(Gradient(), stream, ToneMapping.Clamp, 0, sixteenBit: true);
        stream.Position = 0;

        using Image<Rgb48> png = Image.Load<Rgb48>(stream);
        Assert.Equal(16, png.PixelType.BitsPerPixel / 3);
        Assert.Equal((ushort)Math.Round(ToneMapper.LinearToSrgb(3 / 24f) * 65535), png[1, 0].R);
    }

    [Fact]
    public void Exposure_ScalesBeforeToneMapping()
    {
        var image = new HdrImage(1, 1);
        image.Pixels.AsSpan().Fill(0.25f);
        using var stream = new MemoryStream();
        PngFrameWriter.Write(image, stream, ToneMapping.Clamp, exposureStops: 2, sixteenBit: false);
        stream.Position = 0;

        using Image<Rgb24> png = Image.Load<Rgb24>(stream);
        Assert.Equal(255, png[0, 0].G);
    }
}
