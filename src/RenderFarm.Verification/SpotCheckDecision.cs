using System.Collections.Concurrent;
using SixLabors.ImageSharp;

namespace RenderFarm.Verification;

/// <summary>The verdict of one tile check or whole-frame check under <see cref="SpotCheckDecision"/>.</summary>
/// <param name="Statistics">The measured differences.</param>
/// <param name="TilesFailed">Tiles (or blocks) with more pixels beyond the tolerance than honest divergence produces.</param>
/// <param name="ShareExceeded">Whether the pixels beyond the tolerance over all tiles exceed what honest divergence produces.</param>
/// <param name="BiasExceeded">Whether the signed mean difference lies further from zero than honest divergence puts it.</param>
/// <param name="EvidenceZ">The bias statistic beyond the smallest effect that counts (<see cref="DifferenceStatistics.BiasZBeyond"/>): what a provider's <see cref="ProviderEvidence"/> accumulates.</param>
/// <param name="Samples">The sample-count statistic, when the validator kept snapshots; otherwise null.</param>
/// <param name="SamplesExceeded">Whether the delivered frame follows one of the validator's earlier sample counts more than honest divergence does.</param>
public sealed record SpotCheckOutcome(
    DifferenceStatistics Statistics,
    int TilesFailed,
    bool ShareExceeded,
    bool BiasExceeded,
    double EvidenceZ = 0,
    SampleCountStatistic? Samples = null,
    bool SamplesExceeded = false)
{
    /// <summary>Whether the delivered pixels match: no tile failed, the share stayed within bounds, no bias showed and the frame holds all its samples.</summary>
    public bool Pass => TilesFailed == 0 && !ShareExceeded && !BiasExceeded && !SamplesExceeded;
}

/// <summary>
/// Decides whether re-rendered tiles match a delivered frame, statistically: honest renders on different conforming
/// devices differ in a few pixels, scattered and of either sign (measured with the other-device build of the path
/// tracer, docs/verification.md); a cheat differs in more pixels than that, or moves pixels one way.
/// </summary>
/// <remarks>
/// <para>Three rules, each set to a false-alarm probability of at most <see cref="FalseAlarm"/> under the honest model:</para>
/// <list type="bullet">
/// <item><description>A tile fails when its pixels beyond <see cref="Tolerance"/> are more than the
/// (1 − <see cref="FalseAlarm"/> ÷ tiles) quantile of a binomial count at the honest rate <see cref="HonestBeyondRate"/>
/// (which grows with the sample count, <see cref="ForSamples"/>) — a band or border cheat caught in one tile.</description></item>
/// <item><description>The check fails when all its tiles together hold more such pixels than that quantile for their
/// total — a cheat spread thinly over the frame.</description></item>
/// <item><description>The check fails on bias when the signed mean difference (delivered minus re-rendered, mean of a
/// pixel's channels) is more than <see cref="MaxBiasZ"/> standard errors from zero and at least
/// <see cref="MinBiasEffect"/> — a brighter or darker render or one with fewer bounces, even when every pixel lies
/// within the tolerance.</description></item>
/// <item><description>When the validator kept its tiles at earlier sample counts, the check fails when the delivered
/// difference follows one of them by more than <see cref="MaxSampleZ"/> (<see cref="SampleCountTest"/>) — a frame
/// rendered with a few percent fewer samples than asked.</description></item>
/// </list>
/// </remarks>
public sealed class SpotCheckDecision
{
    /// <summary>
    /// Per-pixel rate of honest pixels beyond the tolerance across devices at 64 samples per pixel and fewer, with margin
    /// over the measured rate; higher sample counts allow more (<see cref="HonestBeyondRateFor"/>).
    /// </summary>
    public const double DefaultHonestBeyondRate = 0.025;

