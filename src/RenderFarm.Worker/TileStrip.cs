using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;

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

        using var stream = new MemoryStream();
        PngFrameWriter.Write(strip, stream, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
        return stream.ToArray();
    }
}
