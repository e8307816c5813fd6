using System.Security.Cryptography;
using System.Text;

namespace RenderFarm.Verification.Tests;

public sealed class CanarySelectionFacts
{
    private const int Outputs = 20_000;
    private static readonly Guid s_job = Guid.Parse("0c5e2d7a-8f31-4b6e-a2d9-71c4e0f93b15");

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.2)]
    [InlineData(0.5)]
    public void the_share_of_known_answers_sent_as_canaries_is_the_rate(double rate)
    {
        var selection = new CanarySelection(Secret(1), rate);

        int chosen = Enumerable.Range(1, Outputs).Count(f => selection.Decide(s_job, f, Sha(f), firstInJob: false).Chosen);

        // Four standard deviations of a binomial count.
        double sd = Math.Sqrt(Outputs * rate * (1 - rate));
        Assert.InRange(chosen, (Outputs * rate) - (4 * sd), (Outputs * rate) + (4 * sd));
    }

    [Fact]
    public void the_jobs_first_known_answer_is_always_a_canary_unless_canaries_are_off()
    {
        var low = new CanarySelection(Secret(1), 0.01);
        var off = new CanarySelection(Secret(1), 0);

        Assert.All(Enumerable.Range(1, 200), f => Assert.True(low.Decide(s_job, f, Sha(f), firstInJob: true).Chosen));
        Assert.All(Enumerable.Range(1, 200), f => Assert.False(off.Decide(s_job, f, Sha(f), firstInJob: true).Chosen));
        Assert.StartsWith("canary: the job's first known answer", low.Decide(s_job, 1, Sha(1), true).Reason, StringComparison.Ordinal);
        Assert.False(off.Decide(s_job, 1, Sha(1), true).FirstInJob);
    }

    [Fact]
    public void the_draw_is_keyed_by_the_secret_and_the_output_and_repeatable()
    {
        var a = new CanarySelection(Secret(1));
        var b = new CanarySelection(Secret(2));

        Assert.Equal(a.Decide(s_job, 3, Sha(3), false).Draw, a.Decide(s_job, 3, Sha(3).ToUpperInvariant(), false).Draw);
        Assert.NotEqual(a.Decide(s_job, 3, Sha(3), false).Draw, b.Decide(s_job, 3, Sha(3), false).Draw);
        // A redone frame (another output) is drawn again; so is the same output in another job.
        Assert.NotEqual(a.Decide(s_job, 3, Sha(3), false).Draw, a.Decide(s_job, 3, Sha(4), false).Draw);
        Assert.NotEqual(a.Decide(s_job, 3, Sha(3), false).Draw, a.Decide(Guid.NewGuid(), 3, Sha(3), false).Draw);
        // Unrelated to the whole-frame sampling draw of the same job and frame.
        Assert.NotEqual(a.Decide(s_job, 3, Sha(3), false).Draw, WholeFrameSampling.Draw(Secret(1), s_job, 3, Sha(3)));
    }

    [Fact]
    public void bad_settings_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new CanarySelection(new byte[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CanarySelection(Secret(1), 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CanarySelection(Secret(1), double.NaN));
    }

    private static byte[] Secret(int seed) => SHA256.HashData(BitConverter.GetBytes(seed));

    private static string Sha(int frame) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"frame {frame}")));
}
