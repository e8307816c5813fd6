using System.Globalization;
using System.Text;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Lighting;

/// <summary>Reads Radiance RGBE files: flat pixels or the "new" per-channel run-length encoding, rows top to bottom.</summary>
internal static class RadianceHdrReader
{
    private const int MaxHeaderBytes = 64 * 1024;

    /// <exception cref="InvalidDataException">The file is malformed or uses a variant this reader refuses.</exception>
    public static HdrImage Read(ReadOnlySpan<byte> data)
    {
        int position = 0;
        string first = ReadLine(data, ref position);
        if (first != "#?RADIANCE" && first != "#?RGBE")
        {
            throw new InvalidDataException("it does not start with #?RADIANCE.");
        }

        while (true)
        {
            string line = ReadLine(data, ref position);
            if (line.Length == 0)
            {
                break;
            }

            if (line.StartsWith("FORMAT=", StringComparison.Ordinal) && line != "FORMAT=32-bit_rle_rgbe")
            {
                throw new InvalidDataException($"its pixel format {line[7..]} is not supported (only 32-bit_rle_rgbe).");
            }
        }

        string[] resolution = ReadLine(data, ref position).Split(' ');
        if (resolution.Length != 4 || resolution[0] != "-Y" || resolution[2] != "+X"
            || !int.TryParse(resolution[1], NumberStyles.None, CultureInfo.InvariantCulture, out int height)
            || !int.TryParse(resolution[3], NumberStyles.None, CultureInfo.InvariantCulture, out int width))
        {
            throw new InvalidDataException("its resolution line is not \"-Y height +X width\" (other orientations are not supported).");
        }

        EnvironmentFile.CheckSize(width, height);
        var image = new HdrImage(width, height);
        var scanline = new byte[width * 4];
        for (int y = 0; y < height; y++)
        {
            ReadScanline(data, ref position, scanline, width);
            for (int x = 0; x < width; x++)
            {
                Decode(scanline.AsSpan(x * 4, 4), image.Pixels.AsSpan(((y * width) + x) * 3, 3));
            }
        }

        return image;
    }

    // (mantissa + 0.5) · 2^(exponent − 136), as Radiance and Blender decode; exponent 0 is black.
    private static void Decode(ReadOnlySpan<byte> rgbe, Span<float> rgb)
    {
        if (rgbe[3] == 0)
        {
            rgb.Clear();
            return;
        }

        float scale = MathF.ScaleB(1f, rgbe[3] - 136);
        rgb[0] = (rgbe[0] + 0.5f) * scale;
        rgb[1] = (rgbe[1] + 0.5f) * scale;
        rgb[2] = (rgbe[2] + 0.5f) * scale;
    }

    // One scanline into RGBE quadruples: run-length encoded when it starts 2, 2 and the width (for widths 8..32767), flat otherwise.
    private static void ReadScanline(ReadOnlySpan<byte> data, ref int position, byte[] scanline, int width)
    {
        if (width >= 8 && width < 32768 && data.Length - position >= 4 && data[position] == 2 && data[position + 1] == 2
            && ((data[position + 2] << 8) | data[position + 3]) == width)
        {
            position += 4;
            var channel = new byte[width];
            for (int c = 0; c < 4; c++)
            {
                int x = 0;
                while (x < width)
                {
                    int count = Next(data, ref position);
                    if (count > 128)
                    {
                        count -= 128;
                        if (count > width - x)
                        {
                            throw new InvalidDataException("a run-length run overflows its scanline.");
                        }

                        channel.AsSpan(x, count).Fill(Next(data, ref position));
                    }
                    else
                    {
                        if (count == 0 || count > width - x || count > data.Length - position)
                        {
                            throw new InvalidDataException(count == 0 ? "a run-length count is 0." : "a run-length stretch overflows its scanline or the file.");
                        }

                        data.Slice(position, count).CopyTo(channel.AsSpan(x));
                        position += count;
                    }

                    x += count;
                }

                for (int i = 0; i < width; i++)
                {
                    scanline[(i * 4) + c] = channel[i];
                }
            }

            return;
        }

        if (data.Length - position < width * 4)
        {
            throw new InvalidDataException("its pixel data ends early.");
        }

        if (data[position] == 1 && data[position + 1] == 1 && data[position + 2] == 1)
        {
            throw new InvalidDataException("it uses the old run-length encoding, which is not supported.");
        }

        data.Slice(position, width * 4).CopyTo(scanline);
        position += width * 4;
    }

    private static byte Next(ReadOnlySpan<byte> data, ref int position) => position < data.Length
        ? data[position++]
        : throw new InvalidDataException("its pixel data ends early.");

    private static string ReadLine(ReadOnlySpan<byte> data, ref int position)
    {
        int end = data[position..].IndexOf((byte)'\n');
        if (end < 0 || position + end > MaxHeaderBytes)
        {
            throw new InvalidDataException("its header is not closed within 64 KiB.");
        }

        string line = Encoding.ASCII.GetString(data.Slice(position, end)).TrimEnd('\r');
        position += end + 1;
        return line;
    }
}
