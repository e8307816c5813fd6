namespace RenderFarm.Verification.Tests;

public class DetectionProbabilityFacts
{
    [Fact]
    public void NoChecks_NeverCatch()
    {
        Assert.Equal(1, DetectionProbability.Escape(1000, 0.5, wholeFrameRate: 0, spotCheckCatch: 0));
        Assert.Equal(0, DetectionProbability.Detection(1000, 0.5, 0, 0));
    }

    [Fact]
    public void CheckingEveryFrameExactly_AlwaysCatches()
    {
        Assert.Equal(0, DetectionProbability.Escape(10, 0.1, wholeFrameRate: 1, spotCheckCatch: 0));
        Assert.Equal(0, DetectionProbability.Escape(10, 0.1, wholeFrameRate: 0, spotCheckCatch: 1));
        Assert.Equal(1, DetectionProbability.Detection(10, 0.1, 1, 0));
    }

    [Fact]
    public void NoCheating_IsNeverCaught()
    {
        Assert.Equal(1, DetectionProbability.Escape(1000, 0, 1, 1));
        Assert.Equal(1, DetectionProbability.Escape(0, 0.5, 1, 1));
    }

    [Fact]
    public void Escape_FollowsTheFormula()
    {
        // ((1 − p·w)(1 − s))^(q·n) with n = 200, q = 0.05, p = 0.02, w = 0.5, s = 0.3.
        double expected = Math.Pow((1 - (0.02 * 0.5)) * (1 - 0.3), 10);
        Assert.Equal(expected, DetectionProbability.Escape(200, 0.05, 0.02, 0.3, 0.5), 14);
        // Whole-frame sampling alone: (1 − p)^(q·n).
        Assert.Equal(Math.Pow(0.95, 20), DetectionProbability.Escape(100, 0.2, 0.05, 0), 14);
    }

    [Fact]
    public void Escape_FallsAsAnyCheckOrTheCheatingGrows()
    {
        double[] steps = [0, 0.01, 0.1, 0.3, 0.7, 1];
        for (int i = 1; i < steps.Length; i++)
        {
            double lower = steps[i - 1], higher = steps[i];
            Assert.True(DetectionProbability.Escape(100, 0.1, higher, 0.2) <= DetectionProbability.Escape(100, 0.1, lower, 0.2));
            Assert.True(DetectionProbability.Escape(100, 0.1, 0.05, higher) <= DetectionProbability.Escape(100, 0.1, 0.05, lower));
            Assert.True(DetectionProbability.Escape(100, higher, 0.05, 0.2) <= DetectionProbability.Escape(100, lower, 0.05, 0.2));
            Assert.True(DetectionProbability.Escape(100, 0.1, 0.05, 0.2, higher) <= DetectionProbability.Escape(100, 0.1, 0.05, 0.2, lower));
        }

        for (int frames = 1; frames < 500; frames += 7)
        {
            Assert.True(DetectionProbability.Escape(frames + 7, 0.1, 0.05, 0.2) < DetectionProbability.Escape(frames, 0.1, 0.05, 0.2));
        }
    }

    [Fact]
    public void SpotCheckCatch_IsHypergeometric()
    {
        // A whole-frame cheat is caught by any tile.
        Assert.Equal(1, DetectionProbability.SpotCheckCatchProbability(972 * 33, 972 * 33, 1));
        // No tile checked, no catch.
        Assert.Equal(0, DetectionProbability.SpotCheckCatchProbability(100, 50, 0));
        // 1 − C(8, 2) / C(10, 2) = 1 − 28/45.
        Assert.Equal(1 - (28.0 / 45.0), DetectionProbability.SpotCheckCatchProbability(10, 2, 2), 14);
        // Cheating on 1% of a 1080p frame's 8×8 cells against 972 checked tiles (3% of the pixels).
        double caught = DetectionProbability.SpotCheckCatchProbability(32400, 324, 972);
        Assert.InRange(caught, 0.9999, 1);
        // Checking more tiles never lowers the odds.
        for (int k = 1; k < 50; k++)
        {
            Assert.True(DetectionProbability.SpotCheckCatchProbability(100, 3, k) >= DetectionProbability.SpotCheckCatchProbability(100, 3, k - 1));
        }
    }

    [Fact]
    public void SpotCheckCatch_WithATileCatchRate_WeighsEachCheckedCheatedTile()
    {
        // Guards the overstated odds: a checked cheated tile fails only at its measured rate, not always.
        // M = 10, c = 2, k = 2: H(0) = 28/45, H(1) = 16/45, H(2) = 1/45; miss = Σ H(x)·(1 − t)^x.
        const double T = 0.6;
        double expected = 1 - ((28.0 / 45) + (16.0 / 45 * 0.4) + (1.0 / 45 * 0.4 * 0.4));
        Assert.Equal(expected, DetectionProbability.SpotCheckCatchProbability(10, 2, 2, T), 14);
        Assert.Equal(DetectionProbability.SpotCheckCatchProbability(10, 2, 2), DetectionProbability.SpotCheckCatchProbability(10, 2, 2, 1), 14);
        Assert.Equal(0, DetectionProbability.SpotCheckCatchProbability(64, 64, 8, 0));
        // Large plans stay finite: 1080p, 1 % cheated, 972 tiles checked, half of the checked cheated tiles fail: a little
        // above the binomial 1 − (1 − 0.01 · 0.5)^972, as drawing without replacement spreads the checks further.
        double binomial = 1 - Math.Pow(1 - 0.005, 972);
        Assert.InRange(DetectionProbability.SpotCheckCatchProbability(32400, 324, 972, 0.5), binomial, binomial + 0.001);
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.SpotCheckCatchProbability(10, 2, 2, 1.5));
    }

    [Fact]
    public void MeasuredCatchRates_AreProbabilities_AndWrongPixelsComeFirst()
    {
        Assert.Equal(CheatCatchRates.WrongPixels, CheatCatchRates.Measured[0].Cheat);
        Assert.All(CheatCatchRates.Measured, r => Assert.True(r.TileCatch is >= 0 and <= 1 && r.FrameCatch is >= 0 and <= 1, r.ToString()));
        Assert.Contains(CheatCatchRates.Measured, r => !r.Bounded);
    }

    [Fact]
    public void InvalidArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.Escape(-1, 0.1, 0.1, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.Escape(1, 1.1, 0.1, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.Escape(1, 0.1, double.NaN, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.SpotCheckCatchProbability(10, 11, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.SpotCheckCatchProbability(10, 1, 11));
    }
}
