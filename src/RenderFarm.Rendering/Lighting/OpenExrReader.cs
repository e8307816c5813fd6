using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Lighting;

/// <summary>
/// Reads single-part scanline OpenEXR files with no, RLE, ZIPS or ZIP compression and R, G, B channels of
/// half, float or uint samples (other channels, such as A, are skipped). Tiled, deep and multi-part files and the
/// wavelet and lossy codecs are refused in one line.
/// </summary>
internal static class OpenExrReader
{
    private const int MaxHeaderBytes = 1 << 20;
    private const int MaxChannels = 64;

    /// <exception cref="InvalidDataException">The file is malformed or uses a variant this reader refuses.</exception>
    public static HdrImage Read(ReadOnlySpan<byte> data)
    {
        var reader = new Reader(data);
        reader.Skip(4);
        uint version = reader.UInt32();
        if ((version & 0xFF) != 2)
        {
            throw new InvalidDataException($"its OpenEXR version {version & 0xFF} is not 2.");
        }

        if ((version & 0x200) != 0 || (version & 0x1800) != 0)
        {
            throw new InvalidDataException("it is tiled, deep or multi-part; only single-part scanline files are supported.");
        }

        List<Channel>? channels = null;
        int compression = -1;
        (int XMin, int YMin, int XMax, int YMax)? window = null;
        while (true)
        {
            if (reader.Position > MaxHeaderBytes)
            {
                throw new InvalidDataException("its header is larger than 1 MiB.");
            }

            string name = reader.Name();
            if (name.Length == 0)
            {
                break;
            }

            string type = reader.Name();
            int size = reader.Int32();
            if (size < 0 || size > MaxHeaderBytes)
            {
                throw new InvalidDataException($"its attribute {name} declares {size} bytes.");
            }

            var value = new Reader(reader.Take(size));
            switch (name)
            {
                case "channels" when type == "chlist":
                    channels = ReadChannels(value);
                    break;
                case "compression" when type == "compression" && size == 1:
                    compression = value.Byte();
                    break;
                case "dataWindow" when type == "box2i" && size == 16:
                    window = (value.Int32(), value.Int32(), value.Int32(), value.Int32());
                    break;
                case "channels" or "compression" or "dataWindow":
                    throw new InvalidDataException($"its attribute {name} has type {type}.");
            }
        }

        if (channels is null || window is null || compression < 0)
        {
            throw new InvalidDataException("its header lacks channels, compression or dataWindow.");
        }

        (int xMin, int yMin, int xMax, int yMax) = window.Value;
        long width = (long)xMax - xMin + 1, height = (long)yMax - yMin + 1;
        EnvironmentFile.CheckSize(width, height);
        int linesPerBlock = compression switch
        {
            0 or 1 or 2 => 1,
            3 => 16,
            4 => throw new InvalidDataException("its PIZ compression is not supported (use ZIP or none)."),
            _ => throw new InvalidDataException($"its compression {compression} is not supported (use ZIP or none)."),
        };
        int[] rgb = new[] { "R", "G", "B" }.Select(c => channels.FindIndex(ch => ch.Name == c)).ToArray();
        if (rgb.Any(i => i < 0))
        {
            throw new InvalidDataException("it has no R, G and B channels.");
        }

        int w = (int)width, h = (int)height;
        long bytesPerLine = 0;
        foreach (Channel channel in channels)
        {
            bytesPerLine += (long)channel.BytesPerSample * w;
        }

        var image = new HdrImage(w, h);
        int blocks = (h + linesPerBlock - 1) / linesPerBlock;
        var filled = new bool[blocks];
        var offsets = new long[blocks];
        for (int i = 0; i < blocks; i++)
        {
            offsets[i] = reader.Int64();
        }

        byte[] unpacked = new byte[bytesPerLine * linesPerBlock];
        foreach (long offset in offsets)
        {
            if (offset < reader.Position || offset > data.Length - 8)
            {
                throw new InvalidDataException($"a chunk offset {offset} lies outside the file.");
            }

            var chunk = new Reader(data[(int)offset..]);
            int y = chunk.Int32();
            int packedSize = chunk.Int32();
            long line = (long)y - yMin;
            if (line < 0 || line >= h || line % linesPerBlock != 0)
            {
                throw new InvalidDataException($"a chunk names scanline {y}, outside the data window or off its block.");
            }

            int block = (int)(line / linesPerBlock);
            if (filled[block])
            {
                throw new InvalidDataException($"scanline {y} comes twice.");
            }

            filled[block] = true;
            int lines = (int)Math.Min(linesPerBlock, h - line);
            int unpackedSize = (int)(bytesPerLine * lines);
            ReadOnlySpan<byte> packed = packedSize >= 0 ? chunk.Take(packedSize) : throw new InvalidDataException("a chunk has a negative size.");
            Unpack(packed, compression, unpacked.AsSpan(0, unpackedSize));
            Scatter(unpacked.AsSpan(0, unpackedSize), channels, rgb, image, (int)line, lines);
        }

        return image;
    }

