namespace RenderFarm.Verification;

/// <summary>
/// The orthonormal DCT-II of <see cref="Size"/>-point signals and <see cref="Size"/>×<see cref="Size"/> blocks:
/// <c>X[u] = α(u) Σₙ x[n] cos(π (2n + 1) u / 2N)</c> with <c>α(0) = √(1/N)</c> and <c>α(u) = √(2/N)</c> otherwise.
/// The basis is computed once; a transform allocates nothing on the heap.
/// </summary>
internal static class Dct
{
    /// <summary>Points per dimension.</summary>
    public const int Size = 32;

    // s_basis[(u * Size) + n] = α(u) cos(π (2n + 1) u / 2N).
    private static readonly double[] s_basis = CreateBasis();

    /// <summary>The first <paramref name="output"/>.Length coefficients of the 1-D transform of <paramref name="input"/>.</summary>
    public static void Forward(ReadOnlySpan<double> input, Span<double> output)
    {
        if (input.Length != Size || output.Length > Size)
        {
            throw new ArgumentException($"The transform takes {Size} values and yields at most {Size}.");
        }

        ReadOnlySpan<double> basis = s_basis;
        for (int u = 0; u < output.Length; u++)
        {
            ReadOnlySpan<double> row = basis.Slice(u * Size, Size);
            double sum = 0;
            for (int n = 0; n < Size; n++)
            {
                sum += row[n] * input[n];
            }

            output[u] = sum;
        }
    }

    /// <summary>
    /// The top-left <paramref name="count"/>×<paramref name="count"/> coefficients of the 2-D transform of a
    /// row-major block, written row-major to <paramref name="output"/>: <c>output[(v * count) + u]</c> holds
    /// vertical frequency v and horizontal frequency u.
    /// </summary>
    public static void ForwardTopLeft(ReadOnlySpan<float> block, int count, Span<double> output)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Size);
        if (block.Length != Size * Size || output.Length != count * count)
        {
            throw new ArgumentException($"The block must hold {Size}×{Size} values and the output {count}×{count}.");
        }

        ReadOnlySpan<double> basis = s_basis;
        // Rows first: rows[(y * count) + u] = Σₓ basis[u, x] block[y, x].
        Span<double> rows = stackalloc double[Size * Size];
        for (int y = 0; y < Size; y++)
        {
            ReadOnlySpan<float> line = block.Slice(y * Size, Size);
            for (int u = 0; u < count; u++)
            {
                ReadOnlySpan<double> cosines = basis.Slice(u * Size, Size);
                double sum = 0;
                for (int x = 0; x < Size; x++)
                {
                    sum += cosines[x] * line[x];
                }

                rows[(y * count) + u] = sum;
            }
        }

        // Then columns: output[v, u] = Σ_y basis[v, y] rows[y, u].
        for (int v = 0; v < count; v++)
        {
            ReadOnlySpan<double> cosines = basis.Slice(v * Size, Size);
            for (int u = 0; u < count; u++)
            {
                double sum = 0;
                for (int y = 0; y < Size; y++)
                {
                    sum += cosines[y] * rows[(y * count) + u];
                }

                output[(v * count) + u] = sum;
            }
        }
    }

    private static double[] CreateBasis()
    {
        var basis = new double[Size * Size];
        for (int u = 0; u < Size; u++)
        {
            double scale = Math.Sqrt((u == 0 ? 1.0 : 2.0) / Size);
            for (int n = 0; n < Size; n++)
            {
                basis[(u * Size) + n] = scale * Math.Cos(Math.PI * ((2 * n) + 1) * u / (2.0 * Size));
            }
        }

        return basis;
    }
}
