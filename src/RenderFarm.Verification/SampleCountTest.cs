using System.Buffers;
using SixLabors.ImageSharp;

namespace RenderFarm.Verification;

/// <summary>
/// What <see cref="SampleCountTest"/> measured: per snapshot count of the validator's render, how strongly the delivered
/// pixels' difference from the validator's full render follows the snapshot's difference from it.
/// </summary>
/// <param name="SampleCounts">The snapshot counts, increasing.</param>
/// <param name="Z">Per count, the self-normalised statistic <c>Σ wᵢ / √(Σ wᵢ²)</c>.</param>
/// <param name="Slope">Per count, the projection <c>Σ d·g / Σ g·g</c>: about 1 when the delivered frame stopped at (or before) that count, about 0 when honest.</param>
public sealed record SampleCountStatistic(IReadOnlyList<int> SampleCounts, IReadOnlyList<double> Z, IReadOnlyList<double> Slope)
{
    /// <summary>The largest |z| over the counts; 0 with no counts.</summary>
    public double MaxAbsZ => Z.Count == 0 ? 0 : Z.Max(Math.Abs);

    /// <summary>The count with the largest |z|, or 0 with no counts.</summary>
    public int WorstCount => Z.Count == 0 ? 0 : SampleCounts[Enumerable.Range(0, Z.Count).MaxBy(k => Math.Abs(Z[k]))];
}

/// <summary>
/// Tells a frame rendered with fewer samples than asked from an honest one, when each of its pixels lies within the
/// tolerance: the validator keeps its accumulated tiles at a few earlier sample counts (a readback during its own render,
/// <c>PathTracer.RenderTileSnapshots</c>) and tests whether the delivered difference <c>d = delivered − full</c>
/// follows <c>g = snapshot − full</c>.
/// </summary>
/// <remarks>
/// <para>Samples come from deterministic streams, so a frame that stopped after n′ &lt; n samples is the validator's
/// snapshot at n′ plus honest divergence, and <c>d</c> correlates with <c>g</c> for snapshots at or after n′. An honest provider's
/// <c>d</c> is divergence between devices (paths that start a hair apart), of either sign and unrelated to which of the
/// validator's samples came early or late, whatever its size: the statistic does not depend on how far the devices
/// diverge. Per pixel <c>wᵢ = Σ_c ψ(d_c)·g_c</c>, ψ clamping to ± the median |g| (path-tracing noise is heavy-tailed:
/// unclamped, a few bright pixels would carry both sums); <c>z = Σ wᵢ / √(Σ wᵢ²)</c>. For independent terms symmetric about
/// zero P(z &gt; t) ≤ exp(−t²/2) whatever their distribution (Efron 1969): about 6 keeps a check's false alarm below
/// 10⁻⁷ over the six counts (6.1); the threshold is set above the honest values measured (docs/verification.md).</para>
/// <para>What it does not bound: a provider that skips samples spread over the whole stream (every 16th), a block in
/// the middle of it or its first samples leaves <c>d</c> (nearly) unrelated to these snapshots; only the count rules see
/// that, when the cut is large. Those cheats need a changed worker; rendering with a lower sample count drops the tail.</para>
/// </remarks>
public static class SampleCountTest
{
    /// <summary>
    /// Shares of the samples whose loss at the end of the stream the snapshots are placed to find: a few percent (each
    /// pixel within the tolerance), and a half and three quarters, which the count rules miss at high sample counts in
    /// smooth scenes (a quarter-sample frame of the textured cube at 1,024 spp put 4.7 % of its pixels beyond 0.02,
    /// under the honest rate the Cornell box needs there).
    /// </summary>
    private static readonly double[] s_shares = [1.0 / 64, 1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 2, 3.0 / 4];

