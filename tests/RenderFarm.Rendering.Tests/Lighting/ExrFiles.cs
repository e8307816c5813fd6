using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RenderFarm.Rendering.Tests.Lighting;

/// <summary>Writes small single-part scanline OpenEXR files (B, G, R channels) for the reader's tests.</summary>
internal static class ExrFiles
{
    public const int None = 0, Rle = 1, Zips = 2, Zip = 3;

    /// <summary>An OpenEXR file of <paramref name="width"/> × <paramref name="height"/> pixels, half or float, rows top to bottom.</summary>
    public static byte[] Write(int width, int height, Func<int, int, (float R, float G, float B)> pixel, int compression, bool half, int yMin = 0)
    {
        using var header = new MemoryStream();
        header.Write([0x76, 0x2F, 0x31, 0x01, 2, 0, 0, 0]);
        using (var channels = new MemoryStream())
        {
            foreach (string name in new[] { "B", "G", "R" })
            {
                channels.Write(Encoding.ASCII.GetBytes(name + "\0"));
                channels.Write(Int32(half ? 1 : 2));
                channels.Write([0, 0, 0, 0]);
                channels.Write(Int32(1));
                channels.Write(Int32(1));
            }

            channels.WriteByte(0);
            Attribute(header, "channels", "chlist", channels.ToArray());
        }

        Attribute(header, "compression", "compression", [(byte)compression]);
        byte[] window = [.. Int32(0), .. Int32(yMin), .. Int32(width - 1), .. Int32(yMin + height - 1)];
        Attribute(header, "dataWindow", "box2i", window);
        Attribute(header, "displayWindow", "box2i", window);
        Attribute(header, "lineOrder", "lineOrder", [0]);
        header.WriteByte(0);

        int linesPerBlock = compression == Zip ? 16 : 1;
        int blocks = (height + linesPerBlock - 1) / linesPerBlock;
        var chunks = new List<byte[]>();
        for (int block = 0; block < blocks; block++)
        {
            using var raw = new MemoryStream();
            for (int y = block * linesPerBlock; y < Math.Min(height, (block + 1) * linesPerBlock); y++)
            {
                for (int channel = 2; channel >= 0; channel--)
                {
                    for (int x = 0; x < width; x++)
                    {
                        (float r, float g, float b) = pixel(x, y);
                        float value = channel == 0 ? r : channel == 1 ? g : b;
                        raw.Write(half ? BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)value)) : BitConverter.GetBytes(value));
                    }
                }
            }

            byte[] data = compression switch
            {
                None => raw.ToArray(),
                Rle => RunLength(Predict(raw.ToArray())),
                _ => Deflate(Predict(raw.ToArray())),
            };

            // As OpenEXR does: a chunk that does not shrink is stored as it is.
            data = data.Length >= raw.Length ? raw.ToArray() : data;
            chunks.Add([.. Int32(yMin + (block * linesPerBlock)), .. Int32(data.Length), .. data]);
        }

        long offset = header.Length + (8L * blocks);
        foreach (byte[] chunk in chunks)
        {
            header.Write(BitConverter.GetBytes(offset));
            offset += chunk.Length;
        }

        foreach (byte[] chunk in chunks)
        {
            header.Write(chunk);
        }

        return header.ToArray();
    }

    // OpenEXR's ZIP and RLE first split the bytes into the even ones, then the odd ones, and store each as the
    // difference to the one before plus 128.
    private static byte[] Predict(byte[] raw)
    {
        var split = new byte[raw.Length];
        int half = (raw.Length + 1) / 2;
        for (int i = 0; i < raw.Length; i++)
        {
            split[(i & 1) == 0 ? i / 2 : half + (i / 2)] = raw[i];
        }

        var predicted = new byte[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            predicted[i] = i == 0 ? split[0] : unchecked((byte)(split[i] - split[i - 1] + 128));
        }

        return predicted;
    }

    private static byte[] Deflate(byte[] predicted)
    {
        using var packed = new MemoryStream();
        using (var zlib = new ZLibStream(packed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(predicted);
        }

        return packed.ToArray();
    }

    // OpenEXR's RLE: a run of n ≥ 3 equal bytes as (n − 1, value), anything else as (−n, n bytes), n ≤ 127.
    private static byte[] RunLength(byte[] data)
    {
        using var packed = new MemoryStream();
        int i = 0;
        while (i < data.Length)
        {
            int run = 1;
            while (i + run < data.Length && run < 127 && data[i + run] == data[i])
            {
                run++;
            }

            if (run >= 3)
            {
                packed.Write([(byte)(run - 1), data[i]]);
                i += run;
                continue;
            }

            int literal = Math.Min(run, data.Length - i);
            while (i + literal < data.Length && literal < 127
                && !(i + literal + 2 < data.Length && data[i + literal] == data[i + literal + 1] && data[i + literal] == data[i + literal + 2]))
            {
                literal++;
            }

            packed.WriteByte(unchecked((byte)(sbyte)-literal));
            packed.Write(data, i, literal);
            i += literal;
        }

        return packed.ToArray();
    }

    private static void Attribute(Stream stream, string name, string type, byte[] value)
    {
        stream.Write(Encoding.ASCII.GetBytes(name + "\0" + type + "\0"));
        stream.Write(Int32(value.Length));
        stream.Write(value);
    }

    private static byte[] Int32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }
}
