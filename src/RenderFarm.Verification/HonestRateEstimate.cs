using System.Buffers;
using SixLabors.ImageSharp;

namespace RenderFarm.Verification;

/// <summary>
/// The honest rate of pixels beyond the tolerance predicted for one check: per region and over all of them, each at most
/// the fixed rate for the frame's sample count (<see cref="SpotCheckDecision.HonestBeyondRateFor"/>).
/// </summary>
/// <param name="PerRegion">Per checked region, the predicted share of its pixels that honest divergence puts beyond the tolerance.</param>
/// <param name="Check">The same over all checked pixels.</param>
public sealed record HonestRates(IReadOnlyList<double> PerRegion, double Check);

/// <summary>
/// Predicts how many checked pixels honest divergence between devices can put beyond the tolerance, from the spread of
/// the validator's own image between its snapshots at n/2 and n/4 samples and its final render (the bands a validator
/// already reports for <see cref="SampleCountTest"/>; no second render).
/// </summary>
/// <remarks>
/// <para>A diverged path on another device changes one sample of a pixel, within the spread of that pixel's samples, so
/// the variance of an honest difference is at most a device factor K times the variance of the pixel's final value
/// (σ²/n). The snapshots give the latter: with g = snapshot − final, E[g²] = σ²(1/m − 1/n), so g at n/2 estimates it
/// directly and g at n/4 divided by 3. Per pixel the estimate v is the largest of both, over the three channels and over
/// the pixel's 3×3 neighbours in its region (an estimate of few degrees of freedom can fall far below the truth in one
/// pixel; noise varies smoothly). Chebyshev's inequality then bounds the chance that the pixel lies beyond the
/// tolerance: P ≤ K·v ÷ (tolerance − 8-bit rounding)², whatever the distribution of the divergence. A region's rate is
/// the mean of its pixels' bounds; by Hoeffding (1956) a count of independent Bernoulli pixels with these chances stays
/// below the binomial count at the mean rate beyond its mean, so <see cref="SpotCheckDecision"/>'s binomial limits keep
/// their false alarm.</para>
/// <para>K is measured with the simulated other device on the Cornell box and the textured cube. A pixel
/// whose samples barely move (a smooth wall, a texture under an even sky) gets a bound near zero, so a cheat that puts
/// even a few such pixels beyond the tolerance fails where the fixed rate, set by the Cornell box's light, let it
/// pass. A device that diverges more than K allows is held at the fixed rate: each rate is capped by it, never above.</para>
/// <para>The coordinator does not decide with it. Measured with the divergence bench (docs/verification.md): the Cornell
/// box is noisy nearly everywhere at 256 and 1,024 spp, so its predicted rate is the fixed one; the textured cube's
/// pixels are noisy too (a predicted 2–7 % at K = 0.05–0.25, where it diverges not at all), and its band and border
/// cheats put almost no pixel beyond the tolerance (4 and 0 of 4,096 at 1,024 spp), so even a rate near zero catches
/// them in at most a quarter of the checks. The sample-count rule, not the count rules, is what sees those cheats. It
/// stays here for the bench, which re-measures it on other scenes.</para>
/// </remarks>
public static class HonestRateEstimate
{
    /// <summary>
    /// Default device factor K for the bench: the ratio of an honest cross-device difference's variance to the pixel's
    /// noise variance. The Cornell box's honest pixels beyond the tolerance need a median K of 0.016–0.05 and up to 3.1
    /// (docs/verification.md), which is one reason the coordinator does not decide with this estimate.
    /// </summary>
    public const double DefaultDeviceFactor = 0.25;

    /// <summary>The least predicted rate of a region, so that no binomial limit is built on a rate of zero.</summary>
    public const double Floor = 1e-5;

    /// <summary>
    /// Half the largest step of an 8-bit sRGB value in linear light (between 254 and 255): a delivered 8-bit frame
    /// rounds every pixel by up to this much, which the divergence must add to before a pixel lies beyond the tolerance.
    /// </summary>
    public const double RoundingAllowance = 0.0045;

    /// <summary>
    /// Predicts the honest rates of the checked regions from the validator's final render and its snapshots at
    /// half and a quarter of the samples, all laid out alike (the bands of a validator's strip).
    /// </summary>
    /// <param name="full">The validator's final render (best at 16 bits).</param>
    /// <param name="half">The validator's image after half the samples.</param>
    /// <param name="quarter">The validator's image after a quarter of the samples.</param>
    /// <param name="regions">The checked regions of the three images.</param>
    /// <param name="cap">The fixed rate for the frame's sample count, which no predicted rate exceeds, in (0, 1).</param>
    /// <param name="tolerance">The check's tolerance in linear light, above <see cref="RoundingAllowance"/>.</param>
    /// <param name="deviceFactor">The device factor K, positive.</param>
    public static HonestRates Predict(
        Image full,
        Image half,
        Image quarter,
        IReadOnlyList<Rectangle> regions,
        double cap,
        float tolerance = PixelComparison.DefaultTolerance,
        double deviceFactor = DefaultDeviceFactor)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(half);
        ArgumentNullException.ThrowIfNull(quarter);
        ArgumentNullException.ThrowIfNull(regions);
        if (regions.Count == 0)
        {
            throw new ArgumentException("At least one region is needed.", nameof(regions));
        }

