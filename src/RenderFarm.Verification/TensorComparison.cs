namespace RenderFarm.Verification;

/// <summary>How two executions of one inference item differ.</summary>
/// <param name="SameShape">Whether the shapes agree; when not, nothing else was compared.</param>
/// <param name="MaxAbsoluteDifference">Largest |a − b| over the elements.</param>
/// <param name="ShareBeyondTolerance">Share of elements with |a − b| above the tolerance.</param>
/// <param name="IsMatch">Whether they agree: same shape and every element within tolerance.</param>
public sealed record TensorDifference(bool SameShape, double MaxAbsoluteDifference, double ShareBeyondTolerance, bool IsMatch);

/// <summary>
/// Compares two float32 outputs of one model on one input element by element: they match when
/// |a − b| ≤ <see cref="AbsoluteTolerance"/> + <see cref="RelativeTolerance"/>·|b| everywhere (numpy's <c>allclose</c>).
/// </summary>
/// <remarks>
/// Two runs on one device give the same bits (the engine's kernels fix their summation order); across devices
/// fused multiply-adds and other rounding move fp32 results by a few ulps, far inside the defaults. A wrong model,
/// input or item moves them by orders of magnitude more.
/// </remarks>
/// <param name="AbsoluteTolerance">Allowed absolute difference.</param>
/// <param name="RelativeTolerance">Allowed difference relative to the reference element.</param>
public sealed record TensorComparison(double AbsoluteTolerance = 1e-4, double RelativeTolerance = 1e-3)
{
    /// <summary>Compares <paramref name="actual"/> with the reference <paramref name="expected"/>.</summary>
    public TensorDifference Compare(IReadOnlyList<int> actualShape, ReadOnlySpan<float> actual, IReadOnlyList<int> expectedShape, ReadOnlySpan<float> expected)
    {
        ArgumentNullException.ThrowIfNull(actualShape);
        ArgumentNullException.ThrowIfNull(expectedShape);
        if (!actualShape.SequenceEqual(expectedShape) || actual.Length != expected.Length)
        {
            return new TensorDifference(false, double.PositiveInfinity, 1, false);
        }

        double maxDifference = 0;
        int beyond = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double difference = Math.Abs((double)actual[i] - expected[i]);
            // NaN compares false everywhere: count it as beyond any tolerance.
            if (!(difference <= AbsoluteTolerance + (RelativeTolerance * Math.Abs((double)expected[i]))))
            {
                beyond++;
            }

            maxDifference = double.IsNaN(difference) ? double.PositiveInfinity : Math.Max(maxDifference, difference);
        }

        return new TensorDifference(true, maxDifference, actual.Length == 0 ? 0 : (double)beyond / actual.Length, beyond == 0);
    }
}
