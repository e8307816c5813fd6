using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// Writes single-part scanline OpenEXR 2 files (the layout of "Technical Introduction to OpenEXR" and
/// "OpenEXR File Layout"): the magic number, version 2 without flags, a header with the eight required
/// attributes, the line offset table and the scanline blocks, uncompressed or ZIP-compressed.
/// </summary>
public static class ExrWriter
{
    /// <summary>The most channels one file may hold.</summary>
    public const int MaxChannels = 64;

    /// <summary>The longest channel name without the long-names flag (OpenEXR 1.7 and later read 31 bytes).</summary>
    public const int MaxNameLength = 31;

    internal const int Magic = 20000630;
    internal const int Version = 2;

    // Scanlines per block of OpenEXR's ZIP_COMPRESSION.
    internal const int ZipLinesPerBlock = 16;

    /// <summary>Writes the channels as one image to <paramref name="destination"/>, which must be seekable (the line offsets are written last).</summary>
    /// <exception cref="ArgumentException">A channel's size, name or type is wrong, or names repeat.</exception>
    public static void Write(Stream destination, int width, int height, IReadOnlyList<ExrChannel> channels, ExrCompression compression)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(channels);
        if (!destination.CanSeek || !destination.CanWrite)
        {
            throw new ArgumentException("An EXR is written to a seekable stream.", nameof(destination));
        }

        ExrChannel[] sorted = Validate(width, height, channels, compression);
        long start = destination.Position;
        using var writer = new BinaryWriter(destination, Encoding.ASCII, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        WriteHeader(writer, width, height, sorted, compression);

        int linesPerBlock = compression == ExrCompression.Zip ? ZipLinesPerBlock : 1;
        int blocks = (height + linesPerBlock - 1) / linesPerBlock;
        long tablePosition = destination.Position;
        var offsets = new long[blocks];
        writer.Write(new byte[blocks * 8L]);

        int bytesPerPixel = sorted.Sum(c => BytesPerValue(c.Type));
        var raw = new byte[checked(bytesPerPixel * width * linesPerBlock)];
        for (int block = 0; block < blocks; block++)
        {
            int firstLine = block * linesPerBlock;
            int lines = Math.Min(linesPerBlock, height - firstLine);
            int size = Pack(sorted, width, firstLine, lines, raw);
            offsets[block] = destination.Position - start;
            writer.Write(firstLine);
            byte[]? packed = compression == ExrCompression.Zip ? Compress(raw.AsSpan(0, size)) : null;
            // As OpenEXR does: a block that does not shrink is stored raw, and readers tell by its size.
            if (packed is not null && packed.Length < size)
            {
                writer.Write(packed.Length);
                writer.Write(packed);
            }
            else
            {
                writer.Write(size);
                writer.Write(raw, 0, size);
            }
        }

        long end = destination.Position;
        destination.Position = tablePosition;
        foreach (long offset in offsets)
        {
            writer.Write((ulong)offset);
        }

        writer.Flush();
        destination.Position = end;
    }

    /// <summary>Writes the file to <paramref name="path"/>, replacing it atomically so a reader never sees half an image.</summary>
    public static void Write(string path, int width, int height, IReadOnlyList<ExrChannel> channels, ExrCompression compression)
    {
        string temporary = path + ".partial";
        using (FileStream stream = File.Create(temporary))
        {
            Write(stream, width, height, channels, compression);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Bytes one value of <paramref name="type"/> takes in the file.</summary>
    internal static int BytesPerValue(ExrPixelType type) => type == ExrPixelType.Half ? 2 : 4;

    /// <summary>Channel names in the file's order: by their bytes, as OpenEXR's channel list requires.</summary>
    internal static int CompareNames(string a, string b) => string.CompareOrdinal(a, b);

    /// <summary>OpenEXR ZIP's byte split and delta predictor, in place into <paramref name="output"/>.</summary>
    internal static void SplitAndPredict(ReadOnlySpan<byte> raw, Span<byte> output)
    {
        int half = (raw.Length + 1) / 2;
        for (int i = 0; i < raw.Length; i++)
        {
            output[(i & 1) == 0 ? i / 2 : half + (i / 2)] = raw[i];
        }

        int previous = raw.Length > 0 ? output[0] : 0;
        for (int i = 1; i < raw.Length; i++)
        {
            int current = output[i];
            output[i] = (byte)(current - previous + 128 + 256);
            previous = current;
        }
    }

    private static ExrChannel[] Validate(int width, int height, IReadOnlyList<ExrChannel> channels, ExrCompression compression)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, Core.ImageSize.MaxDimension);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, Core.ImageSize.MaxDimension);
        if (compression is not (ExrCompression.None or ExrCompression.Zip))
        {
            throw new ArgumentException($"Unsupported EXR compression {compression}.", nameof(compression));
        }

