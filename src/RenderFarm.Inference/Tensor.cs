namespace RenderFarm.Inference;

/// <summary>A dense, row-major tensor of 32-bit floats: the unit of model inputs and outputs.</summary>
public sealed class Tensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">A dimension is negative or the element count does not match the shape.</exception>
    public Tensor(IReadOnlyList<int> shape, float[] data)
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
    }

    /// <summary>The size of each dimension, outermost first.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The elements in row-major order.</summary>
    public float[] Data { get; }

    /// <summary>The number of elements.</summary>
    public int Length => Data.Length;

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
