using System.Text;

namespace RenderFarm.Rendering.Tests.Imaging;

/// <summary>Writes Radiance RGBE (.hdr) files for tests, flat or run-length encoded, and decodes RGBE the way Blender does.</summary>
internal static class RgbeFiles
{
    /// <summary>Encodes one linear RGB value as Greg Ward's shared-exponent RGBE.</summary>
    public static (byte R, byte G, byte B, byte E) Encode(float r, float g, float b)
    {
        float v = Math.Max(r, Math.Max(g, b));
        if (!(v >= 1e-32f))
        {
            return (0, 0, 0, 0);
        }

        int exponent = (int)Math.Floor(Math.Log2(v)) + 1;
        float scale = 256f / MathF.Pow(2f, exponent);
        return ((byte)Math.Min(255, r * scale), (byte)Math.Min(255, g * scale), (byte)Math.Min(255, b * scale), (byte)(exponent + 128));
    }

    /// <summary>Decodes RGBE as Blender's and Radiance's readers do: (mantissa + 0.5) · 2^(e − 136).</summary>
    public static (float R, float G, float B) Decode((byte R, byte G, byte B, byte E) rgbe)
    {
        if (rgbe.E == 0)
        {
            return (0f, 0f, 0f);
        }

        float f = MathF.ScaleB(1f, rgbe.E - 136);
        return ((rgbe.R + 0.5f) * f, (rgbe.G + 0.5f) * f, (rgbe.B + 0.5f) * f);
    }

    /// <summary>A Radiance file of <paramref name="width"/> × <paramref name="height"/> RGBE pixels, rows top to bottom.</summary>
    public static byte[] Write(int width, int height, Func<int, int, (byte R, byte G, byte B, byte E)> pixel, bool runLength)
    {
        using var stream = new MemoryStream();
        byte[] header = Encoding.ASCII.GetBytes($"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\nEXPOSURE=1.0\n\n-Y {height} +X {width}\n");
        stream.Write(header);
        for (int y = 0; y < height; y++)
        {
            var row = new (byte R, byte G, byte B, byte E)[width];
            for (int x = 0; x < width; x++)
            {
                row[x] = pixel(x, y);
            }

            if (!runLength)
            {
                foreach ((byte r, byte g, byte b, byte e) in row)
                {
                    stream.Write([r, g, b, e]);
                }

                continue;
            }

            stream.Write([2, 2, (byte)(width >> 8), (byte)(width & 0xFF)]);
            for (int channel = 0; channel < 4; channel++)
            {
                byte[] values = row.Select(p => channel switch { 0 => p.R, 1 => p.G, 2 => p.B, _ => p.E }).ToArray();
                WriteRuns(stream, values);
            }
        }

        return stream.ToArray();
    }

    // Runs of equal bytes (count + 128, value) and literal stretches (count, bytes), at most 127 each.
    private static void WriteRuns(Stream stream, byte[] values)
    {
        int i = 0;
        while (i < values.Length)
        {
            int run = 1;
            while (i + run < values.Length && run < 127 && values[i + run] == values[i])
            {
                run++;
            }

            if (run >= 3)
            {
                stream.Write([(byte)(128 + run), values[i]]);
                i += run;
                continue;
            }

            int literal = 1;
            while (i + literal < values.Length && literal < 127
                && !(i + literal + 2 < values.Length && values[i + literal] == values[i + literal + 1] && values[i + literal] == values[i + literal + 2]))
            {
                literal++;
            }

            stream.WriteByte((byte)literal);
            stream.Write(values, i, literal);
            i += literal;
        }
    }
}