    // The honest rate of pixels beyond the default tolerance by samples per pixel: about twice the highest share measured
    // between this device and the simulated other conforming device over the Cornell box and the textured cube
    // (divergence-profile and divergence benches, docs/verification.md). It grows with the sample count although the
    // differences shrink: a path that diverges changes its sample by up to the light's radiance, a pixel holds more such
    // samples as n grows while each weighs only 1/n, so more pixels carry one just beyond 0.02 until radiance/n falls
    // below it (measured on the Cornell box at 32×32: 1.2 % at 64, 2.3 % at 256, 3.9 % at 1,024 and 1.0 % at 4,096
    // samples; the cube: none). Between rows the rate is interpolated in log n. Above the last row it stays at the
    // peak's: a brighter light moves the peak to higher counts.
    private static readonly (int Samples, double Rate)[] s_honestRates =
    [
        (64, DefaultHonestBeyondRate),
        (256, 0.05),
        (1024, 0.08),
    ];

    private static readonly ConcurrentDictionary<int, SpotCheckDecision> s_bySamples = new();

    /// <summary>Default false-alarm probability of each rule per check.</summary>
    public const double DefaultFalseAlarm = 1e-7;

    /// <summary>Default largest honest bias statistic, in standard errors.</summary>
    public const double DefaultMaxBiasZ = 6;

    /// <summary>Default smallest signed mean difference, linear light, that counts as bias.</summary>
    public const double DefaultMinBiasEffect = 5e-4;

    /// <summary>
    /// Default largest honest |z| of <see cref="SampleCountTest"/>: above the bound that Efron's inequality gives for a false
    /// alarm of 10⁻⁷ over six snapshot counts (6.1), two-sided, and above every honest value measured (docs/verification.md).
    /// </summary>
    public const double DefaultMaxSampleZ = 6.5;

    private readonly ConcurrentDictionary<(int Pixels, int Regions), int> _limits = new();

    /// <summary>Creates a decision with the given thresholds.</summary>
    /// <param name="tolerance">Per-channel difference in linear light above which a pixel counts as beyond, in [0, 1].</param>
    /// <param name="honestBeyondRate">Per-pixel rate of honest pixels beyond the tolerance, in (0, 1).</param>
    /// <param name="falseAlarm">Largest false-alarm probability of the tile and share rules, in (0, 0.5).</param>
    /// <param name="maxBiasZ">Largest honest |bias z|, positive.</param>
    /// <param name="minBiasEffect">Smallest |signed mean difference| that counts as bias, non-negative.</param>
    /// <param name="maxSampleZ">Largest honest |z| of <see cref="SampleCountTest"/>, positive.</param>
    public SpotCheckDecision(
        float tolerance = PixelComparison.DefaultTolerance,
        double honestBeyondRate = DefaultHonestBeyondRate,
        double falseAlarm = DefaultFalseAlarm,
        double maxBiasZ = DefaultMaxBiasZ,
        double minBiasEffect = DefaultMinBiasEffect,
        double maxSampleZ = DefaultMaxSampleZ)
    {
        if (!(tolerance >= 0f && tolerance <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must lie in [0, 1].");
        }

        if (!(honestBeyondRate > 0 && honestBeyondRate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(honestBeyondRate), honestBeyondRate, "The rate must lie in (0, 1).");
        }

        if (!(falseAlarm > 0 && falseAlarm < 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(falseAlarm), falseAlarm, "The false-alarm probability must lie in (0, 0.5).");
        }

        if (!(maxBiasZ > 0) || double.IsInfinity(maxBiasZ))
        {
            throw new ArgumentOutOfRangeException(nameof(maxBiasZ), maxBiasZ, "The bias threshold must be positive and finite.");
        }

        if (!(minBiasEffect >= 0) || double.IsInfinity(minBiasEffect))
        {
            throw new ArgumentOutOfRangeException(nameof(minBiasEffect), minBiasEffect, "The bias effect must be non-negative and finite.");
        }

        if (!(maxSampleZ > 0) || double.IsInfinity(maxSampleZ))
        {
            throw new ArgumentOutOfRangeException(nameof(maxSampleZ), maxSampleZ, "The sample-count threshold must be positive and finite.");
        }

        Tolerance = tolerance;
        MaxSampleZ = maxSampleZ;
        HonestBeyondRate = honestBeyondRate;
        FalseAlarm = falseAlarm;
        MaxBiasZ = maxBiasZ;
        MinBiasEffect = minBiasEffect;
    }

    /// <summary>Per-channel difference in linear light above which a pixel counts as beyond.</summary>
    public float Tolerance { get; }

    /// <summary>Per-pixel rate of honest pixels beyond the tolerance.</summary>
    public double HonestBeyondRate { get; }

    /// <summary>False-alarm probability of the tile and share rules.</summary>
    public double FalseAlarm { get; }

    /// <summary>Largest honest |bias z|.</summary>
    public double MaxBiasZ { get; }

    /// <summary>Smallest |signed mean difference| that counts as bias.</summary>
    public double MinBiasEffect { get; }

    /// <summary>Largest honest |z| of <see cref="SampleCountTest"/>.</summary>
    public double MaxSampleZ { get; }

    /// <summary>
    /// The honest rate of pixels beyond the default tolerance for frames of <paramref name="samplesPerPixel"/> samples:
    /// <see cref="DefaultHonestBeyondRate"/> up to 64 samples, rising with the sample count as measured across devices.
    /// </summary>
    public static double HonestBeyondRateFor(int samplesPerPixel)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerPixel, 1);
        if (samplesPerPixel <= s_honestRates[0].Samples)
        {
            return s_honestRates[0].Rate;
        }

