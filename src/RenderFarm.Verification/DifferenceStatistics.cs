using System.Buffers;
using SixLabors.ImageSharp;

namespace RenderFarm.Verification;

/// <summary>
/// The differences between re-rendered (expected) and delivered (actual) pixels over a set of regions, in linear light:
/// how many pixels lie beyond the tolerance, per region and in all, and the distribution of the signed per-pixel
/// difference (the mean of a pixel's three channels, delivered minus re-rendered) that the bias test reads.
/// </summary>
/// <param name="Regions">Regions compared.</param>
/// <param name="Pixels">Pixels compared over all regions.</param>
/// <param name="PixelsBeyondTolerance">Pixels with a channel beyond the tolerance, over all regions.</param>
/// <param name="BeyondPerRegion">Pixels beyond the tolerance in each region, in order.</param>
/// <param name="PixelsPerRegion">Pixels of each region, in order.</param>
/// <param name="MeanSignedDifference">Mean over the pixels of the signed difference.</param>
/// <param name="SignedStandardDeviation">Standard deviation of the signed difference over the pixels.</param>
/// <param name="RootMeanSquare">Root mean square of the channel differences.</param>
/// <param name="MaxAbsoluteDifference">Largest difference of any channel of any pixel.</param>
/// <param name="MinPsnr">Lowest PSNR of any region in dB; positive infinity when all regions are identical.</param>
/// <param name="MaxRegionShareBeyond">Largest share of one region's pixels beyond the tolerance.</param>
public sealed record DifferenceStatistics(
    int Regions,
    int Pixels,
    int PixelsBeyondTolerance,
    IReadOnlyList<int> BeyondPerRegion,
    IReadOnlyList<int> PixelsPerRegion,
    double MeanSignedDifference,
    double SignedStandardDeviation,
    double RootMeanSquare,
    double MaxAbsoluteDifference,
    double MinPsnr,
    double MaxRegionShareBeyond)
{
    /// <summary>
    /// The bias statistic: the signed mean difference in standard errors, <c>mean · √n / sd</c>, zero when nothing
    /// differs. Honest divergence between devices moves pixels both ways; a brighter or darker render, or one with
    /// fewer bounces, moves them all one way.
    /// </summary>
    public double BiasZ => SignedStandardDeviation > 0 && Pixels > 1
        ? MeanSignedDifference * Math.Sqrt(Pixels) / SignedStandardDeviation
        : (MeanSignedDifference == 0 ? 0 : Math.CopySign(double.PositiveInfinity, MeanSignedDifference));

    /// <summary>
    /// The bias statistic of the part of the signed mean beyond <paramref name="minEffect"/>:
    /// <c>sign(mean) · max(0, |mean| − minEffect) · √n / sd</c>. A device whose arithmetic shifts every render by a
    /// hair gives a large <see cref="BiasZ"/> on a large check without any cheat; this statistic stays near zero for it.
    /// </summary>
    public double BiasZBeyond(double minEffect)
    {
        double excess = Math.Max(0, Math.Abs(MeanSignedDifference) - minEffect);
        if (excess == 0)
        {
            return 0;
        }

        return SignedStandardDeviation > 0 && Pixels > 1
            ? Math.CopySign(excess * Math.Sqrt(Pixels) / SignedStandardDeviation, MeanSignedDifference)
            : Math.CopySign(double.PositiveInfinity, MeanSignedDifference);
    }

    /// <summary>Measures the differences of equally sized region pairs: <paramref name="expected"/>'s regions against <paramref name="actual"/>'s.</summary>
    /// <param name="expected">The re-render (for a tile check, the validator's strip of tiles).</param>
    /// <param name="expectedRegions">Regions of <paramref name="expected"/>.</param>
    /// <param name="actual">The delivered frame.</param>
    /// <param name="actualRegions">The same number of regions of <paramref name="actual"/>, each the size of its partner.</param>
    /// <param name="tolerance">Per-channel difference in linear light above which a pixel counts as beyond, in [0, 1].</param>
    public static DifferenceStatistics Measure(
        Image expected, IReadOnlyList<Rectangle> expectedRegions, Image actual, IReadOnlyList<Rectangle> actualRegions, float tolerance)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(expectedRegions);
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(actualRegions);
        if (expectedRegions.Count != actualRegions.Count || expectedRegions.Count == 0)
        {
            throw new ArgumentException("Both sides need the same, non-zero number of regions.", nameof(actualRegions));
        }

        if (!(tolerance >= 0f && tolerance <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must lie in [0, 1].");
        }

        var accumulator = new Accumulator(tolerance);
        for (int i = 0; i < expectedRegions.Count; i++)
        {
            Rectangle e = expectedRegions[i], a = actualRegions[i];
            if (e.Size != a.Size)
            {
                throw new ArgumentException($"Region sizes differ: {e.Size} and {a.Size}.", nameof(actualRegions));
            }

            int length = checked(e.Width * e.Height * 3);
            float[] first = ArrayPool<float>.Shared.Rent(length);
            float[] second = ArrayPool<float>.Shared.Rent(length);
            try
            {
                PixelComparison.ReadLinear(expected, e, first.AsSpan(0, length));
                PixelComparison.ReadLinear(actual, a, second.AsSpan(0, length));
                accumulator.Add(first.AsSpan(0, length), second.AsSpan(0, length));
            }
            finally
            {
                ArrayPool<float>.Shared.Return(first);
                ArrayPool<float>.Shared.Return(second);
            }
        }

        return accumulator.Result();
    }

    /// <summary>Measures interleaved linear RGB buffers, one pair per region (three values per pixel, in [0, 1]).</summary>
    public static DifferenceStatistics Measure(IReadOnlyList<(float[] Expected, float[] Actual)> regions, float tolerance)
    {
        ArgumentNullException.ThrowIfNull(regions);
        if (regions.Count == 0)
        {
            throw new ArgumentException("At least one region is needed.", nameof(regions));
        }

        var accumulator = new Accumulator(tolerance);
        foreach ((float[] expected, float[] actual) in regions)
        {
            accumulator.Add(expected, actual);
        }

        return accumulator.Result();
    }

    private sealed class Accumulator(float tolerance)
    {
        private readonly List<int> _beyondPerRegion = [];
        private readonly List<int> _pixelsPerRegion = [];
        private int _pixels;
        private int _beyond;
        private double _sum;
        private double _sumOfSquares;
        private double _channelSquares;
        private double _max;
        private double _minPsnr = double.PositiveInfinity;
        private double _maxShare;

        public void Add(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
        {
            if (expected.Length != actual.Length || expected.Length % 3 != 0 || expected.Length == 0)
            {
                throw new ArgumentException("Both buffers of a region must hold the same, non-zero number of RGB pixels.");
            }

            int beyond = 0;
            double regionSquares = 0;
            for (int i = 0; i < expected.Length; i += 3)
            {
                double r = (double)actual[i] - expected[i];
                double g = (double)actual[i + 1] - expected[i + 1];
                double b = (double)actual[i + 2] - expected[i + 2];
                double largest = Math.Max(Math.Abs(r), Math.Max(Math.Abs(g), Math.Abs(b)));
                _max = Math.Max(_max, largest);
                if (largest > tolerance)
                {
                    beyond++;
                }

                double signed = (r + g + b) / 3;
                _sum += signed;
                _sumOfSquares += signed * signed;
                regionSquares += (r * r) + (g * g) + (b * b);
            }

            int pixels = expected.Length / 3;
            _channelSquares += regionSquares;
            double meanSquare = regionSquares / expected.Length;
            _minPsnr = Math.Min(_minPsnr, meanSquare > 0 ? -10 * Math.Log10(meanSquare) : double.PositiveInfinity);
            _maxShare = Math.Max(_maxShare, (double)beyond / pixels);
            _pixels += pixels;
            _beyond += beyond;
            _beyondPerRegion.Add(beyond);
            _pixelsPerRegion.Add(pixels);
        }

        public DifferenceStatistics Result()
        {
            double mean = _sum / _pixels;
            double variance = _pixels > 1 ? Math.Max(0, (_sumOfSquares - (_pixels * mean * mean)) / (_pixels - 1)) : 0;
            return new DifferenceStatistics(
                _beyondPerRegion.Count,
                _pixels,
                _beyond,
                [.. _beyondPerRegion],
                [.. _pixelsPerRegion],
                mean,
                Math.Sqrt(variance),
                Math.Sqrt(_channelSquares / (3.0 * _pixels)),
                _max,
                _minPsnr,
                _maxShare);
        }
    }
}