    /// <summary>
    /// The counts at which a validator keeps its tiles for a frame of <paramref name="samplesPerPixel"/> samples:
    /// n·(1 − s) for a frame that dropped its last samples, s in 1/64 … 1/8, 1/2 and 3/4; increasing, distinct and below n (the full
    /// render comes after them), empty below 2 samples.
    /// </summary>
    public static IReadOnlyList<int> SnapshotCounts(int samplesPerPixel)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerPixel, 1);
        if (samplesPerPixel < 2)
        {
            return [];
        }

        var counts = new SortedSet<int>();
        foreach (double share in s_shares)
        {
            int cut = Math.Max(1, (int)Math.Round(samplesPerPixel * share));
            counts.Add(Math.Max(1, samplesPerPixel - cut));
        }

        return [.. counts];
    }

    /// <summary>
    /// Measures regions of the delivered frame against the validator's full render and its snapshots, all in linear light.
    /// </summary>
    /// <param name="delivered">The delivered frame.</param>
    /// <param name="deliveredRegions">The checked regions of <paramref name="delivered"/>.</param>
    /// <param name="full">The validator's render at the asked samples (best at 16 bits, so its rounding does not enter both differences).</param>
    /// <param name="snapshots">The validator's images at <paramref name="sampleCounts"/>, each laid out like <paramref name="full"/>.</param>
    /// <param name="regions">The regions of <paramref name="full"/> and the snapshots, each the size of its delivered partner.</param>
    /// <param name="sampleCounts">The snapshots' sample counts.</param>
    public static SampleCountStatistic Measure(
        Image delivered,
        IReadOnlyList<Rectangle> deliveredRegions,
        Image full,
        IReadOnlyList<Image> snapshots,
        IReadOnlyList<Rectangle> regions,
        IReadOnlyList<int> sampleCounts)
    {
        ArgumentNullException.ThrowIfNull(delivered);
        ArgumentNullException.ThrowIfNull(deliveredRegions);
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(snapshots);
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(sampleCounts);
        if (deliveredRegions.Count != regions.Count || regions.Count == 0)
        {
            throw new ArgumentException("Both sides need the same, non-zero number of regions.", nameof(regions));
        }

        if (snapshots.Count != sampleCounts.Count)
        {
            throw new ArgumentException("Each snapshot needs its sample count.", nameof(sampleCounts));
        }

        var accumulator = new Accumulator(snapshots.Count);
        for (int i = 0; i < regions.Count; i++)
        {
            Rectangle a = deliveredRegions[i], r = regions[i];
            if (a.Size != r.Size)
            {
                throw new ArgumentException($"Region sizes differ: {a.Size} and {r.Size}.", nameof(regions));
            }

            int length = checked(r.Width * r.Height * 3);
            float[] actual = ArrayPool<float>.Shared.Rent(length);
            float[] expected = ArrayPool<float>.Shared.Rent(length);
            float[] earlier = ArrayPool<float>.Shared.Rent(length);
            try
            {
                PixelComparison.ReadLinear(delivered, a, actual.AsSpan(0, length));
                PixelComparison.ReadLinear(full, r, expected.AsSpan(0, length));
                for (int k = 0; k < snapshots.Count; k++)
                {
                    PixelComparison.ReadLinear(snapshots[k], r, earlier.AsSpan(0, length));
                    accumulator.Add(k, actual.AsSpan(0, length), expected.AsSpan(0, length), earlier.AsSpan(0, length));
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(actual);
                ArrayPool<float>.Shared.Return(expected);
                ArrayPool<float>.Shared.Return(earlier);
            }
        }

        return accumulator.Result(sampleCounts);
    }

    /// <summary>
    /// Measures interleaved linear RGB buffers (three values per pixel): the delivered pixels, the validator's full render
    /// and its snapshots at <paramref name="sampleCounts"/>, all of one length.
    /// </summary>
    public static SampleCountStatistic Measure(
        ReadOnlySpan<float> delivered, ReadOnlySpan<float> full, IReadOnlyList<float[]> snapshots, IReadOnlyList<int> sampleCounts)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        ArgumentNullException.ThrowIfNull(sampleCounts);
        if (snapshots.Count != sampleCounts.Count)
        {
            throw new ArgumentException("Each snapshot needs its sample count.", nameof(sampleCounts));
        }

        var accumulator = new Accumulator(snapshots.Count);
        for (int k = 0; k < snapshots.Count; k++)
        {
            accumulator.Add(k, delivered, full, snapshots[k]);
        }

        return accumulator.Result(sampleCounts);
    }

    // Buffers the differences, then weighs them: d is clamped to ±c, c the median |g| of the snapshot, so that the few
    // pixels of a path tracer's heavy-tailed noise (and of honest divergence) cannot dominate the sums. g stays linear:
    // an honest d treats every diverged sample alike (each weighs 1/n in both renders) and g's weights over the
    // validator's samples sum to zero, so E[ψ(d)·g] = 0 whatever ψ and the sample distribution, as long as a sample's
    // chance to diverge does not depend on its index. A weight nonlinear in g would lose that.
    private sealed class Accumulator(int counts)
    {
        private readonly List<float> _delivered = [];
        private readonly List<float>[] _snapshot = [.. Enumerable.Range(0, counts).Select(_ => new List<float>())];

        public void Add(int k, ReadOnlySpan<float> delivered, ReadOnlySpan<float> full, ReadOnlySpan<float> snapshot)
        {
            if (delivered.Length != full.Length || snapshot.Length != full.Length || full.Length % 3 != 0 || full.Length == 0)
            {
                throw new ArgumentException("The buffers must hold the same, non-zero number of RGB pixels.");
            }

            for (int i = 0; i < full.Length; i++)
            {
                if (k == 0)
                {
                    _delivered.Add(delivered[i] - full[i]);
                }

                _snapshot[k].Add(snapshot[i] - full[i]);
            }
        }

        public SampleCountStatistic Result(IReadOnlyList<int> sampleCounts)
        {
            var z = new double[counts];
            var slope = new double[counts];
            for (int k = 0; k < counts; k++)
            {
                List<float> g = _snapshot[k];
                if (g.Count != _delivered.Count)
                {
                    throw new ArgumentException("Every snapshot needs every region.");
                }

                float[] magnitudes = [.. g.Where(v => v != 0).Select(MathF.Abs)];
                if (magnitudes.Length == 0)
                {
                    continue;
                }

                Array.Sort(magnitudes);
                float c = magnitudes[magnitudes.Length / 2];
                double sum = 0, squares = 0, dg = 0, gg = 0;
                for (int i = 0; i < g.Count; i += 3)
                {
                    double w = 0;
                    for (int j = i; j < i + 3; j++)
                    {
                        w += (double)Math.Clamp(_delivered[j], -c, c) * g[j];
                        dg += (double)_delivered[j] * g[j];
                        gg += (double)g[j] * g[j];
                    }

                    sum += w;
                    squares += w * w;
                }

                z[k] = squares > 0 ? sum / Math.Sqrt(squares) : 0;
                slope[k] = gg > 0 ? dg / gg : 0;
            }

            return new SampleCountStatistic([.. sampleCounts], z, slope);
        }
    }
}
