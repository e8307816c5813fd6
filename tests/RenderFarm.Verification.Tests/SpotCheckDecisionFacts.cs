namespace RenderFarm.Verification.Tests;

public class SpotCheckDecisionFacts
{
    [Theory]
    [InlineData(64, 0.01, 1e-7)]
    [InlineData(1, 0.01, 1e-7)]
    [InlineData(500, 0.003, 1e-6)]
    [InlineData(1920, 0.01, 1e-7)]
    public void MaxBeyond_IsTheSmallestCountWhoseUpperTailStaysWithinTheFalseAlarm(int n, double p, double alpha)
    {
        int k = SpotCheckDecision.BinomialUpperQuantile(n, p, alpha);

        Assert.True(UpperTail(n, p, k) <= alpha, $"P(X > {k}) = {UpperTail(n, p, k)}");
        if (k > 0)
        {
            Assert.True(UpperTail(n, p, k - 1) > alpha, $"P(X > {k - 1}) = {UpperTail(n, p, k - 1)}");
        }
    }

    [Fact]
    public void MaxBeyond_HandlesWholeFramesOfMillionsOfPixels()
    {
        // 1920x1080 at 1 %: mean 20,736, sd 143; the 1e-7 quantile lies about 5.2 sd above the mean.
        int k = new SpotCheckDecision().MaxBeyond(1920 * 1080);

        Assert.InRange(k, 20_736 + (5 * 143), 20_736 + (6 * 143));
    }

    [Fact]
    public void HonestLikeDivergence_PassesEverySeededTrial()
    {
        // Scattered differences of either sign in 0.5 % of the pixels, a few beyond the tolerance, and 8-bit rounding:
        // what the other-device build of the path tracer produces, at a rate above the one measured.
        var decision = new SpotCheckDecision();
        var random = new Random(11);
        for (int trial = 0; trial < 500; trial++)
        {
            DifferenceStatistics s = DifferenceStatistics.Measure(Regions(30, 64, random, (r, v) =>
                r.NextDouble() < 0.005 ? v + ((r.Next(2) * 2) - 1) * 0.03f : v + (((float)r.Next(3) - 1) / 1000f)), decision.Tolerance);

            SpotCheckOutcome outcome = decision.Judge(s);
            Assert.True(outcome.Pass, $"trial {trial}: {outcome}");
        }
    }

    [Fact]
    public void AUniformBiasWithinTheTolerance_FailsOnBiasAlone()
    {
        // Guards the under-the-tolerance gap: every pixel 1 % brighter (an exposure nudge) stays far below the 0.02
        // tolerance, so no tile fails and the old any-tile rule passed the frame.
        var decision = new SpotCheckDecision();
        var random = new Random(5);
        DifferenceStatistics s = DifferenceStatistics.Measure(Regions(8, 64, random, (r, v) => v * 1.01f), decision.Tolerance);

        SpotCheckOutcome outcome = decision.Judge(s);
        Assert.Equal(0, outcome.TilesFailed);
        Assert.False(outcome.ShareExceeded);
        Assert.True(outcome.BiasExceeded);
        Assert.False(outcome.Pass);
        Assert.True(s.BiasZ > decision.MaxBiasZ);
    }

    [Fact]
    public void ACheatSpreadThinlyOverManyTiles_FailsOnTheShare()
    {
        // Guards the thin-spread gap: 3 of 64 pixels of every tile beyond the tolerance, under the old 5 % per tile, in
        // both directions (no bias), fails on the share of all checked pixels.
        var decision = new SpotCheckDecision();
        var random = new Random(9);
        int pixel = 0;
        DifferenceStatistics s = DifferenceStatistics.Measure(
            Regions(30, 64, random, (r, v) => (pixel++ % 64) < 3 ? v + (((pixel / 64) % 2 == 0) ? 0.05f : -0.05f) : v),
            decision.Tolerance);

        SpotCheckOutcome outcome = decision.Judge(s);
        Assert.Equal(0, outcome.TilesFailed);
        Assert.True(outcome.ShareExceeded);
        Assert.False(outcome.Pass);
        Assert.True(new PixelComparison().Compare(Channels(3, 61), Channels(0, 64)).IsMatch);
    }

    [Fact]
    public void ACheatInOneTile_FailsThatTile()
    {
        var decision = new SpotCheckDecision();
        var random = new Random(3);
        int pixel = 0;
        DifferenceStatistics s = DifferenceStatistics.Measure(
            Regions(8, 64, random, (r, v) => pixel++ < 32 ? v + ((pixel % 2 == 0) ? 0.1f : -0.1f) : v), decision.Tolerance);

        SpotCheckOutcome outcome = decision.Judge(s);
        Assert.Equal(1, outcome.TilesFailed);
        Assert.False(outcome.Pass);
    }

