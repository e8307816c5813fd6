using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Imaging;

/// <summary>A decoded OpenEXR image: its header's fields and every channel as floats.</summary>
/// <param name="Width">Width of the data window.</param>
/// <param name="Height">Height of the data window.</param>
/// <param name="Compression">The file's compression.</param>
/// <param name="Channels">The channels in the file's order (sorted by name).</param>
/// <param name="Attributes">Every header attribute's name and type, in file order.</param>
/// <param name="LineOffsets">The line offset table.</param>
public sealed record ExrImage(
    int Width,
    int Height,
    ExrCompression Compression,
    IReadOnlyList<ExrChannel> Channels,
    IReadOnlyList<(string Name, string Type)> Attributes,
    IReadOnlyList<long> LineOffsets)
{
    /// <summary>The channel called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The image has no such channel.</exception>
    public ExrChannel Channel(string name) => Channels.FirstOrDefault(c => c.Name == name)
        ?? throw new KeyNotFoundException($"The EXR has no channel '{name}'.");
}

/// <summary>
/// Reads the single-part scanline OpenEXR files <see cref="ExrWriter"/> writes, and those like them from
/// other programs: HALF or FLOAT channels sampled 1×1, uncompressed, ZIPS or ZIP. A file is untrusted: every
/// size, offset and count is checked against the file and the caller's budget, and anything else is refused
/// in one line (<see cref="UserInputException"/>).
/// </summary>
public static class ExrReader
{
    /// <summary>The default budget: values over all channels (a 4096² frame with 16 channels).</summary>
    public const long DefaultMaxValues = 4096L * 4096 * 16;

    private const int MaxHeaderAttributes = 256;
    private const int MaxStringBytes = 255;
    private const int FlagLongNames = 0x400;
    private const int ZipsCompression = 2;

