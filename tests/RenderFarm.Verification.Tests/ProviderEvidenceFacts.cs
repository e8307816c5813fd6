namespace RenderFarm.Verification.Tests;

public class ProviderEvidenceFacts
{
    [Fact]
    public void HonestStatistics_NeverRaiseTheAlarm_OverManySeededFrames()
    {
        // Per-frame bias statistics of honest frames wander around zero (measured |z| up to 3 across simulated devices).
        var random = new Random(17);
        ProviderEvidence evidence = ProviderEvidence.None;
        for (int frame = 0; frame < 200_000; frame++)
        {
            evidence = ProviderEvidence.Update(evidence, Normal(random) * 1.2);
            Assert.False(evidence.IsBiased, $"frame {frame}: {evidence}");
        }

        Assert.Equal(200_000, evidence.Frames);
    }

    [Theory]
    [InlineData(2.5, 8)]
    [InlineData(-2.5, 8)]
    [InlineData(4, 4)]
    [InlineData(-100, 3)]
    public void ASteadyBias_IsCaughtWithinAFewFrames(double z, int frames)
    {
        // Guards the steady-small-cheat gap: z of 2.5 never fails one frame (the per-frame rule needs 6), yet a provider
        // that shows it frame after frame crosses the threshold in a job of 24 frames.
        ProviderEvidence evidence = ProviderEvidence.None;
        for (int i = 1; i < frames; i++)
        {
            evidence = ProviderEvidence.Update(evidence, z);
            Assert.False(evidence.IsBiased);
        }

        Assert.True(ProviderEvidence.Update(evidence, z).IsBiased);
    }

    [Fact]
    public void OneOutlier_AddsAtMostTheMaximumStep_AndNaNAddsNothing()
    {
        ProviderEvidence evidence = ProviderEvidence.Update(ProviderEvidence.None, double.PositiveInfinity);
        Assert.Equal(ProviderEvidence.MaxStep - ProviderEvidence.Allowance, evidence.Upper);
        Assert.False(evidence.IsBiased);

        ProviderEvidence after = ProviderEvidence.Update(evidence, double.NaN);
        Assert.Equal((2L, evidence.Upper - ProviderEvidence.Allowance, 0.0), (after.Frames, after.Upper, after.Lower));
    }

    [Fact]
    public void AlternatingSigns_CancelOut()
    {
        ProviderEvidence evidence = ProviderEvidence.None;
        for (int i = 0; i < 1000; i++)
        {
            evidence = ProviderEvidence.Update(evidence, i % 2 == 0 ? 5 : -5);
        }

        Assert.False(evidence.IsBiased);
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