    [Fact]
    public void SymmetricNoise_IsNoBias()
    {
        // More or fewer samples change pixels both ways: the bias rule leaves them to the count rules.
        var decision = new SpotCheckDecision();
        var random = new Random(4);
        DifferenceStatistics s = DifferenceStatistics.Measure(
            Regions(30, 64, random, (r, v) => v + (float)((r.NextDouble() - 0.5) * 0.02)), decision.Tolerance);

        Assert.False(decision.Judge(s).BiasExceeded);
        Assert.InRange(s.BiasZ, -decision.MaxBiasZ, decision.MaxBiasZ);
    }

    [Fact]
    public void ASmallSteadyDeviceShift_GivesNoEvidence_OnLargeChecks()
    {
        // A device whose arithmetic brightens every render by 2e-4 (under the smallest effect that counts) shows a large
        // bias z on a whole frame of many pixels; the evidence a provider accumulates must not grow from it.
        var decision = new SpotCheckDecision();
        var random = new Random(8);
        DifferenceStatistics s = DifferenceStatistics.Measure(
            Regions(400, 64, random, (r, v) => v + 2e-4f + (float)((r.NextDouble() - 0.5) * 0.004)), decision.Tolerance);

        SpotCheckOutcome outcome = decision.Judge(s);
        Assert.True(s.BiasZ > decision.MaxBiasZ, $"bias z {s.BiasZ}");
        Assert.False(outcome.BiasExceeded);
        Assert.Equal(0, outcome.EvidenceZ);
    }

    [Fact]
    public void IdenticalPixels_MeasureNothing()
    {
        var random = new Random(1);
        DifferenceStatistics s = DifferenceStatistics.Measure(Regions(4, 16, random, (r, v) => v), 0.02f);

        Assert.Equal((0, 0.0, 0.0, 0.0), (s.PixelsBeyondTolerance, s.BiasZ, s.RootMeanSquare, s.MaxAbsoluteDifference));
        Assert.True(new SpotCheckDecision().Judge(s).Pass);
    }

    [Fact]
    public void Thresholds_AreChecked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpotCheckDecision(tolerance: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpotCheckDecision(honestBeyondRate: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpotCheckDecision(falseAlarm: 0.7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpotCheckDecision(maxBiasZ: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpotCheckDecision(minBiasEffect: -1));
        Assert.Throws<ArgumentException>(() => DifferenceStatistics.Measure([(new float[3], new float[6])], 0.02f));
    }

    // Region pairs of `pixels` pixels each: a random image in [0.1, 0.6] and the delivered one from `deliver`.
    private static List<(float[] Expected, float[] Actual)> Regions(int count, int pixels, Random random, Func<Random, float, float> deliver)
    {
        var regions = new List<(float[], float[])>();
        for (int i = 0; i < count; i++)
        {
            var expected = new float[pixels * 3];
            var actual = new float[pixels * 3];
            for (int p = 0; p < pixels; p++)
            {
                float value = 0.1f + (0.5f * random.NextSingle());
                float delivered = Math.Clamp(deliver(random, value), 0f, 1f);
                for (int c = 0; c < 3; c++)
                {
                    expected[(p * 3) + c] = value;
                    actual[(p * 3) + c] = delivered;
                }
            }

            regions.Add((expected, actual));
        }

        return regions;
    }

    // `off` pixels at 0.05 and `on` pixels at 0: a tile with `off` pixels beyond the tolerance.
    private static float[] Channels(int off, int on) => [.. Enumerable.Repeat(0.05f, off * 3).Concat(Enumerable.Repeat(0f, on * 3))];

    private static double UpperTail(int n, double p, int k)
    {
        // P(X > k) by direct summation of the pmf, terms built by the ratio recurrence from j = k + 1.
        double tail = 0;
        for (int j = k + 1; j <= n; j++)
        {
            double logPmf = LogChoose(n, j) + (j * Math.Log(p)) + ((n - j) * Math.Log(1 - p));
            tail += Math.Exp(logPmf);
        }

        return tail;
    }

    private static double LogChoose(int n, int k)
    {
        double sum = 0;
        for (int i = 1; i <= k; i++)
        {
            sum += Math.Log((double)(n - k + i) / i);
        }

        return sum;
    }
}
