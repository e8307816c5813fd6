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
    public void InvalidArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.Escape(-1, 0.1, 0.1, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.Escape(1, 1.1, 0.1, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.Escape(1, 0.1, double.NaN, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.SpotCheckCatchProbability(10, 11, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DetectionProbability.SpotCheckCatchProbability(10, 1, 11));
    }
}
