namespace RenderFarm.Verification.Tests;

public class SampleCountEvidenceFacts
{
    [Fact]
    public void HonestStatistics_NeverMakeASuspect_OverManySeededChecks()
    {
        // Honest sample-count statistics are symmetric about zero (measured |z| up to 3.9 across the simulated devices);
        // drawn here a little wider than a standard normal at every one of the six counts.
        var random = new Random(29);
        SampleCountEvidence evidence = SampleCountEvidence.None;
        double largest = 0;
        var z = new double[SampleCountEvidence.Counts];
        for (int check = 0; check < 200_000; check++)
        {
            for (int k = 0; k < z.Length; k++)
            {
                z[k] = Normal(random) * 1.1;
            }

            evidence = SampleCountEvidence.Update(evidence, z);
            largest = Math.Max(largest, evidence.Largest);
            Assert.False(evidence.IsSuspect, $"check {check}: {string.Join(", ", evidence.Sums)}");
        }

        Assert.Equal(200_000, evidence.Checks);
        Assert.InRange(largest, 1, SampleCountEvidence.Threshold - 4);
    }

    [Theory]
    [InlineData(2.0, 16)]
    [InlineData(3.0, 8)]
    [InlineData(5.0, 4)]
    [InlineData(100, 4)]
    public void ASteadyLeanAtOneCount_MakesASuspectWithinAJob(double z, int checks)
    {
        // Guards the band and border gap: a cheat confined to a tenth of each frame gives a check |z| of a few, under the
        // per-check threshold of 6.5, so no check fails; the same lean, check after check, crosses within a 24-frame job.
        SampleCountEvidence evidence = SampleCountEvidence.None;
        double[] statistic = [z, 0.5, -0.3, 0, 0.2, -1];
        for (int i = 1; i < checks; i++)
        {
            evidence = SampleCountEvidence.Update(evidence, statistic);
            Assert.False(evidence.IsSuspect, $"check {i}: {evidence.Largest}");
        }

        evidence = SampleCountEvidence.Update(evidence, statistic);
        Assert.True(evidence.IsSuspect);
        Assert.Equal(checks, evidence.Checks);
    }

    [Fact]
    public void NegativeStatistics_AddNothing_AndHonestChecksWearEvidenceDown()
    {
        // Only the side a frame with fewer samples moves to counts: a frame leaning away from the earlier counts is not that.
        SampleCountEvidence evidence = SampleCountEvidence.None;
        for (int i = 0; i < 100; i++)
        {
            evidence = SampleCountEvidence.Update(evidence, [-6, -6, -6, -6, -6, -6]);
        }

        Assert.Equal(0, evidence.Largest);

        evidence = SampleCountEvidence.Update(evidence, [100, 0, 0, 0, 0, 0]);
        Assert.Equal(SampleCountEvidence.MaxStep - SampleCountEvidence.Allowance, evidence.Sums[0]);
        evidence = SampleCountEvidence.Update(evidence, [0, 0, 0, 0, 0, 0]);
        Assert.Equal(SampleCountEvidence.MaxStep - (2 * SampleCountEvidence.Allowance), evidence.Sums[0]);
    }

    [Fact]
    public void NaNAddsNothing_FewerCountsKeepTheOthers_AndMoreThanSixAreIgnored()
    {
        SampleCountEvidence evidence = SampleCountEvidence.Update(SampleCountEvidence.None, [4, 4, 4, 4, 4, 4, 4, 4]);
        Assert.Equal(SampleCountEvidence.Counts, evidence.Sums.Count);
        Assert.All(evidence.Sums, s => Assert.Equal(3, s));

        // A low sample count has fewer snapshot counts: the missing ones wear down by the allowance only.
        evidence = SampleCountEvidence.Update(evidence, [double.NaN, 4]);
        Assert.Equal([2.0, 6.0, 2.0, 2.0, 2.0, 2.0], evidence.Sums);
        Assert.Equal(2, evidence.Checks);
    }

    [Fact]
    public void TheFalseAlarmBound_IsNegligibleOverAProvidersLifetime()
    {
        // 6 counts · N checks · exp(−2·k·h): under 10⁻⁶ for ten million checked frames.
        Assert.InRange(SampleCountEvidence.FalseAlarmBound(10_000_000), 1e-7, 1e-6);
        Assert.Equal(0, SampleCountEvidence.FalseAlarmBound(0));
        Assert.Equal(1, SampleCountEvidence.FalseAlarmBound(long.MaxValue));
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
