using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using RenderFarm.Core;
using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>
/// A tensor known while planning: an initializer, a Constant node or a folded result. Elements are held as doubles,
/// which represent every float32 exactly and every integer that can be a shape, index or slice bound.
/// </summary>
/// <remarks>
/// Float initializers keep their float32 elements and widen to doubles only when folding reads them, so weights that
/// only go to the GPU cost 4 bytes per element on the host.
/// </remarks>
internal sealed class CpuTensor
{
    private readonly float[]? _floats;
    private double[]? _data;

    public CpuTensor(int[] shape, double[] data, bool isInteger)
    {
        if (ShapeMath.Count(shape) != data.Length)
        {
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] does not hold {data.Length} elements.", nameof(data));
        }

        Shape = shape;
        _data = data;
        IsInteger = isInteger;
    }

    public CpuTensor(int[] shape, float[] floats)
    {
        if (ShapeMath.Count(shape) != floats.Length)
        {
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] does not hold {floats.Length} elements.", nameof(floats));
        }

        Shape = shape;
        _floats = floats;
    }

    public int[] Shape { get; }

    /// <summary>The elements as doubles (widened from float32 on first use for float initializers).</summary>
    public double[] Data => _data ??= Array.ConvertAll(_floats!, f => (double)f);

    /// <summary>True for integer and boolean tensors, whose arithmetic truncates.</summary>
    public bool IsInteger { get; }

    public int Length => _floats?.Length ?? _data!.Length;

    public static CpuTensor Scalar(double value, bool isInteger) => new([], [value], isInteger);

    public static CpuTensor Vector(IReadOnlyList<long> values) => new([values.Count], values.Select(v => (double)v).ToArray(), true);

    /// <summary>A new array of the elements as float32.</summary>
    public float[] ToFloats()
    {
        if (_floats is not null)
        {
            return (float[])_floats.Clone();
        }

        var result = new float[Data.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (float)Data[i];
        }

        return result;
    }

    public long[] ToLongs()
    {
        var result = new long[Data.Length];
        for (int i = 0; i < result.Length; i++)
        {
            double v = Data[i];
            result[i] = v >= long.MaxValue ? long.MaxValue : v <= long.MinValue ? long.MinValue : (long)v;
        }

        return result;
    }

    /// <summary>Reads an ONNX tensor; external data and unsupported element types are refused.</summary>
    public static CpuTensor FromProto(TensorProto proto)
    {
        string name = string.IsNullOrEmpty(proto.Name) ? "(unnamed)" : proto.Name;
        if (proto.DataLocation == TensorProto.Types.DataLocation.External || proto.ExternalData.Count > 0)
        {
            throw new UserInputException(
                $"Tensor '{name}' keeps its data in an external file; only self-contained .onnx models are supported.");
        }

        var shape = new int[proto.Dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long dim = proto.Dims[i];
            if (dim < 0 || dim > int.MaxValue)
            {
                throw new UserInputException($"Tensor '{name}' has an invalid dimension {dim}.");
            }

            shape[i] = (int)dim;
        }

        long count = ShapeMath.Count(shape);
        var type = (TensorProto.Types.DataType)proto.DataType;
        ByteString raw = proto.RawData;
        if (type == TensorProto.Types.DataType.Float)
        {
            if (!raw.IsEmpty && raw.Length == count * 4 && BitConverter.IsLittleEndian)
            {
                return new CpuTensor(shape, MemoryMarshal.Cast<byte, float>(raw.Span).ToArray());
            }

            if (raw.IsEmpty && proto.FloatData.Count == count)
            {
                return new CpuTensor(shape, proto.FloatData.ToArray());
            }
        }

        var data = new double[count];
        bool isInteger = type != TensorProto.Types.DataType.Float && type != TensorProto.Types.DataType.Double &&
            type != TensorProto.Types.DataType.Float16 && type != TensorProto.Types.DataType.Bfloat16;
        int elementSize = type switch
        {
            TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
            TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 => 8,
            TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or
                TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 => 2,
            TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool => 1,
            _ => throw new UserInputException(
                $"Tensor '{name}' has element type {type}, which the engine does not support."),
        };

        if (!raw.IsEmpty)
        {
            if (raw.Length != count * elementSize)
            {
                throw new UserInputException(
                    $"Tensor '{name}' of shape [{string.Join(", ", shape)}] needs {count * elementSize} bytes of raw data but has {raw.Length}.");
            }

            ReadOnlySpan<byte> bytes = raw.Span;
            for (int i = 0; i < count; i++)
            {
                ReadOnlySpan<byte> e = bytes.Slice(i * elementSize, elementSize);
                data[i] = type switch
                {
                    TensorProto.Types.DataType.Float => BinaryPrimitives.ReadSingleLittleEndian(e),
                    TensorProto.Types.DataType.Double => BinaryPrimitives.ReadDoubleLittleEndian(e),
                    TensorProto.Types.DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(e),
                    TensorProto.Types.DataType.Uint32 => BinaryPrimitives.ReadUInt32LittleEndian(e),
                    TensorProto.Types.DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(e),
                    TensorProto.Types.DataType.Uint64 => BinaryPrimitives.ReadUInt64LittleEndian(e),
                    TensorProto.Types.DataType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(e),
                    TensorProto.Types.DataType.Bfloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(e) << 16),
                    TensorProto.Types.DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(e),
                    TensorProto.Types.DataType.Uint16 => BinaryPrimitives.ReadUInt16LittleEndian(e),
                    TensorProto.Types.DataType.Int8 => (sbyte)e[0],
                    _ => e[0],
                };
            }

            return new CpuTensor(shape, data, isInteger);
        }

        // Typed fields: float_data for FLOAT; int32_data for the narrow types (16-bit floats as bit patterns);
        // int64_data for INT64; double_data for DOUBLE.
        int available;
        switch (type)
        {
            case TensorProto.Types.DataType.Float:
                available = proto.FloatData.Count;
                for (int i = 0; i < Math.Min(available, data.Length); i++)
                {
                    data[i] = proto.FloatData[i];
                }

                break;
            case TensorProto.Types.DataType.Double:
                available = proto.DoubleData.Count;
                for (int i = 0; i < Math.Min(available, data.Length); i++)
                {
                    data[i] = proto.DoubleData[i];
                }

                break;
            case TensorProto.Types.DataType.Int64:
                available = proto.Int64Data.Count;
                for (int i = 0; i < Math.Min(available, data.Length); i++)
                {
                    data[i] = proto.Int64Data[i];
                }

                break;
            case TensorProto.Types.DataType.Uint32 or TensorProto.Types.DataType.Uint64:
                throw new UserInputException($"Tensor '{name}' of type {type} must use raw_data.");
            default:
                available = proto.Int32Data.Count;
                for (int i = 0; i < Math.Min(available, data.Length); i++)
                {
                    int bits = proto.Int32Data[i];
                    data[i] = type switch
                    {
                        TensorProto.Types.DataType.Float16 => (double)BitConverter.UInt16BitsToHalf((ushort)bits),
                        TensorProto.Types.DataType.Bfloat16 => BitConverter.Int32BitsToSingle(bits << 16),
                        _ => bits,
                    };
                }

                break;
        }

        if (available != count)
        {
            throw new UserInputException(
                $"Tensor '{name}' of shape [{string.Join(", ", shape)}] holds {available.ToString(CultureInfo.InvariantCulture)} values instead of {count}.");
        }

        return new CpuTensor(shape, data, isInteger);
    }
}