    /// <summary>Decodes <paramref name="file"/>.</summary>
    /// <param name="file">The whole file.</param>
    /// <param name="maxValues">The most values (pixels × channels) to decode.</param>
    /// <exception cref="UserInputException">The file is not such an EXR, is damaged, or exceeds the budget.</exception>
    public static ExrImage Read(ReadOnlySpan<byte> file, long maxValues = DefaultMaxValues)
    {
        var input = new Cursor(file);
        if (input.Int32() != ExrWriter.Magic)
        {
            throw Refuse("not an OpenEXR file (bad magic number)");
        }

        int version = input.Int32();
        if ((version & 0xff) != ExrWriter.Version || (version & ~0xff & ~FlagLongNames) != 0)
        {
            throw Refuse($"only single-part scanline OpenEXR 2 is read (version field 0x{version:x})");
        }

        var attributes = new List<(string, string)>();
        List<(string Name, ExrPixelType Type)>? channels = null;
        int? compression = null;
        (int X0, int Y0, int X1, int Y1)? window = null;
        int lineOrder = 0;
        while (true)
        {
            string name = input.String();
            if (name.Length == 0)
            {
                break;
            }

            if (attributes.Count == MaxHeaderAttributes)
            {
                throw Refuse($"more than {MaxHeaderAttributes} header attributes");
            }

            string type = input.String();
            int size = input.Int32();
            if (size < 0 || size > input.Remaining)
            {
                throw Refuse($"attribute '{name}' claims {size} bytes");
            }

            ReadOnlySpan<byte> value = input.Bytes(size);
            attributes.Add((name, type));
            switch (name)
            {
                case "channels" when type == "chlist":
                    channels = ReadChannels(value);
                    break;
                case "compression" when type == "compression" && size == 1:
                    compression = value[0];
                    break;
                case "dataWindow" when type == "box2i" && size == 16:
                    window = (
                        BinaryPrimitives.ReadInt32LittleEndian(value), BinaryPrimitives.ReadInt32LittleEndian(value[4..]),
                        BinaryPrimitives.ReadInt32LittleEndian(value[8..]), BinaryPrimitives.ReadInt32LittleEndian(value[12..]));
                    break;
                case "lineOrder" when type == "lineOrder" && size == 1:
                    lineOrder = value[0];
                    break;
                case "tiles":
                    throw Refuse("tiled images are not read");
                case "channels" or "compression" or "dataWindow" or "lineOrder":
                    throw Refuse($"attribute '{name}' has type '{type}' and {size} bytes");
            }
        }

        if (channels is null || compression is null || window is null)
        {
            throw Refuse("the header lacks channels, compression or dataWindow");
        }

        if (compression is not ((int)ExrCompression.None or ZipsCompression or (int)ExrCompression.Zip))
        {
            throw Refuse($"compression {compression} is not read (only none, ZIPS and ZIP)");
        }

        if (lineOrder is not (0 or 1))
        {
            throw Refuse($"line order {lineOrder} is not read");
        }

        (int x0, int y0, int x1, int y1) = window.Value;
        long width = (long)x1 - x0 + 1, height = (long)y1 - y0 + 1;
        if (width < 1 || height < 1 || width > ImageSize.MaxDimension || height > ImageSize.MaxDimension)
        {
            throw Refuse($"data window ({x0}, {y0})-({x1}, {y1}) is empty or larger than {ImageSize.MaxDimension} a side");
        }

        if (width * height * channels.Count > maxValues)
        {
            throw Refuse($"{width}x{height} pixels in {channels.Count} channels exceed the budget of {maxValues} values");
        }

        int w = (int)width, h = (int)height;
        int linesPerBlock = compression == (int)ExrCompression.Zip ? ExrWriter.ZipLinesPerBlock : 1;
        int blocks = (h + linesPerBlock - 1) / linesPerBlock;
        var offsets = new long[blocks];
        for (int i = 0; i < blocks; i++)
        {
            ulong offset = input.UInt64();
            if (offset > (ulong)file.Length)
            {
                throw Refuse($"line offset {i} points past the end of the file");
            }

            offsets[i] = (long)offset;
        }

        ExrChannel[] result = [.. channels.Select(c => new ExrChannel(c.Name, c.Type, new float[w * h]))];
        int bytesPerLine = channels.Sum(c => ExrWriter.BytesPerValue(c.Type)) * w;
        var raw = new byte[bytesPerLine * linesPerBlock];
        for (int block = 0; block < blocks; block++)
        {
            var chunk = new Cursor(file, offsets[block]);
            int firstLine = block * linesPerBlock;
            int lines = Math.Min(linesPerBlock, h - firstLine);
            int y = chunk.Int32();
            if ((long)y - y0 != firstLine)
            {
                throw Refuse($"block {block} starts at line {y}, not {y0 + firstLine}");
            }

            int expected = bytesPerLine * lines;
            int size = chunk.Int32();
            if (size < 1 || size > chunk.Remaining || size > expected)
            {
                throw Refuse($"block {block} claims {size} bytes");
            }

            ReadOnlySpan<byte> data = chunk.Bytes(size);
            if (size < expected)
            {
                if (compression == (int)ExrCompression.None)
                {
                    throw Refuse($"block {block} holds {size} of {expected} bytes");
                }

                Decompress(data, raw.AsSpan(0, expected), block);
            }
            else
            {
                data.CopyTo(raw);
            }

            Unpack(raw, result, w, firstLine, lines);
        }

        return new ExrImage(w, h, (ExrCompression)(compression == ZipsCompression ? (int)ExrCompression.Zip : compression.Value), result, attributes, offsets);
    }

