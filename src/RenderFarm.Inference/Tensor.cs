namespace RenderFarm.Inference;

/// <summary>
/// A dense, row-major tensor: the unit of model inputs and outputs. Elements are held as 32-bit floats whatever the
/// <see cref="ElementType"/>, which says how they are read from and written to files: integer and boolean elements are
/// whole numbers, exact up to 2^24 in magnitude (token ids, masks, positions, class indices).
/// </summary>
public sealed class Tensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">A dimension is negative or the element count does not match the shape.</exception>
    public Tensor(IReadOnlyList<int> shape, float[] data)
        : this(shape, data, TensorElementType.Float32)
    {
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/> and <paramref name="elementType"/>.</summary>
    /// <exception cref="ArgumentException">A dimension is negative or the element count does not match the shape.</exception>
    public Tensor(IReadOnlyList<int> shape, float[] data, TensorElementType elementType)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = 1;
        foreach (int dimension in shape)
        {
            if (dimension < 0)
            {
                throw new ArgumentException($"Tensor dimensions must not be negative; got [{string.Join(", ", shape)}].", nameof(shape));
            }

            count *= dimension;
        }

        if (count != data.Length)
        {
            throw new ArgumentException(
                $"A tensor of shape [{string.Join(", ", shape)}] holds {count} elements, but {data.Length} were given.", nameof(data));
        }

        Shape = [.. shape];
        Data = data;
        ElementType = elementType;
    }

    /// <summary>The size of each dimension, outermost first.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The elements in row-major order.</summary>
    public float[] Data { get; }

    /// <summary>The number of elements.</summary>
    public int Length => Data.Length;

    /// <summary>The element type of the model input or output the tensor is for, and of its files.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>A zero-filled tensor of <paramref name="shape"/>.</summary>
    public static Tensor Zeros(params int[] shape)
    {
        long count = 1;
        foreach (int dimension in shape)
        {
            count *= dimension;
        }

        return new Tensor(shape, new float[count]);
    }

    /// <inheritdoc />
    public override string ToString() => $"Tensor[{string.Join("×", Shape)}]";
}

/// <summary>The element types of model inputs and outputs the engine reads and writes.</summary>
public enum TensorElementType
{
    /// <summary>IEEE 754 single precision.</summary>
    Float32,

    /// <summary>IEEE 754 half precision; computed in single precision and rounded on output.</summary>
    Float16,

    /// <summary>Signed 64-bit integers (token ids, masks, indices), exact up to 2^24 in magnitude.</summary>
    Int64,

    /// <summary>Signed 32-bit integers, exact up to 2^24 in magnitude.</summary>
    Int32,

    /// <summary>Unsigned bytes.</summary>
    UInt8,

    /// <summary>Booleans, 0 or 1.</summary>
    Bool,
}
