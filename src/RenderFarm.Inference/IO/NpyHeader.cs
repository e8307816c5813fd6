namespace RenderFarm.Inference.IO;

/// <summary>The element types <see cref="NpyFile"/> reads.</summary>
public enum NpyDataType
{
    /// <summary>IEEE 754 single precision, <c>f4</c>.</summary>
    Float32,

    /// <summary>IEEE 754 double precision, <c>f8</c>.</summary>
    Float64,

    /// <summary>Signed 64-bit integer, <c>i8</c>.</summary>
    Int64,

    /// <summary>Signed 32-bit integer, <c>i4</c>.</summary>
    Int32,

    /// <summary>Unsigned byte, <c>u1</c>.</summary>
    UInt8,

    /// <summary>Boolean, one byte, <c>b1</c>.</summary>
    Bool,

    /// <summary>IEEE 754 half precision, <c>f2</c>.</summary>
    Float16,
}

/// <summary>What a .npy header says about its array.</summary>
/// <param name="DataType">The element type on disk.</param>
/// <param name="LittleEndian">The byte order on disk.</param>
/// <param name="Shape">The array's shape, outermost first (empty for a scalar).</param>
public sealed record NpyHeader(NpyDataType DataType, bool LittleEndian, IReadOnlyList<int> Shape)
{
    /// <summary>The number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (count, dimension) => count * dimension);

    /// <summary>Bytes per element on disk.</summary>
    public int ElementSize => DataType switch
    {
        NpyDataType.Float32 or NpyDataType.Int32 => 4,
        NpyDataType.Float64 or NpyDataType.Int64 => 8,
        NpyDataType.Float16 => 2,
        _ => 1,
    };

    /// <summary>The tensor element type the array is read as (float64 becomes float32).</summary>
    public TensorElementType ElementType => DataType switch
    {
        NpyDataType.Float16 => TensorElementType.Float16,
        NpyDataType.Int64 => TensorElementType.Int64,
        NpyDataType.Int32 => TensorElementType.Int32,
        NpyDataType.UInt8 => TensorElementType.UInt8,
        NpyDataType.Bool => TensorElementType.Bool,
        _ => TensorElementType.Float32,
    };
}