    private static List<Channel> ReadChannels(Reader value)
    {
        var channels = new List<Channel>();
        while (true)
        {
            string name = value.Name();
            if (name.Length == 0)
            {
                return channels;
            }

            int type = value.Int32();
            value.Skip(4);
            int xSampling = value.Int32(), ySampling = value.Int32();
            if (type is < 0 or > 2)
            {
                throw new InvalidDataException($"its channel {name} has pixel type {type}.");
            }

            if (xSampling != 1 || ySampling != 1)
            {
                throw new InvalidDataException($"its channel {name} is subsampled, which is not supported.");
            }

            if (channels.Count == MaxChannels)
            {
                throw new InvalidDataException($"it has more than {MaxChannels} channels.");
            }

            channels.Add(new Channel(name, type));
        }
    }

    // Raw when the chunk is not smaller than its pixels (OpenEXR stores incompressible chunks that way).
    private static void Unpack(ReadOnlySpan<byte> packed, int compression, Span<byte> target)
    {
        if (compression == 0 || packed.Length >= target.Length)
        {
            if (packed.Length != target.Length)
            {
                throw new InvalidDataException($"an uncompressed chunk holds {packed.Length} bytes, not {target.Length}.");
            }

            packed.CopyTo(target);
            return;
        }

        byte[] staged = new byte[target.Length];
        if (compression == 1)
        {
            UnRunLength(packed, staged);
        }
        else
        {
            Inflate(packed, staged);
        }

        // Undo the predictor (each byte stored as the difference to the one before, plus 128)…
        for (int i = 1; i < staged.Length; i++)
        {
            staged[i] = unchecked((byte)(staged[i - 1] + staged[i] - 128));
        }

        // …and the split into the even bytes, then the odd ones.
        int half = (staged.Length + 1) / 2;
        for (int i = 0; i < target.Length; i++)
        {
            target[i] = (i & 1) == 0 ? staged[i / 2] : staged[half + (i / 2)];
        }
    }

    private static void Inflate(ReadOnlySpan<byte> packed, byte[] staged)
    {
        try
        {
            using var source = new MemoryStream(packed.ToArray(), writable: false);
            using var inflater = new ZLibStream(source, CompressionMode.Decompress);
            inflater.ReadExactly(staged);
            if (inflater.ReadByte() >= 0)
            {
                throw new InvalidDataException("a ZIP chunk inflates to more than its scanlines.");
            }
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("a ZIP chunk inflates to less than its scanlines.");
        }
    }

    private static void UnRunLength(ReadOnlySpan<byte> packed, byte[] staged)
    {
        int read = 0, written = 0;
        while (read < packed.Length)
        {
            int count = (sbyte)packed[read++];
            if (count < 0)
            {
                count = -count;
                if (count > packed.Length - read || count > staged.Length - written)
                {
                    throw new InvalidDataException("an RLE chunk overflows.");
                }

                packed.Slice(read, count).CopyTo(staged.AsSpan(written));
                read += count;
            }
            else
            {
                count++;
                if (read >= packed.Length || count > staged.Length - written)
                {
                    throw new InvalidDataException("an RLE chunk overflows.");
                }

                staged.AsSpan(written, count).Fill(packed[read++]);
            }

            written += count;
        }

        if (written != staged.Length)
        {
            throw new InvalidDataException("an RLE chunk holds fewer bytes than its scanlines.");
        }
    }

    // Each scanline holds every channel's samples in turn, channels in the header's (alphabetical) order.
    private static void Scatter(ReadOnlySpan<byte> pixels, List<Channel> channels, int[] rgb, HdrImage image, int firstLine, int lines)
    {
        int width = image.Width;
        int position = 0;
        for (int line = 0; line < lines; line++)
        {
            int row = (firstLine + line) * width * 3;
            for (int c = 0; c < channels.Count; c++)
            {
                Channel channel = channels[c];
                int target = Array.IndexOf(rgb, c);
                if (target >= 0)
                {
                    for (int x = 0; x < width; x++)
                    {
                        ReadOnlySpan<byte> sample = pixels.Slice(position + (x * channel.BytesPerSample), channel.BytesPerSample);
                        image.Pixels[row + (x * 3) + target] = channel.Type switch
                        {
                            0 => BinaryPrimitives.ReadUInt32LittleEndian(sample),
                            1 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(sample)),
                            _ => BinaryPrimitives.ReadSingleLittleEndian(sample),
                        };
                    }
                }

                position += width * channel.BytesPerSample;
            }
        }
    }

    private sealed record Channel(string Name, int Type)
    {
        public int BytesPerSample => Type == 1 ? 2 : 4;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || count > _data.Length - Position)
            {
                throw new InvalidDataException("it ends early.");
            }

            ReadOnlySpan<byte> taken = _data.Slice(Position, count);
            Position += count;
            return taken;
        }

        public void Skip(int count) => _ = Take(count);

        public byte Byte() => Take(1)[0];

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        // A NUL-terminated name of at most 255 bytes.
        public string Name()
        {
            int end = _data[Position..].IndexOf((byte)0);
            if (end < 0 || end > 255)
            {
                throw new InvalidDataException("a name in its header is not closed within 255 bytes.");
            }

            string name = Encoding.ASCII.GetString(Take(end));
            Position++;
            return name;
        }
    }
}