        if (channels.Count is < 1 or > MaxChannels)
        {
            throw new ArgumentException($"An EXR here holds 1 to {MaxChannels} channels; got {channels.Count}.", nameof(channels));
        }

        long pixels = (long)width * height;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (ExrChannel channel in channels)
        {
            ArgumentNullException.ThrowIfNull(channel);
            if (channel.Name.Length is < 1 or > MaxNameLength || channel.Name.Any(c => c is < '!' or > '~'))
            {
                throw new ArgumentException($"Channel name '{channel.Name}' must be 1 to {MaxNameLength} printable ASCII characters.", nameof(channels));
            }

            if (!names.Add(channel.Name))
            {
                throw new ArgumentException($"Channel '{channel.Name}' is given twice.", nameof(channels));
            }

            if (channel.Type is not (ExrPixelType.Half or ExrPixelType.Float))
            {
                throw new ArgumentException($"Channel '{channel.Name}' has unsupported type {channel.Type}.", nameof(channels));
            }

            if (channel.Values.Length != pixels)
            {
                throw new ArgumentException($"Channel '{channel.Name}' holds {channel.Values.Length} values for {width}x{height} pixels.", nameof(channels));
            }
        }

        ExrChannel[] sorted = [.. channels];
        Array.Sort(sorted, (a, b) => CompareNames(a.Name, b.Name));
        return sorted;
    }

    private static void WriteHeader(BinaryWriter writer, int width, int height, ExrChannel[] channels, ExrCompression compression)
    {
        var list = new MemoryStream();
        Span<byte> fields = stackalloc byte[16];
        foreach (ExrChannel channel in channels)
        {
            list.Write(Encoding.ASCII.GetBytes(channel.Name));
            list.WriteByte(0);
            fields.Clear();
            BinaryPrimitives.WriteInt32LittleEndian(fields, (int)channel.Type);
            // pLinear 0 and three reserved bytes stay zero; x and y sampling are 1.
            BinaryPrimitives.WriteInt32LittleEndian(fields[8..], 1);
            BinaryPrimitives.WriteInt32LittleEndian(fields[12..], 1);
            list.Write(fields);
        }

        list.WriteByte(0);
        WriteAttribute(writer, "channels", "chlist", list.ToArray());
        WriteAttribute(writer, "compression", "compression", [(byte)compression]);
        byte[] window = Box(width, height);
        WriteAttribute(writer, "dataWindow", "box2i", window);
        WriteAttribute(writer, "displayWindow", "box2i", window);
        WriteAttribute(writer, "lineOrder", "lineOrder", [0]); // INCREASING_Y
        WriteAttribute(writer, "pixelAspectRatio", "float", BitConverter.GetBytes(1f));
        WriteAttribute(writer, "screenWindowCenter", "v2f", new byte[8]);
        WriteAttribute(writer, "screenWindowWidth", "float", BitConverter.GetBytes(1f));
        writer.Write((byte)0);
    }

    private static byte[] Box(int width, int height)
    {
        var box = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(box.AsSpan(8), width - 1);
        BinaryPrimitives.WriteInt32LittleEndian(box.AsSpan(12), height - 1);
        return box;
    }

    private static void WriteAttribute(BinaryWriter writer, string name, string type, byte[] value)
    {
        writer.Write(Encoding.ASCII.GetBytes(name));
        writer.Write((byte)0);
        writer.Write(Encoding.ASCII.GetBytes(type));
        writer.Write((byte)0);
        writer.Write(value.Length);
        writer.Write(value);
    }

    // A block's bytes: for each scanline, each channel's values of that line in channel order, little-endian.
    private static int Pack(ExrChannel[] channels, int width, int firstLine, int lines, byte[] raw)
    {
        int at = 0;
        for (int y = firstLine; y < firstLine + lines; y++)
        {
            int row = y * width;
            foreach (ExrChannel channel in channels)
            {
                ReadOnlySpan<float> values = channel.Values.AsSpan(row, width);
                if (channel.Type == ExrPixelType.Half)
                {
                    foreach (float value in values)
                    {
                        BinaryPrimitives.WriteHalfLittleEndian(raw.AsSpan(at), (Half)value);
                        at += 2;
                    }
                }
                else
                {
                    foreach (float value in values)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(at), value);
                        at += 4;
                    }
                }
            }
        }

        return at;
    }

    private static byte[] Compress(ReadOnlySpan<byte> raw)
    {
        var predicted = new byte[raw.Length];
        SplitAndPredict(raw, predicted);
        using var packed = new MemoryStream();
        using (var zlib = new ZLibStream(packed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(predicted);
        }

        return packed.ToArray();
    }
}