    private static List<(string Name, ExrPixelType Type)> ReadChannels(ReadOnlySpan<byte> value)
    {
        var list = new Cursor(value);
        var channels = new List<(string, ExrPixelType)>();
        string? previous = null;
        while (true)
        {
            string name = list.String();
            if (name.Length == 0)
            {
                break;
            }

            if (channels.Count == ExrWriter.MaxChannels)
            {
                throw Refuse($"more than {ExrWriter.MaxChannels} channels");
            }

            int type = list.Int32();
            list.Bytes(4); // pLinear and reserved
            int xSampling = list.Int32(), ySampling = list.Int32();
            if (type is not ((int)ExrPixelType.Half or (int)ExrPixelType.Float))
            {
                throw Refuse($"channel '{name}' has pixel type {type} (only HALF and FLOAT are read)");
            }

            if (xSampling != 1 || ySampling != 1)
            {
                throw Refuse($"channel '{name}' is subsampled {xSampling}x{ySampling}");
            }

            if (previous is not null && ExrWriter.CompareNames(previous, name) >= 0)
            {
                throw Refuse($"channel '{name}' is out of order or repeated");
            }

            previous = name;
            channels.Add((name, (ExrPixelType)type));
        }

        if (channels.Count == 0)
        {
            throw Refuse("the channel list is empty");
        }

        return channels;
    }

    private static void Decompress(ReadOnlySpan<byte> data, Span<byte> output, int block)
    {
        var predicted = new byte[output.Length];
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(data.ToArray()), CompressionMode.Decompress);
            zlib.ReadExactly(predicted);
            // A block that inflates to more than its lines hold is as damaged as one that inflates to less.
            if (zlib.ReadByte() != -1)
            {
                throw Refuse($"block {block} inflates to more than its {output.Length} bytes");
            }
        }
        catch (Exception exception) when (exception is InvalidDataException or EndOfStreamException)
        {
            throw Refuse($"block {block} does not inflate to its {output.Length} bytes ({exception.Message})");
        }

        // Undo the predictor, then interleave the two halves again.
        for (int i = 1; i < predicted.Length; i++)
        {
            predicted[i] = (byte)(predicted[i - 1] + predicted[i] - 128);
        }

        int half = (predicted.Length + 1) / 2;
        for (int i = 0; i < output.Length; i++)
        {
            output[i] = predicted[(i & 1) == 0 ? i / 2 : half + (i / 2)];
        }
    }

    private static void Unpack(byte[] raw, ExrChannel[] channels, int width, int firstLine, int lines)
    {
        int at = 0;
        for (int y = firstLine; y < firstLine + lines; y++)
        {
            foreach (ExrChannel channel in channels)
            {
                Span<float> row = channel.Values.AsSpan(y * width, width);
                for (int x = 0; x < width; x++)
                {
                    if (channel.Type == ExrPixelType.Half)
                    {
                        row[x] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw.AsSpan(at));
                        at += 2;
                    }
                    else
                    {
                        row[x] = BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(at));
                        at += 4;
                    }
                }
            }
        }
    }

    private static UserInputException Refuse(string reason) => new($"Unreadable EXR: {reason}.");

    // A bounds-checked little-endian reader over the file.
    private ref struct Cursor
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _at;

        public Cursor(ReadOnlySpan<byte> data, long at = 0)
        {
            _data = data;
            if (at < 0 || at > data.Length)
            {
                throw Refuse("an offset points outside the file");
            }

            _at = (int)at;
        }

        public readonly int Remaining => _data.Length - _at;

        public ReadOnlySpan<byte> Bytes(int count)
        {
            if (count < 0 || count > Remaining)
            {
                throw Refuse("the file ends early");
            }

            ReadOnlySpan<byte> bytes = _data.Slice(_at, count);
            _at += count;
            return bytes;
        }

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));

        public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));

        // A null-terminated name of at most 255 bytes of printable ASCII.
        public string String()
        {
            ReadOnlySpan<byte> rest = _data[_at..];
            int end = rest[..Math.Min(rest.Length, MaxStringBytes + 1)].IndexOf((byte)0);
            if (end < 0)
            {
                throw Refuse("a header name is unterminated or longer than 255 bytes");
            }

            ReadOnlySpan<byte> bytes = Bytes(end + 1)[..end];
            foreach (byte b in bytes)
            {
                if (b is < 0x20 or > 0x7e)
                {
                    throw Refuse("a header name holds a byte that is not printable ASCII");
                }
            }

            return Encoding.ASCII.GetString(bytes);
        }
    }
}
