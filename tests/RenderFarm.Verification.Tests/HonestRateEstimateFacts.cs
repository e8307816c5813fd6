namespace RenderFarm.Verification.Tests;

public class HonestRateEstimateFacts
{
    private const int Tiles = 28;
    private const int Side = 8;

    [Fact]
    public void ABandCheatInSmoothTiles_FailsAtHighSampleCounts_WhereTheFixedRatePassedIt()
    {
        // Guards the gap of the fixed rate per sample count: at 1,024 spp the Cornell box's light needs 8 %, which lets a
        // tile hold 21 of 64 pixels beyond the tolerance, so a cheat that puts a few pixels of smooth tiles beyond it (a
        // band or border rendered at a quarter of the samples) passed. The validator's snapshots show those pixels barely
        // move over their last samples, so honest divergence cannot put them beyond the tolerance.
        SpotCheckDecision decision = SpotCheckDecision.ForSamples(1024);
        var random = new Random(5);
        var regions = new List<(float[] Expected, float[] Actual)>();
        var full = new List<float[]>();
        var half = new List<float[]>();
        var quarter = new List<float[]>();
        for (int t = 0; t < Tiles; t++)
        {
            float[] f = Smooth(random), h = Jitter(f, random, 0.0005f), q = Jitter(f, random, 0.0009f);
            float[] delivered = [.. f];
            if (t < 3)
            {
                // A band over three tiles: five pixels each, 0.03 off in one channel.
                for (int p = 0; p < 5; p++)
                {
                    delivered[(3 * ((4 * Side) + p)) + 1] += 0.03f;
                }
            }

            full.Add(f);
            half.Add(h);
            quarter.Add(q);
            regions.Add((f, delivered));
        }

        DifferenceStatistics statistics = DifferenceStatistics.Measure(regions, decision.Tolerance);
        HonestRates rates = Predict(full, half, quarter, decision);

        Assert.True(decision.Judge(statistics).Pass, "the fixed rate at 1,024 spp lets the band pass");
        SpotCheckOutcome outcome = decision.Judge(statistics, null, rates);
        Assert.False(outcome.Pass);
        Assert.Equal(3, outcome.TilesFailed);
        Assert.InRange(rates.Check, HonestRateEstimate.Floor, 0.001);
    }

    [Fact]
    public void NoisyPixels_NeverGetMoreThanTheFixedRate()
    {
        // The fixed rate is the upper bound: a validator whose snapshots spread wildly (a noisy scene, or a validator that
        // lies about them) can at most bring a check back to the fixed rule, never make it more lenient.
        SpotCheckDecision decision = SpotCheckDecision.ForSamples(256);
        var random = new Random(9);
        float[] f = Smooth(random), h = Jitter(f, random, 0.3f), q = Jitter(f, random, 0.6f);

        double rate = HonestRateEstimate.PredictRegion(f, h, q, Side, decision.HonestBeyondRate, decision.Tolerance);

        Assert.Equal(decision.HonestBeyondRate, rate, 12);
        Assert.Equal(decision.MaxBeyond(64, 1), decision.MaxBeyond(64, 1, rate));
        Assert.Equal(decision.MaxBeyond(64, 1), decision.MaxBeyond(64, 1, 0.5));
    }

    [Theory]
    [InlineData(256, 0.01)]
    [InlineData(256, 0.05)]
    [InlineData(1024, 0.02)]
    public void HonestFramesThatDiverge_Pass_AndTheirBeyondCountStaysUnderThePrediction(int samples, double divergedShare)
    {
        // An honest provider on another device: each of its samples is the validator's, except a share that took another
        // path (an independent draw of the pixel's noise), then 8-bit rounding. The predicted rate must cover what such
        // frames put beyond the tolerance (the estimate never drops below honest), so every check passes.
        SpotCheckDecision decision = SpotCheckDecision.ForSamples(samples);
        var random = new Random(samples + (int)(divergedShare * 1000));
        long beyond = 0;
        double predicted = 0;
        for (int check = 0; check < 6; check++)
        {
            var regions = new List<(float[] Expected, float[] Actual)>();
            var full = new List<float[]>();
            var half = new List<float[]>();
            var quarter = new List<float[]>();
            for (int t = 0; t < Tiles; t++)
            {
                Tile tile = Tile.Draw(random, samples, divergedShare, noise: t % 2 == 0 ? 0.15f : 0.03f);
                regions.Add((Quantize(tile.Full), Quantize(tile.Provider)));
                full.Add(tile.Full);
                half.Add(tile.Half);
                quarter.Add(tile.Quarter);
            }

            DifferenceStatistics statistics = DifferenceStatistics.Measure(regions, decision.Tolerance);
            HonestRates rates = Predict(full, half, quarter, decision);
            SpotCheckOutcome outcome = decision.Judge(statistics, null, rates);

            Assert.True(outcome.Pass, $"check {check}: {outcome.TilesFailed} tiles, share {outcome.ShareExceeded}, {statistics.PixelsBeyondTolerance} beyond at rate {rates.Check:0.#####}");
            Assert.True(rates.Check <= decision.HonestBeyondRate + 1e-12, $"rate {rates.Check}");
            beyond += statistics.PixelsBeyondTolerance;
            predicted += rates.Check * statistics.Pixels;
        }

        Assert.True(beyond <= predicted, $"{beyond} honest pixels beyond, {predicted:0.0} predicted");
    }

