namespace RenderFarm.Verification.Tests;

public class SampleCountTestFacts
{
    private const int Samples = 64;
    private const int Pixels = 1920;

    [Fact]
    public void SnapshotCounts_LieBelowTheAskedCountAtBothEndsOfTheStream()
    {
        Assert.Equal([16, 32, 56, 60, 62, 63], SampleCountTest.SnapshotCounts(64));
        Assert.Equal([64, 128, 224, 240, 248, 252], SampleCountTest.SnapshotCounts(256));
        Assert.Equal([256, 512, 896, 960, 992, 1008], SampleCountTest.SnapshotCounts(1024));
        Assert.Equal([1, 2], SampleCountTest.SnapshotCounts(3));
        Assert.Empty(SampleCountTest.SnapshotCounts(1));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.01)]
    [InlineData(0.05)]
    public void HonestLikeDivergence_StaysBelowTheThreshold_WhateverItsSize(double diverged)
    {
        // An honest provider on another device: its samples are the validator's except a share that took another path,
        // then 8-bit rounding. Even five times the divergence measured on the simulated device keeps |z| small, since
        // which samples diverge has nothing to do with which came early or late.
        var decision = new SpotCheckDecision();
        var random = new Random(23);
        double largest = 0;
        for (int trial = 0; trial < 40; trial++)
        {
            Frame frame = Frame.Draw(random, diverged);
            SampleCountStatistic s = frame.Measure(frame.Provider(Samples, skipFirst: 0));
            largest = Math.Max(largest, s.MaxAbsZ);
            Assert.False(decision.Judge(Differences(frame, frame.Provider(Samples, 0)), s).SamplesExceeded, $"trial {trial}: {s.MaxAbsZ:0.00} at {s.WorstCount}");
        }

        Assert.InRange(largest, 0, 5.5);
    }

    [Theory]
    [InlineData(60, 0)] // 6 % fewer: the last 4 samples dropped
    [InlineData(62, 0)] // 3 % fewer
    [InlineData(48, 0)] // 25 % fewer, between the snapshots at n/2 and n − n/8
    [InlineData(16, 0)] // a quarter: at the snapshot n/4 (guards smooth scenes at high counts, where the count rules miss it)
    [InlineData(8, 0)] // an eighth, below the earliest snapshot
    public void FewerSamples_FollowTheValidatorsSnapshot_AndFail(int samples, int skipFirst)
    {
        // Guards the gap the count and bias rules leave: a frame with a few percent fewer samples stays within the
        // tolerance nearly everywhere and is unbiased, so it passed every check before the sample-count test.
        var decision = new SpotCheckDecision();
        var random = new Random(31);
        for (int trial = 0; trial < 10; trial++)
        {
            Frame frame = Frame.Draw(random, 0.01);
            float[] delivered = frame.Provider(samples, skipFirst);
            SampleCountStatistic s = frame.Measure(delivered);
            SpotCheckOutcome outcome = decision.Judge(Differences(frame, delivered), s);

            Assert.True(outcome.SamplesExceeded, $"trial {trial}: |z| {s.MaxAbsZ:0.00} at {s.WorstCount}");
            Assert.False(outcome.Pass);
        }
    }

    [Fact]
    public void ADroppedTail_HasASlopeNearOneAtItsCount()
    {
        var random = new Random(41);
        Frame frame = Frame.Draw(random, 0);
        SampleCountStatistic s = frame.Measure(frame.Provider(56, 0));

        int at = s.SampleCounts.ToList().IndexOf(56);
        Assert.InRange(s.Slope[at], 0.9, 1.1);
        Assert.True(s.Z[at] > 20, $"z {s.Z[at]:0.0}");
    }

    [Fact]
    public void WithoutSnapshots_TheDecisionIsTheOldOne()
    {
        var decision = new SpotCheckDecision();
        var random = new Random(3);
        Frame frame = Frame.Draw(random, 0);
        DifferenceStatistics statistics = Differences(frame, frame.Provider(60, 0));

        SpotCheckOutcome outcome = decision.Judge(statistics, null);

        Assert.Null(outcome.Samples);
        Assert.Equal(decision.Judge(statistics).Pass, outcome.Pass);
    }

    [Fact]
    public void Measure_RefusesMismatchedInputs()
    {
        float[] buffer = new float[6];
        Assert.Throws<ArgumentException>(() => SampleCountTest.Measure(buffer, buffer, [buffer], [1, 2]));
        Assert.Throws<ArgumentException>(() => SampleCountTest.Measure(buffer, new float[3], [buffer], [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpotCheckDecision(maxSampleZ: 0));
    }

    private static DifferenceStatistics Differences(Frame frame, float[] delivered) =>
        DifferenceStatistics.Measure([(Quantize(frame.Full), delivered)], PixelComparison.DefaultTolerance);

    // 8-bit rounding in linear light (steps of 1/255; coarser than sRGB near black, finer near white).
    private static float[] Quantize(float[] values) => [.. values.Select(v => MathF.Round(Math.Clamp(v, 0, 1) * 255) / 255)];

    /// <summary>
    /// A synthetic frame: per pixel and channel, a base radiance plus the noise of each of 64 samples, drawn once, as the
    /// deterministic streams fix them. The validator keeps running means at the snapshot counts.
    /// </summary>
    private sealed class Frame
    {
        private readonly float[][] _samples;
        private readonly float[][] _diverged;
        private readonly IReadOnlyList<int> _counts = SampleCountTest.SnapshotCounts(Samples);

        private Frame(float[][] samples, float[][] diverged)
        {
            _samples = samples;
            _diverged = diverged;
            Full = Mean(_samples, 0, Samples);
        }

        public float[] Full { get; }

        public static Frame Draw(Random random, double divergedShare)
        {
            var samples = new float[Samples][];
            var diverged = new float[Samples][];
            var baseline = new float[Pixels * 3];
            for (int i = 0; i < baseline.Length; i++)
            {
                baseline[i] = 0.1f + (0.6f * random.NextSingle());
            }

            for (int j = 0; j < Samples; j++)
            {
                samples[j] = new float[Pixels * 3];
                diverged[j] = new float[Pixels * 3];
                for (int i = 0; i < baseline.Length; i++)
                {
                    // Heavy-tailed path noise: most samples near the baseline, a few bright.
                    float noise = random.NextDouble() < 0.1 ? 1.5f * random.NextSingle() : 0.15f * (random.NextSingle() - 0.5f);
                    samples[j][i] = Math.Max(0, baseline[i] + noise - 0.07f);
                    diverged[j][i] = random.NextDouble() < divergedShare
                        ? Math.Max(0, baseline[i] + (0.3f * (random.NextSingle() - 0.5f)))
                        : samples[j][i];
                }
            }

            return new Frame(samples, diverged);
        }

        // The provider's frame from samples skipFirst .. skipFirst + count of its own (diverged) stream, 8-bit rounded.
        public float[] Provider(int count, int skipFirst) => Quantize(Mean(_diverged, skipFirst, count));

        public SampleCountStatistic Measure(float[] delivered) =>
            SampleCountTest.Measure(delivered, Full, [.. _counts.Select(c => Mean(_samples, 0, c))], _counts);

        private static float[] Mean(float[][] samples, int from, int count)
        {
            var mean = new float[samples[0].Length];
            for (int j = from; j < from + count; j++)
            {
                for (int i = 0; i < mean.Length; i++)
                {
                    mean[i] += samples[j][i];
                }
            }

            for (int i = 0; i < mean.Length; i++)
            {
                mean[i] /= count;
            }

            return mean;
        }
    }
}
