using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Worker;

/// <summary>Lays tiles side by side in one image (tile i at the sum of the widths before it, row 0) and encodes it like a frame.</summary>
public static class TileStrip
{
    /// <summary>Encodes linear tiles as one PNG strip with the frame's tone mapping, exposure and bit depth.</summary>
    public static byte[] Encode(IReadOnlyList<HdrImage> tiles, RenderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        ArgumentNullException.ThrowIfNull(settings);
        if (tiles.Count == 0)
        {
            throw new ArgumentException("A strip needs at least one tile.", nameof(tiles));
        }

        using var stream = new MemoryStream();
        PngFrameWriter.Write(Lay(tiles), stream, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
        return stream.ToArray();
    }

    /// <summary>
    /// Encodes the strip together with the validator's snapshots at earlier sample counts, as one 16-bit PNG of
    /// bands stacked from the top, each a strip of the tiles: band 0 the final tiles in the frame's own bit depth
    /// (8-bit values widened exactly), then one band per snapshot count at 16 bits, then the final tiles at 16 bits.
    /// </summary>
    /// <param name="bands">Per sample count, increasing, the tiles; the last is the final render.</param>
    /// <param name="settings">The frame's settings.</param>
    public static byte[] EncodeWithSnapshots(IReadOnlyList<IReadOnlyList<HdrImage>> bands, RenderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(bands);
        ArgumentNullException.ThrowIfNull(settings);
        if (bands.Count < 2)
        {
            throw new ArgumentException("Snapshots need at least one earlier count and the final render.", nameof(bands));
        }

        HdrImage final = Lay(bands[^1]);
        int height = final.Height;
        using var deep = new Image<Rgb48>(final.Width, height * (bands.Count + 1));
        using (Image first = Decode(final, settings, settings.SixteenBit))
        using (Image<Rgb48> widened = first.CloneAs<Rgb48>())
        {
            Paste(widened, deep, 0);
        }

        for (int k = 0; k < bands.Count; k++)
        {
            using Image<Rgb48> band = Decode(k == bands.Count - 1 ? final : Lay(bands[k]), settings, sixteenBit: true).CloneAs<Rgb48>();
            Paste(band, deep, (k + 1) * height);
        }

        using var stream = new MemoryStream();
        deep.SaveAsPng(stream, new SixLabors.ImageSharp.Formats.Png.PngEncoder
        {
            BitDepth = SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit16,
            ColorType = SixLabors.ImageSharp.Formats.Png.PngColorType.Rgb,
        });
        return stream.ToArray();
    }

    private static Image Decode(HdrImage strip, RenderSettings settings, bool sixteenBit)
    {
        using var stream = new MemoryStream();
        PngFrameWriter.Write(strip, stream, settings.ToneMapping, settings.ExposureStops, sixteenBit);
        stream.Position = 0;
        return Image.Load(stream);
    }

    private static void Paste(Image<Rgb48> band, Image<Rgb48> target, int top)
    {
        for (int y = 0; y < band.Height; y++)
        {
            for (int x = 0; x < band.Width; x++)
            {
                target[x, top + y] = band[x, y];
            }
        }
    }

    private static HdrImage Lay(IReadOnlyList<HdrImage> tiles)
    {
        if (tiles.Count == 0)
        {
            throw new ArgumentException("A strip needs at least one tile.", nameof(tiles));
        }

        var strip = new HdrImage(tiles.Sum(t => t.Width), tiles.Max(t => t.Height));
        int left = 0;
        foreach (HdrImage tile in tiles)
        {
            for (int y = 0; y < tile.Height; y++)
            {
                Array.Copy(tile.Pixels, y * tile.Width * 3, strip.Pixels, ((y * strip.Width) + left) * 3, tile.Width * 3);
            }

            left += tile.Width;
        }

        return strip;
    }
}