    [Fact]
    public void Predict_RefusesMismatchedInputs()
    {
        float[] six = new float[6];
        Assert.Throws<ArgumentException>(() => HonestRateEstimate.PredictRegion(six, new float[3], six, 1, 0.05));
        Assert.Throws<ArgumentException>(() => HonestRateEstimate.PredictRegion(six, six, six, 4, 0.05));
        Assert.Throws<ArgumentOutOfRangeException>(() => HonestRateEstimate.PredictRegion(six, six, six, 2, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => HonestRateEstimate.PredictRegion(six, six, six, 2, 0.05, deviceFactor: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpotCheckDecision().MaxBeyond(64, 1, 0));
    }

    private static HonestRates Predict(List<float[]> full, List<float[]> half, List<float[]> quarter, SpotCheckDecision decision)
    {
        double[] perRegion = new double[full.Count];
        double sum = 0;
        for (int t = 0; t < full.Count; t++)
        {
            perRegion[t] = HonestRateEstimate.PredictRegion(full[t], half[t], quarter[t], Side, decision.HonestBeyondRate, decision.Tolerance);
            sum += perRegion[t];
        }

        // Equal regions: the check's rate is the mean of theirs.
        return new HonestRates(perRegion, sum / full.Count);
    }

    private static float[] Smooth(Random random)
    {
        float level = 0.2f + (0.5f * random.NextSingle());
        return [.. Enumerable.Range(0, Side * Side * 3).Select(_ => level)];
    }

    private static float[] Jitter(float[] values, Random random, float amplitude) =>
        [.. values.Select(v => v + (amplitude * ((2 * random.NextSingle()) - 1)))];

    // 8-bit rounding in linear light (steps of 1/255).
    private static float[] Quantize(float[] values) => [.. values.Select(v => MathF.Round(Math.Clamp(v, 0, 1) * 255) / 255)];

    /// <summary>
    /// A synthetic 8×8 tile: per pixel and channel a base radiance and heavy-tailed samples (most near it, a few bright);
    /// the validator's running means at n/4, n/2 and n, and an honest provider whose diverged samples are other draws.
    /// </summary>
    private sealed record Tile(float[] Full, float[] Half, float[] Quarter, float[] Provider)
    {
        public static Tile Draw(Random random, int samples, double divergedShare, float noise)
        {
            int length = Side * Side * 3;
            float[] full = new float[length], half = new float[length], quarter = new float[length], provider = new float[length];
            for (int i = 0; i < length; i++)
            {
                float baseline = 0.1f + (0.5f * random.NextSingle());
                double own = 0, theirs = 0;
                for (int j = 0; j < samples; j++)
                {
                    float sample = Sample(random, baseline, noise);
                    own += sample;
                    theirs += random.NextDouble() < divergedShare ? Sample(random, baseline, noise) : sample;
                    if (j + 1 == samples / 4)
                    {
                        quarter[i] = (float)(own / (j + 1));
                    }

                    if (j + 1 == samples / 2)
                    {
                        half[i] = (float)(own / (j + 1));
                    }
                }

                full[i] = (float)(own / samples);
                provider[i] = (float)(theirs / samples);
            }

            return new Tile(full, half, quarter, provider);
        }

        private static float Sample(Random random, float baseline, float noise) =>
            Math.Max(0, baseline + (random.NextDouble() < 0.1 ? noise * 10 * random.NextSingle() : noise * (random.NextSingle() - 0.5f)) - noise);
    }
}
