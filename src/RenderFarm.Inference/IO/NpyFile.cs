using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>
/// NumPy's <c>.npy</c> format (versions 1.0, 2.0 and 3.0): reads float32, float64, float16, int64, int32,
/// uint8 and bool arrays of either byte order in C order into a <see cref="Tensor"/> (elements held as
/// float32, the element type kept), and writes tensors in their element type as version 1.0
/// little-endian files that <c>numpy.load</c> reads.
/// </summary>
/// <remarks>
/// The layout, from NumPy's <c>numpy/lib/format.py</c>: the magic <c>\x93NUMPY</c>, a major and a
/// minor version byte, the header length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0), then
/// the header — a Python dict literal with the keys <c>descr</c>, <c>fortran_order</c> and
/// <c>shape</c>, padded with spaces and ended by a newline so the data starts at a multiple of 64
/// bytes (ASCII in 1.0 and 2.0, UTF-8 in 3.0) — then the elements. Integers wider than 24 bits and
/// float64 values lose precision in the conversion to float32, as they would in <c>astype(np.float32)</c>.
/// </remarks>
public static class NpyFile
{
    /// <summary>The file extension, with its dot.</summary>
    public const string Extension = ".npy";

    private const int PreambleLength = 8; // magic (6) + major + minor
    private const int Alignment = 64;
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the array in the file at <paramref name="path"/> as a float32 tensor.</summary>
    /// <exception cref="UserInputException">The file is missing, unreadable, not a .npy file, or holds an array this reader refuses.</exception>
    public static Tensor Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(ReadAllBytes(path), path);
    }

    /// <summary>Reads only the header of the file at <paramref name="path"/>: enough to check an input's shape before any work.</summary>
    /// <exception cref="UserInputException">The file is missing, unreadable, not a .npy file, or its header is malformed or refused.</exception>
    public static NpyHeader ReadHeader(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using FileStream stream = File.OpenRead(path);
            Span<byte> preamble = stackalloc byte[PreambleLength + 4];
            int read = stream.ReadAtLeast(preamble, preamble.Length, throwOnEndOfStream: false);
            (int headerStart, int headerLength) = ReadPreamble(preamble[..read], path);
            var header = new byte[headerLength];
            stream.Position = headerStart;
            if (stream.ReadAtLeast(header, headerLength, throwOnEndOfStream: false) != headerLength)
            {
                throw Malformed(path, $"the header says it is {headerLength} bytes long but the file ends before that");
            }

            NpyHeader parsed = ParseHeader(DecodeHeaderText(header, preamble[6], path), path);
            CheckDataLength(parsed, stream.Length - headerStart - headerLength, path);
            return parsed;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(path, exception);
        }
    }

    /// <summary>Parses a whole .npy file held in memory.</summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="sourceName">Names the file in error messages.</param>
    /// <exception cref="UserInputException">The bytes are not a .npy file, or hold an array this reader refuses.</exception>
    public static Tensor Parse(ReadOnlySpan<byte> bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        (int headerStart, int headerLength) = ReadPreamble(bytes, sourceName);
        if (bytes.Length - headerStart < headerLength)
        {
            throw Malformed(sourceName, $"the header says it is {headerLength} bytes long but the file ends before that");
        }

        NpyHeader header = ParseHeader(DecodeHeaderText(bytes.Slice(headerStart, headerLength), bytes[6], sourceName), sourceName);
        ReadOnlySpan<byte> data = bytes[(headerStart + headerLength)..];
        CheckDataLength(header, data.Length, sourceName);
        var values = new float[header.ElementCount];
        Convert(data, header.DataType, header.LittleEndian, values);
        return new Tensor(header.Shape, values, header.ElementType);
    }

    /// <summary>Reads only the header of a whole .npy file held in memory, checking that its data is all there.</summary>
    /// <exception cref="UserInputException">The bytes are not a .npy file, or its header is malformed or refused.</exception>
    public static NpyHeader ParseHeader(ReadOnlySpan<byte> bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        (int headerStart, int headerLength) = ReadPreamble(bytes, sourceName);
        if (bytes.Length - headerStart < headerLength)
        {
            throw Malformed(sourceName, $"the header says it is {headerLength} bytes long but the file ends before that");
        }

        NpyHeader header = ParseHeader(DecodeHeaderText(bytes.Slice(headerStart, headerLength), bytes[6], sourceName), sourceName);
        CheckDataLength(header, bytes.Length - headerStart - headerLength, sourceName);
        return header;
    }

    /// <summary>Writes <paramref name="tensor"/> to <paramref name="stream"/> as a little-endian float32 .npy file (version 1.0).</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensor);
        stream.Write(Format(tensor));
    }

    /// <summary>The bytes of <paramref name="tensor"/> as a little-endian .npy file (version 1.0) of its element type.</summary>
    public static byte[] Format(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        string shape = tensor.Shape.Count switch
        {
            0 => "()",
            1 => string.Create(CultureInfo.InvariantCulture, $"({tensor.Shape[0]},)"),
            _ => "(" + string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        (string descr, int size) = tensor.ElementType switch
        {
            TensorElementType.Float16 => ("<f2", 2),
            TensorElementType.Int64 => ("<i8", 8),
            TensorElementType.Int32 => ("<i4", 4),
            TensorElementType.UInt8 => ("|u1", 1),
            TensorElementType.Bool => ("|b1", 1),
            _ => ("<f4", 4),
        };
        string dictionary = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";

        // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
        int unpadded = PreambleLength + 2 + dictionary.Length + 1;
        int padding = (Alignment - (unpadded % Alignment)) % Alignment;
        string header = dictionary + new string(' ', padding) + "\n";
        if (header.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"A tensor of rank {tensor.Shape.Count} has too long a .npy header for version 1.0.", nameof(tensor));
        }

        var bytes = new byte[PreambleLength + 2 + header.Length + ((long)tensor.Length * size)];
        Magic.CopyTo(bytes);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(PreambleLength), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header, bytes.AsSpan(PreambleLength + 2));
        Span<byte> data = bytes.AsSpan(PreambleLength + 2 + header.Length);
        for (int i = 0; i < tensor.Length; i++)
        {
            float v = tensor.Data[i];
            Span<byte> item = data.Slice(i * size, size);
            switch (tensor.ElementType)
            {
                case TensorElementType.Float16:
                    BinaryPrimitives.WriteHalfLittleEndian(item, (Half)v);
                    break;
                case TensorElementType.Int64:
                    BinaryPrimitives.WriteInt64LittleEndian(item, (long)v);
                    break;
                case TensorElementType.Int32:
                    BinaryPrimitives.WriteInt32LittleEndian(item, (int)Math.Clamp(v, int.MinValue, int.MaxValue));
                    break;
                case TensorElementType.UInt8:
                    item[0] = (byte)Math.Clamp(v, 0, 255);
                    break;
                case TensorElementType.Bool:
                    item[0] = v != 0 ? (byte)1 : (byte)0;
                    break;
                default:
                    BinaryPrimitives.WriteSingleLittleEndian(item, v);
                    break;
            }
        }

        return bytes;
    }

    private static (int HeaderStart, int HeaderLength) ReadPreamble(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < PreambleLength || !bytes[..Magic.Length].SequenceEqual(Magic))
        {
            throw new UserInputException($"{source}: not a .npy file (it does not start with the NumPy magic bytes \\x93NUMPY).");
        }

        byte major = bytes[6];
        switch (major)
        {
            case 1 when bytes.Length >= PreambleLength + 2:
                return (PreambleLength + 2, BinaryPrimitives.ReadUInt16LittleEndian(bytes[PreambleLength..]));
            case 2 or 3 when bytes.Length >= PreambleLength + 4:
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(bytes[PreambleLength..]);
                return length <= int.MaxValue - PreambleLength - 4
                    ? (PreambleLength + 4, (int)length)
                    : throw Malformed(source, $"its header length {length} is implausible");
            case 1 or 2 or 3:
                throw Malformed(source, "the file ends inside its preamble");
            default:
                throw new UserInputException(
                    $"{source}: .npy format version {major}.{bytes[7]} is not supported; versions 1.0, 2.0 and 3.0 are.");
        }
    }

    private static string DecodeHeaderText(ReadOnlySpan<byte> header, byte major, string source)
    {
        try
        {
            Encoding encoding = major == 3 ? new UTF8Encoding(false, true) : Encoding.Latin1;
            return encoding.GetString(header);
        }
        catch (DecoderFallbackException exception)
        {
            throw new UserInputException($"{source}: the .npy header is not valid UTF-8.", exception);
        }
    }

    private static NpyHeader ParseHeader(string text, string source)
    {
        Dictionary<string, object> entries;
        try
        {
            entries = new NpyHeaderReader(text).ReadDictionary();
        }
        catch (FormatException exception)
        {
            throw Malformed(source, $"its header is not a Python dict literal ({exception.Message})");
        }

        if (!entries.TryGetValue("descr", out object? descr) || descr is not string dtype)
        {
            throw Malformed(source, "its header has no 'descr' string");
        }

        if (!entries.TryGetValue("fortran_order", out object? fortran) || fortran is not bool fortranOrder)
        {
            throw Malformed(source, "its header has no 'fortran_order' True or False");
        }

        if (!entries.TryGetValue("shape", out object? shapeValue) || shapeValue is not List<long> dimensions)
        {
            throw Malformed(source, "its header has no 'shape' tuple of integers");
        }

        (NpyDataType dataType, bool littleEndian) = ParseDataType(dtype, source);
        if (fortranOrder)
        {
            throw new UserInputException(
                $"{source}: the array is stored in Fortran (column-major) order; save it in C order, e.g. np.save(path, np.ascontiguousarray(a)).");
        }

        long count = 1;
        var shape = new int[dimensions.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long dimension = dimensions[i];
            if (dimension < 0 || dimension > int.MaxValue)
            {
                throw Malformed(source, $"its shape has the dimension {dimension}");
            }

            shape[i] = (int)dimension;
            count *= dimension;
            if (count > Array.MaxLength)
            {
                throw new UserInputException(
                    $"{source}: an array of shape ({string.Join(", ", dimensions)}) is too large; at most {Array.MaxLength} elements are supported.");
            }
        }

        return new NpyHeader(dataType, littleEndian, shape);
    }

    private static (NpyDataType Type, bool LittleEndian) ParseDataType(string descr, string source)
    {
        if (descr.Length >= 2)
        {
            char order = descr[0];
            bool? littleEndian = order switch
            {
                '<' => true,
                '>' => false,
                '=' => BitConverter.IsLittleEndian,
                '|' => true, // "not applicable": single-byte types
                _ => null,
            };
            NpyDataType? type = descr[1..] switch
            {
                "f4" => NpyDataType.Float32,
                "f8" => NpyDataType.Float64,
                "i8" => NpyDataType.Int64,
                "i4" => NpyDataType.Int32,
                "u1" => NpyDataType.UInt8,
                "b1" => NpyDataType.Bool,
                "f2" => NpyDataType.Float16,
                _ => null,
            };
            if (littleEndian is bool little && type is NpyDataType known && (order != '|' || known is NpyDataType.UInt8 or NpyDataType.Bool))
            {
                return (known, little);
            }
        }

        throw new UserInputException(
            $"{source}: the .npy dtype '{descr}' is not supported; use float32, float64, float16, int64, int32, uint8 or bool (e.g. a.astype(np.float32)).");
    }

    private static void CheckDataLength(NpyHeader header, long available, string source)
    {
        long needed = header.ElementCount * header.ElementSize;
        if (available < needed)
        {
            throw Malformed(source, $"an array of shape ({string.Join(", ", header.Shape)}) needs {needed} bytes of data but the file has {available}");
        }
    }

    private static void Convert(ReadOnlySpan<byte> data, NpyDataType type, bool littleEndian, Span<float> values)
    {
        switch (type)
        {
            case NpyDataType.Float32:
                for (int i = 0; i < values.Length; i++)
                {
                    ReadOnlySpan<byte> item = data.Slice(i * 4, 4);
                    values[i] = littleEndian ? BinaryPrimitives.ReadSingleLittleEndian(item) : BinaryPrimitives.ReadSingleBigEndian(item);
                }

                break;
            case NpyDataType.Float64:
                for (int i = 0; i < values.Length; i++)
                {
                    ReadOnlySpan<byte> item = data.Slice(i * 8, 8);
                    values[i] = (float)(littleEndian ? BinaryPrimitives.ReadDoubleLittleEndian(item) : BinaryPrimitives.ReadDoubleBigEndian(item));
                }

                break;
            case NpyDataType.Int64:
                for (int i = 0; i < values.Length; i++)
                {
                    ReadOnlySpan<byte> item = data.Slice(i * 8, 8);
                    values[i] = littleEndian ? BinaryPrimitives.ReadInt64LittleEndian(item) : BinaryPrimitives.ReadInt64BigEndian(item);
                }

                break;
            case NpyDataType.Int32:
                for (int i = 0; i < values.Length; i++)
                {
                    ReadOnlySpan<byte> item = data.Slice(i * 4, 4);
                    values[i] = littleEndian ? BinaryPrimitives.ReadInt32LittleEndian(item) : BinaryPrimitives.ReadInt32BigEndian(item);
                }

                break;
            case NpyDataType.UInt8:
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = data[i];
                }

                break;
            case NpyDataType.Bool:
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = data[i] != 0 ? 1f : 0f;
                }

                break;
            case NpyDataType.Float16:
                for (int i = 0; i < values.Length; i++)
                {
                    ReadOnlySpan<byte> item = data.Slice(i * 2, 2);
                    values[i] = (float)(littleEndian ? BinaryPrimitives.ReadHalfLittleEndian(item) : BinaryPrimitives.ReadHalfBigEndian(item));
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    private static byte[] ReadAllBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(path, exception);
        }
    }

    private static UserInputException Unreadable(string path, Exception exception) => exception is FileNotFoundException or DirectoryNotFoundException
        ? new UserInputException($"{path}: no such file.", exception)
        : new UserInputException($"{path}: cannot read it: {exception.Message}", exception);

    private static UserInputException Malformed(string source, string why) => new($"{source}: not a valid .npy file: {why}.");
}
