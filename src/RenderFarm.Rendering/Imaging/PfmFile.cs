using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// Portable Float Map (<c>PF</c>, RGB float32, rows bottom to top): the linear images the render benchmarks
/// exchange with Blender and between devices, bit for bit.
/// </summary>
public static class PfmFile
{
    /// <summary>The largest side read, so a hostile header cannot ask for an unbounded allocation.</summary>
    public const int MaxSide = 16_384;

    /// <summary>Writes <paramref name="image"/> as little-endian PFM.</summary>
    public static void Write(HdrImage image, string path)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        stream.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"PF\n{image.Width} {image.Height}\n-1.0\n")));
        var row = new byte[image.Width * 12];
        for (int y = image.Height - 1; y >= 0; y--)
        {
            for (int i = 0; i < image.Width * 3; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(row.AsSpan(i * 4), image.Pixels[(y * image.Width * 3) + i]);
            }

            stream.Write(row);
        }
    }

    /// <summary>Reads an RGB PFM of either byte order.</summary>
    /// <exception cref="InvalidDataException">The file is not an RGB PFM of at most <see cref="MaxSide"/> pixels a side.</exception>
    public static HdrImage Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int offset = 0;
        string magic = Token(bytes, ref offset);
        if (magic != "PF")
        {
            throw new InvalidDataException($"{path} is not an RGB PFM image (magic '{magic}').");
        }

        if (!int.TryParse(Token(bytes, ref offset), NumberStyles.None, CultureInfo.InvariantCulture, out int width) ||
            !int.TryParse(Token(bytes, ref offset), NumberStyles.None, CultureInfo.InvariantCulture, out int height) ||
            width is < 1 or > MaxSide || height is < 1 or > MaxSide ||
            !double.TryParse(Token(bytes, ref offset), NumberStyles.Float, CultureInfo.InvariantCulture, out double scale) || scale == 0)
        {
            throw new InvalidDataException($"{path} has a bad PFM header (sides 1..{MaxSide}, a non-zero scale).");
        }

        offset++;
        long expected = (long)width * height * 12;
        if (bytes.Length - offset != expected)
        {
            throw new InvalidDataException($"{path} holds {bytes.Length - offset} bytes of pixels; {width}x{height} RGB needs {expected}.");
        }

        var image = new HdrImage(width, height);
        bool little = scale < 0;
        for (int y = 0; y < height; y++)
        {
            int target = (height - 1 - y) * width * 3;
            for (int i = 0; i < width * 3; i++)
            {
                ReadOnlySpan<byte> word = bytes.AsSpan(offset + (((y * width * 3) + i) * 4), 4);
                image.Pixels[target + i] = little ? BinaryPrimitives.ReadSingleLittleEndian(word) : BinaryPrimitives.ReadSingleBigEndian(word);
            }
        }

        return image;
    }

    // A whitespace-delimited header token; leaves offset on the single whitespace byte after it.
    private static string Token(byte[] bytes, ref int offset)
    {
        while (offset < bytes.Length && bytes[offset] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            offset++;
        }

        int start = offset;
        while (offset < bytes.Length && offset - start < 32 && bytes[offset] is not ((byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
        {
            offset++;
        }

        return Encoding.ASCII.GetString(bytes, start, offset - start);
    }
}
