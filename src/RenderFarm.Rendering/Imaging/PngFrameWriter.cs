using RenderFarm.Core;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Rendering.Imaging;

/// <summary>Writes tone-mapped frames as 8- or 16-bit sRGB PNG files.</summary>
public static class PngFrameWriter
{
    /// <summary>Tone-maps <paramref name="image"/> with the settings' curve and exposure, and encodes it as PNG.</summary>
    public static void Write(HdrImage image, Stream destination, ToneMapping curve, float exposureStops, bool sixteenBit)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(destination);
        float scale = MathF.Pow(2f, exposureStops);
        var encoder = new PngEncoder
        {
            ColorType = PngColorType.Rgb,
            BitDepth = sixteenBit ? PngBitDepth.Bit16 : PngBitDepth.Bit8,
        };
        if (sixteenBit)
        {
            using Image<Rgb48> png = ToImage<Rgb48>(image, v => new Rgb48(To16(v.R), To16(v.G), To16(v.B)), curve, scale);
            png.SaveAsPng(destination, encoder);
        }
        else
        {
            using Image<Rgb24> png = ToImage<Rgb24>(image, v => new Rgb24(To8(v.R), To8(v.G), To8(v.B)), curve, scale);
            png.SaveAsPng(destination, encoder);
        }
    }

    /// <summary>Writes the frame to a file, replacing it atomically so a reader never sees half a PNG.</summary>
    public static void Write(HdrImage image, string path, ToneMapping curve, float exposureStops, bool sixteenBit)
    {
        string temporary = path + ".partial";
        using (FileStream stream = File.Create(temporary))
        {
            Write(image, stream, curve, exposureStops, sixteenBit);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static Image<TPixel> ToImage<TPixel>(
        HdrImage image, Func<(float R, float G, float B), TPixel> pack, ToneMapping curve, float scale)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        var png = new Image<TPixel>(image.Width, image.Height);
        float[] pixels = image.Pixels;
        png.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<TPixel> row = rows.GetRowSpan(y);
                int index = y * image.Width * 3;
                for (int x = 0; x < row.Length; x++, index += 3)
                {
                    row[x] = pack(ToneMapper.ToDisplay(pixels[index] * scale, pixels[index + 1] * scale, pixels[index + 2] * scale, curve));
                }
            }
        });
        return png;
    }

    private static byte To8(float value) => (byte)((value * 255f) + 0.5f);

    private static ushort To16(float value) => (ushort)((value * 65535f) + 0.5f);
}