        for (int i = 1; i < s_honestRates.Length; i++)
        {
            (int high, double highRate) = s_honestRates[i];
            if (samplesPerPixel <= high)
            {
                (int low, double lowRate) = s_honestRates[i - 1];
                double t = Math.Log((double)samplesPerPixel / low) / Math.Log((double)high / low);
                return lowRate + (t * (highRate - lowRate));
            }
        }

        return s_honestRates[^1].Rate;
    }

    /// <summary>The default decision for frames of <paramref name="samplesPerPixel"/> samples: its honest rate from <see cref="HonestBeyondRateFor"/>.</summary>
    public static SpotCheckDecision ForSamples(int samplesPerPixel)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerPixel, 1);

        // Counts outside the table share its end rows' decisions, so the cache holds at most the table's span.
        int key = Math.Clamp(samplesPerPixel, s_honestRates[0].Samples, s_honestRates[^1].Samples);
        return s_bySamples.GetOrAdd(key, n => new SpotCheckDecision(honestBeyondRate: HonestBeyondRateFor(n)));
    }

    /// <summary>
    /// The most pixels of <paramref name="pixels"/> that may lie beyond the tolerance before they are more than honest
    /// divergence produces: the smallest k with P(X &gt; k) ≤ <see cref="FalseAlarm"/> for X ~ Binomial(pixels, rate).
    /// </summary>
    public int MaxBeyond(int pixels) => MaxBeyond(pixels, regions: 1);

    /// <summary>
    /// The most pixels of one of <paramref name="regions"/> regions of <paramref name="pixels"/> pixels that may lie beyond
    /// the tolerance: the quantile at <see cref="FalseAlarm"/> ÷ regions, so a check of many regions (a whole frame's
    /// 32,400 blocks at 1080p) keeps the false alarm of the tile rule at <see cref="FalseAlarm"/> over all of them.
    /// </summary>
    public int MaxBeyond(int pixels, int regions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(regions, 1);
        return _limits.GetOrAdd((pixels, regions), key => BinomialUpperQuantile(key.Pixels, HonestBeyondRate, FalseAlarm / key.Regions));
    }

    /// <summary>Judges measured differences and, when the validator kept snapshots, the sample-count statistic.</summary>
    public SpotCheckOutcome Judge(DifferenceStatistics statistics, SampleCountStatistic? samples)
    {
        SpotCheckOutcome outcome = Judge(statistics);
        return samples is null ? outcome : outcome with { Samples = samples, SamplesExceeded = samples.MaxAbsZ > MaxSampleZ };
    }

    /// <summary>
    /// Judges measured differences and the sample-count statistic against honest rates predicted for this check
    /// (<see cref="HonestRateEstimate"/>): the tile and share rules take each region's predicted rate and the check's,
    /// never above <see cref="HonestBeyondRate"/>.
    /// </summary>
    public SpotCheckOutcome Judge(DifferenceStatistics statistics, SampleCountStatistic? samples, HonestRates? rates)
    {
        SpotCheckOutcome outcome = Judge(statistics, rates);
        return samples is null ? outcome : outcome with { Samples = samples, SamplesExceeded = samples.MaxAbsZ > MaxSampleZ };
    }

    /// <summary>Judges measured differences.</summary>
    public SpotCheckOutcome Judge(DifferenceStatistics statistics) => Judge(statistics, rates: null);

    /// <summary>
    /// The most pixels of one of <paramref name="regions"/> regions of <paramref name="pixels"/> pixels that may lie beyond
    /// the tolerance when the honest rate of this check is <paramref name="rate"/>, at most <see cref="HonestBeyondRate"/>.
    /// </summary>
    public int MaxBeyond(int pixels, int regions, double rate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(regions, 1);
        if (!(rate > 0 && rate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The rate must lie in (0, 1).");
        }

        return rate >= HonestBeyondRate
            ? MaxBeyond(pixels, regions)
            : BinomialUpperQuantile(pixels, rate, FalseAlarm / regions);
    }

    private SpotCheckOutcome Judge(DifferenceStatistics statistics, HonestRates? rates)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        if (rates is not null && rates.PerRegion.Count != statistics.Regions)
        {
            throw new ArgumentException($"The rates cover {rates.PerRegion.Count} regions, the differences {statistics.Regions}.", nameof(rates));
        }

        int failed = 0;
        for (int i = 0; i < statistics.Regions; i++)
        {
            int limit = rates is null
                ? MaxBeyond(statistics.PixelsPerRegion[i], statistics.Regions)
                : MaxBeyond(statistics.PixelsPerRegion[i], statistics.Regions, rates.PerRegion[i]);
            failed += statistics.BeyondPerRegion[i] > limit ? 1 : 0;
        }

        bool share = statistics.PixelsBeyondTolerance > (rates is null
            ? MaxBeyond(statistics.Pixels)
            : MaxBeyond(statistics.Pixels, 1, rates.Check));
        bool bias = Math.Abs(statistics.BiasZ) > MaxBiasZ && Math.Abs(statistics.MeanSignedDifference) >= MinBiasEffect;
        return new SpotCheckOutcome(statistics, failed, share, bias, statistics.BiasZBeyond(MinBiasEffect));
    }

    /// <summary>Measures and judges regions of a re-render (<paramref name="expected"/>) against the same-sized regions of a delivered frame.</summary>
    public SpotCheckOutcome Judge(
        Image expected, IReadOnlyList<Rectangle> expectedRegions, Image actual, IReadOnlyList<Rectangle> actualRegions) =>
        Judge(DifferenceStatistics.Measure(expected, expectedRegions, actual, actualRegions, Tolerance));

    // Smallest k with P(X > k) ≤ alpha for X ~ Binomial(n, p), from the pmf in log space (no underflow at large n·p).
    internal static int BinomialUpperQuantile(int n, double p, double alpha)
    {
        double mean = n * p, sd = Math.Sqrt(n * p * (1 - p));
        int top = (int)Math.Min(n, Math.Ceiling(mean + (40 * sd) + 60));
        var log = new double[top + 1];
        log[0] = n * Math.Log(1 - p);
        double odds = Math.Log(p / (1 - p));
        double max = log[0];
        for (int j = 0; j < top; j++)
        {
            log[j + 1] = log[j] + Math.Log((double)(n - j) / (j + 1)) + odds;
            max = Math.Max(max, log[j + 1]);
        }

        double total = 0;
        for (int j = 0; j <= top; j++)
        {
            total += Math.Exp(log[j] - max);
        }

        // Walk down from the top while the tail above k stays within alpha.
        double tail = 0;
        for (int k = top; k >= 0; k--)
        {
            // tail = P(X > k) before adding pmf(k).
            if (tail / total > alpha)
            {
                return k + 1;
            }

            tail += Math.Exp(log[k] - max);
        }

        return 0;
    }
}