        var perRegion = new double[regions.Count];
        double sum = 0;
        long pixels = 0;
        for (int i = 0; i < regions.Count; i++)
        {
            Rectangle r = regions[i];
            int length = checked(r.Width * r.Height * 3);
            float[] f = ArrayPool<float>.Shared.Rent(length);
            float[] h = ArrayPool<float>.Shared.Rent(length);
            float[] q = ArrayPool<float>.Shared.Rent(length);
            try
            {
                PixelComparison.ReadLinear(full, r, f.AsSpan(0, length));
                PixelComparison.ReadLinear(half, r, h.AsSpan(0, length));
                PixelComparison.ReadLinear(quarter, r, q.AsSpan(0, length));
                double regionSum = SumOfBounds(f.AsSpan(0, length), h.AsSpan(0, length), q.AsSpan(0, length), r.Width, tolerance, deviceFactor);
                int count = r.Width * r.Height;
                perRegion[i] = Clamp(regionSum / count, cap);
                sum += regionSum;
                pixels += count;
            }
            finally
            {
                ArrayPool<float>.Shared.Return(f);
                ArrayPool<float>.Shared.Return(h);
                ArrayPool<float>.Shared.Return(q);
            }
        }

        return new HonestRates(perRegion, Clamp(sum / pixels, cap));
    }

    /// <summary>
    /// Predicts the honest rate of one region from interleaved linear RGB buffers (three values per pixel, rows of
    /// <paramref name="width"/> pixels): the final render and the snapshots at n/2 and n/4.
    /// </summary>
    public static double PredictRegion(
        ReadOnlySpan<float> full,
        ReadOnlySpan<float> half,
        ReadOnlySpan<float> quarter,
        int width,
        double cap,
        float tolerance = PixelComparison.DefaultTolerance,
        double deviceFactor = DefaultDeviceFactor) =>
        Clamp(SumOfBounds(full, half, quarter, width, tolerance, deviceFactor) / (full.Length / 3), cap);

    private static double Clamp(double rate, double cap)
    {
        if (!(cap > 0 && cap < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(cap), cap, "The cap must lie in (0, 1).");
        }

        return Math.Min(cap, Math.Max(Floor, rate));
    }

    // Σ over the region's pixels of min(1, K·v ÷ (tolerance − rounding)²), v the largest noise estimate over the
    // pixel's 3×3 neighbours, channels and both snapshots.
    private static double SumOfBounds(
        ReadOnlySpan<float> full, ReadOnlySpan<float> half, ReadOnlySpan<float> quarter, int width, float tolerance, double deviceFactor)
    {
        if (full.Length != half.Length || full.Length != quarter.Length || full.Length == 0 || width < 1 || full.Length % (3 * width) != 0)
        {
            throw new ArgumentException("The buffers must hold the same, non-zero number of RGB rows of the given width.");
        }

        if (!(tolerance > RoundingAllowance && tolerance <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must lie above the rounding allowance and at most 1.");
        }

        if (!(deviceFactor > 0) || double.IsInfinity(deviceFactor))
        {
            throw new ArgumentOutOfRangeException(nameof(deviceFactor), deviceFactor, "The device factor must be positive and finite.");
        }

        int pixels = full.Length / 3, height = pixels / width;
        double[] own = ArrayPool<double>.Shared.Rent(pixels);
        try
        {
            for (int p = 0; p < pixels; p++)
            {
                double v = 0;
                for (int c = 3 * p; c < (3 * p) + 3; c++)
                {
                    double g2 = (double)half[c] - full[c], g4 = (double)quarter[c] - full[c];
                    v = Math.Max(v, Math.Max(g2 * g2, g4 * g4 / 3));
                }

                own[p] = v;
            }

            double allowed = tolerance - RoundingAllowance;
            double scale = deviceFactor / (allowed * allowed), sum = 0;
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    double v = 0;
                    for (int ny = Math.Max(0, y - 1); ny <= Math.Min(height - 1, y + 1); ny++)
                    {
                        for (int nx = Math.Max(0, x - 1); nx <= Math.Min(width - 1, x + 1); nx++)
                        {
                            v = Math.Max(v, own[(ny * width) + nx]);
                        }
                    }

                    sum += Math.Min(1, scale * v);
                }
            }

            return sum;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(own);
        }
    }
}
