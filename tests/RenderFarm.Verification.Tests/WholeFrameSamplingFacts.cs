namespace RenderFarm.Verification.Tests;

public sealed class WholeFrameSamplingFacts
{
    private const int Frames = 20_000;
    private const string Provider = "0xAbC0000000000000000000000000000000000001";
    private static readonly Guid s_job = Guid.Parse("6a1f3c2e-5b7d-4e19-9c0a-3d2f1e0b8a77");

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.25)]
    [InlineData(0.5)]
    public void the_share_of_sampled_frames_is_the_rate(double rate)
    {
        var sampling = new WholeFrameSampling(Secret(1), rate, rate, rate);

        int sampled = Enumerable.Range(1, Frames).Count(f => sampling.Decide(s_job, f, Provider, 1000, 0, firstInJob: false).Sampled);

        // Four standard deviations of a binomial count.
        double sd = Math.Sqrt(Frames * rate * (1 - rate));
        Assert.InRange(sampled, (Frames * rate) - (4 * sd), (Frames * rate) + (4 * sd));
    }

    [Fact]
    public void the_rate_rises_for_new_providers_and_more_for_caught_ones()
    {
        var sampling = new WholeFrameSampling(Secret(1), rate: 0.05, newProviderRate: 0.25, suspectProviderRate: 0.5, newProviderFrames: 100);

        WholeFrameSampleDecision established = sampling.Decide(s_job, 7, Provider, 100, 0, false);
        WholeFrameSampleDecision fresh = sampling.Decide(s_job, 7, Provider, 99, 0, false);
        WholeFrameSampleDecision suspect = sampling.Decide(s_job, 7, Provider, 5000, 1, false);

        Assert.Equal((0.05, ProviderStanding.Established), (established.Rate, established.Standing));
        Assert.Equal((0.25, ProviderStanding.New), (fresh.Rate, fresh.Standing));
        Assert.Equal((0.5, ProviderStanding.Suspect), (suspect.Rate, suspect.Standing));

        // One draw per (job, frame, provider): a frame sampled at a low rate is sampled at every higher one.
        Assert.Equal(established.Draw, suspect.Draw);
        int atLow = 0, atHigh = 0;
        for (int frame = 1; frame <= 2000; frame++)
        {
            bool low = sampling.Decide(s_job, frame, Provider, 1000, 0, false).Sampled;
            bool high = sampling.Decide(s_job, frame, Provider, 1000, 2, false).Sampled;
            Assert.True(!low || high, $"frame {frame}");
            atLow += low ? 1 : 0;
            atHigh += high ? 1 : 0;
        }

        Assert.True(atHigh > 5 * atLow, $"{atHigh} suspect samples against {atLow} established ones");
    }

    [Fact]
    public void the_first_frame_of_a_provider_in_a_job_is_always_sampled_even_at_rate_zero()
    {
        var sampling = new WholeFrameSampling(Secret(1), 0, 0, 0);

        for (int frame = 1; frame <= 200; frame++)
        {
            WholeFrameSampleDecision first = sampling.Decide(s_job, frame, Provider, 1000, 0, firstInJob: true);
            Assert.True(first.Sampled);
            Assert.StartsWith("first frame", first.Reason, StringComparison.Ordinal);
            Assert.False(sampling.Decide(s_job, frame, Provider, 1000, 0, firstInJob: false).Sampled);
        }
    }

    [Fact]
    public void the_choice_depends_on_the_secret_and_is_recomputable_with_it()
    {
        var first = new WholeFrameSampling(Secret(1), 0.25, 0.25, 0.25);
        var again = new WholeFrameSampling(Secret(1), 0.25, 0.25, 0.25);
        var other = new WholeFrameSampling(Secret(2), 0.25, 0.25, 0.25);

        bool[] chosen = [.. Enumerable.Range(1, 400).Select(f => first.Decide(s_job, f, Provider, 0, 0, false).Sampled)];
        bool[] recomputed = [.. Enumerable.Range(1, 400).Select(f => again.Decide(s_job, f, Provider.ToLowerInvariant(), 0, 0, false).Sampled)];
        bool[] otherSecret = [.. Enumerable.Range(1, 400).Select(f => other.Decide(s_job, f, Provider, 0, 0, false).Sampled)];

        Assert.Equal(chosen, recomputed);
        // Independent choices at rate 0.25 agree on about 62.5 % of frames; equal ones on all.
        int agreeing = chosen.Zip(otherSecret).Count(p => p.First == p.Second);
        Assert.InRange(agreeing, 200, 300);
        // Another job or provider draws anew, too.
        Assert.NotEqual(
            WholeFrameSampling.Draw(Secret(1), s_job, 1, Provider),
            WholeFrameSampling.Draw(Secret(1), Guid.NewGuid(), 1, Provider));
        Assert.NotEqual(
            WholeFrameSampling.Draw(Secret(1), s_job, 1, Provider),
            WholeFrameSampling.Draw(Secret(1), s_job, 1, "0xAbC0000000000000000000000000000000000002"));
    }

    [Fact]
    public void rates_and_secrets_out_of_range_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new WholeFrameSampling(new byte[8]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WholeFrameSampling(Secret(1), rate: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WholeFrameSampling(Secret(1), suspectProviderRate: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WholeFrameSampling(Secret(1), newProviderFrames: -1));
    }

    private static byte[] Secret(int seed)
    {
        byte[] secret = new byte[32];
        new Random(seed).NextBytes(secret);
        return secret;
    }
}
