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
        int k = new SpotCheckDecision(honestBeyondRate: 0.01).MaxBeyond(1920 * 1080);

        Assert.InRange(k, 20_736 + (5 * 143), 20_736 + (6 * 143));
    }

    [Fact]
    public void TheHonestRate_GrowsWithTheSampleCountToTheMeasuredPeakAndStaysThere()
    {
        Assert.Equal(SpotCheckDecision.DefaultHonestBeyondRate, SpotCheckDecision.HonestBeyondRateFor(1));
        Assert.Equal(SpotCheckDecision.DefaultHonestBeyondRate, SpotCheckDecision.HonestBeyondRateFor(64));
        Assert.Equal(0.05, SpotCheckDecision.HonestBeyondRateFor(256), 12);
        Assert.Equal(0.08, SpotCheckDecision.HonestBeyondRateFor(1024), 12);
        Assert.Equal(0.08, SpotCheckDecision.HonestBeyondRateFor(65_536), 12);
        double previous = 0;
        for (int n = 1; n <= 8192; n += 7)
        {
            double rate = SpotCheckDecision.HonestBeyondRateFor(n);
            Assert.True(rate >= previous, $"rate at {n} spp fell to {rate}");
            previous = rate;
        }

        Assert.Equal(SpotCheckDecision.HonestBeyondRateFor(512), SpotCheckDecision.ForSamples(512).HonestBeyondRate);
        Assert.Same(SpotCheckDecision.ForSamples(4096), SpotCheckDecision.ForSamples(100_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpotCheckDecision.ForSamples(0));
    }

    [Fact]
    public void TheTileRule_KeepsItsFalseAlarmOverEveryRegionOfTheCheck()
    {
        // A 1080p whole-frame check judges 32,400 blocks: each block's limit is set at the false alarm ÷ blocks, so the
        // chance that any honest block fails stays within the false alarm (union bound) under the binomial model.
        var decision = SpotCheckDecision.ForSamples(1024);
        foreach (int regions in new[] { 1, 8, 30, 32_400 })
        {
            int k = decision.MaxBeyond(64, regions);
            Assert.True(regions * UpperTail(64, decision.HonestBeyondRate, k) <= decision.FalseAlarm, $"{regions} regions, limit {k}");
        }

        Assert.True(decision.MaxBeyond(64, 32_400) > decision.MaxBeyond(64, 1));
        Assert.Equal(decision.MaxBeyond(64), decision.MaxBeyond(64, 1));
    }

    [Fact]
    public void HonestDivergenceAtHighSampleCounts_PassesItsSampleCountsDecision_AndFailedTheFixedRate()
    {
        // Guards the honest rejections at high sample counts: across devices 3.9 % of the Cornell box's pixels lay beyond
        // 0.02 at 1,024 spp (docs/verification.md), above the fixed 1 % the share rule allowed, which rejected most honest
        // 28-tile checks. Synthetic frames at that rate, scattered and in pairs of neighbours (30 % of them were not
        // isolated), of either sign: the decision for 1,024 spp passes every trial, the former fixed rate did not.
        var current = SpotCheckDecision.ForSamples(1024);
        var fixedRate = new SpotCheckDecision(honestBeyondRate: 0.01);
        var random = new Random(21);
        int formerRejections = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            DifferenceStatistics s = DifferenceStatistics.Measure(Regions(30, 64, random, Diverged(0.039)), current.Tolerance);
            SpotCheckOutcome outcome = current.Judge(s);
            Assert.True(outcome.Pass, $"trial {trial}: {outcome}");
            formerRejections += fixedRate.Judge(s).Pass ? 0 : 1;
        }

        Assert.True(formerRejections > 250, $"the fixed 1 % rate rejected {formerRejections} of 300");
    }

    [Fact]
    public void CheatsStillFail_UnderTheHighestHonestRate()
    {
        // At 1,024 spp a quarter-sample frame put 40 % of the Cornell box's pixels beyond 0.02 and up to 38 of an 8×8
        // block's (divergence-profile): a whole cheated frame fails on the share, a tile of it on its own.
        var decision = SpotCheckDecision.ForSamples(1024);
        var random = new Random(22);
        SpotCheckOutcome whole = decision.Judge(DifferenceStatistics.Measure(Regions(8, 64, random, Diverged(0.40)), decision.Tolerance));
        Assert.True(whole.ShareExceeded);
        Assert.True(whole.TilesFailed > 0);

        int pixel = 0;
        SpotCheckOutcome band = decision.Judge(DifferenceStatistics.Measure(
            Regions(30, 64, random, (r, v) => pixel++ < 30 ? v + (r.Next(2) == 0 ? 0.05f : -0.05f) : v), decision.Tolerance));
        Assert.Equal(1, band.TilesFailed);
        Assert.False(band.Pass);
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

    // Honest-like divergence: a share `rate` of the pixels beyond the tolerance (0.021–0.1, either sign), every third
    // of them with its next pixel too, and 8-bit-like rounding of ±0.004 elsewhere.
    private static Func<Random, float, float> Diverged(double rate)
    {
        bool carry = false;
        return (r, v) =>
        {
            bool beyond = carry || r.NextDouble() < rate * 0.77;
            carry = beyond && !carry && r.NextDouble() < 0.3;
            return beyond
                ? v + ((r.Next(2) * 2) - 1) * (0.021f + (0.079f * r.NextSingle()))
                : v + ((r.Next(3) - 1) * 0.004f);
        };
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
