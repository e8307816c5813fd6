using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Verification;
using SixLabors.ImageSharp.PixelFormats;

using static RenderFarm.Coordinator.Tests.CheckFrames;
using Renders = RenderFarm.Coordinator.Tests.SampleCountCheckFacts.Renders;

namespace RenderFarm.Coordinator.Tests;

/// <summary>A provider's sample-count evidence across the frames of a job (frames made here, no GPU).</summary>
public sealed class SampleEvidenceFacts
{
    private const int Frames = 24;

    private static readonly Dictionary<string, string?> s_tilesOnly = new()
    {
        ["Coordinator:SpotChecks"] = "true",
        ["Coordinator:WholeFrameSamples"] = "false",
    };

    [Fact]
    public async Task A_provider_with_a_band_at_a_quarter_of_the_samples_in_every_frame_is_caught_over_a_job_and_an_honest_one_is_not()
    {
        // Guards the band gap: one row of each frame at a quarter of the samples moves a check's sample-count statistic
        // by a few standard errors, under the per-check threshold, so every check passes on its own; summed over the
        // job's frames it crosses, and the provider's work in the job is redone elsewhere. An honest provider on another
        // device (its pixels off by independent noise) delivers the same number of frames and keeps every one.
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        TestProvider validator = await farm.LoginAsync();

        JobSummary honestJob = await farm.SubmitAsync(frames: $"1-{Frames}");
        TestProvider honest = await farm.LoginAsync();
        int delivered = await DeliverAndCheckAsync(farm, honest, validator, (renders, frame) => renders.Delivered(OtherDevice(renders.Full, seed: frame)));
        Assert.Equal(Frames, delivered);
        JobDetails honestDetails = await farm.GetJobAsync(honestJob.Id);
        Assert.Equal(JobState.Completed, honestDetails.Job.State);
        Assert.All(honestDetails.Tasks, t => Assert.Equal(SpotCheckState.Passed, Assert.Single(t.Checks!).State));
        Assert.All(honestDetails.Tasks, t => Assert.Empty(t.Failures ?? []));

        JobSummary cheatJob = await farm.SubmitAsync(frames: $"1-{Frames}");
        TestProvider cheat = await farm.LoginAsync();
        delivered = await DeliverAndCheckAsync(farm, cheat, validator, (renders, _) => renders.Delivered(Band(renders.Full, renders.Snapshots[0], row: 13)));
        JobDetails details = await farm.GetJobAsync(cheatJob.Id);

        // No check failed on its own; the evidence crossed within the job and the cheat was stopped before its last frame.
        Assert.All(details.Tasks.SelectMany(t => t.Checks ?? []), c => Assert.NotEqual(SpotCheckState.Failed, c.State));
        Assert.InRange(delivered, 4, Frames - 1);
        TaskDetails[] redone = [.. details.Tasks.Where(t => t.Error?.Contains($"sample-count evidence of {cheat.Address}", StringComparison.OrdinalIgnoreCase) == true)];
        Assert.Equal(delivered, redone.Length);
        Assert.All(redone, t => Assert.Equal((FarmTaskState.Queued, null), (t.State, t.Provider)));
        Assert.Equal(Frames, details.Tasks.Count(t => t.State == FarmTaskState.Queued));

        // The evidence comes from validators, so it proves nothing: no task names the provider as proven wrong (it is not
        // slashed), but it takes no more of the job.
        Assert.All(details.Tasks, t => Assert.Empty(t.RejectedBy ?? []));
        Assert.Null(await cheat.LeaseAsync(1));
    }

    [Fact]
    public async Task Suspicion_leaves_outputs_that_await_a_third_execution_to_their_proof()
    {
        // Guards the proof against the evidence: a blatant cheat fails every check, and each failed check waits for a
        // third execution (2 of 3) that would prove it and slash it. Its sample-count evidence crosses the threshold after
        // a few of those checks; redoing its work then cancelled the waiting arbitrations, so the cheat escaped the
        // proof. Those outputs now stay with their arbitrations.
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        TestProvider validator = await farm.LoginAsync();
        const int frames = 6;
        JobSummary job = await farm.SubmitAsync(frames: $"1-{frames}");
        TestProvider cheat = await farm.LoginAsync();
        int delivered = await DeliverAndCheckAsync(farm, cheat, validator, (renders, _) => renders.Delivered(Amplified(renders.Full, renders.Snapshots[0], factor: 3)));
        JobDetails details = await farm.GetJobAsync(job.Id);

        // The evidence crossed (the statistic of each failed check counts too) ...
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        (long checks, IReadOnlyList<double> sums) = await store.GetProviderSampleEvidenceAsync(cheat.Address);
        Assert.True(new SampleCountEvidence(checks, sums).IsSuspect, $"evidence {string.Join(", ", sums)} over {checks} checks");

        // ... yet every output the cheat delivered keeps its failed check and the arbitration that will settle it.
        Assert.Equal(frames, delivered);
        Assert.All(details.Tasks, t =>
        {
            Assert.Equal(cheat.Address, t.Provider, ignoreCase: true);
            Assert.Contains(t.Checks!, c => c.State == SpotCheckState.Failed && c.Arbitrates is null);
            Assert.Contains(t.Checks!, c => c.Arbitrates is not null && c.State == SpotCheckState.Queued);
            Assert.DoesNotContain("sample-count evidence", t.Error ?? string.Empty, StringComparison.OrdinalIgnoreCase);
        });
    }

    // Renders each frame the provider leases, delivers it as `deliver` makes it and has the validator check it with its
    // snapshots; stops when the provider gets no more work. Returns the frames delivered.
    private static async Task<int> DeliverAndCheckAsync(TestFarm farm, TestProvider provider, TestProvider validator, Func<Renders, int, SixLabors.ImageSharp.Image<Rgb24>> deliver)
    {
        int delivered = 0;
        while (await provider.LeaseAsync(1) is { } grant)
        {
            Renders renders = Renders.Draw(seed: grant.FirstFrame, samplesPerPixel: 4);
            await CompleteWithImageAsync(farm, provider, grant, deliver(renders, grant.FirstFrame));
            delivered++;

            LeaseGrant check = (await validator.LeaseAsync(5, "validate"))!;
            Assert.NotNull(check);
            Assert.Equal(grant.FirstFrame, check.Validation!.Frame);
            await TestFarm.ExpectAsync(await validator.CompleteAsync(check.LeaseId, renders.DeepStrip(check)), HttpStatusCode.OK);
        }

        return delivered;
    }

    // The validator's full render pushed `factor` times as far as its earliest snapshot lies from it: fewer samples, made
    // plain enough that every check fails on its own.
    private static Rgb48[,] Amplified(Rgb48[,] full, Rgb48[,] snapshot, int factor)
    {
        var frame = (Rgb48[,])full.Clone();
        for (int y = 0; y < frame.GetLength(1); y++)
        {
            for (int x = 0; x < frame.GetLength(0); x++)
            {
                Rgb48 f = full[x, y], s = snapshot[x, y];
                frame[x, y] = new Rgb48(Push(f.R, s.R), Push(f.G, s.G), Push(f.B, s.B));
            }
        }

        return frame;

        ushort Push(ushort f, ushort s) => (ushort)Math.Clamp(f + (factor * (s - f)), 0, 65_535);
    }

    // The frame with one row taken from the validator's render at a quarter of the samples.
    private static Rgb48[,] Band(Rgb48[,] full, Rgb48[,] quarter, int row)
    {
        var frame = (Rgb48[,])full.Clone();
        for (int x = 0; x < frame.GetLength(0); x++)
        {
            frame[x, row] = quarter[x, row];
        }

        return frame;
    }

    // An honest frame from a device whose arithmetic differs: every value off by independent, symmetric noise.
    private static Rgb48[,] OtherDevice(Rgb48[,] full, int seed)
    {
        var random = new Random(seed);
        var frame = (Rgb48[,])full.Clone();
        for (int y = 0; y < frame.GetLength(1); y++)
        {
            for (int x = 0; x < frame.GetLength(0); x++)
            {
                Rgb48 v = frame[x, y];
                frame[x, y] = new Rgb48(Jitter(v.R), Jitter(v.G), Jitter(v.B));
            }
        }

        return frame;

        ushort Jitter(ushort value) => (ushort)Math.Clamp(value + random.Next(-300, 301), 0, 65_535);
    }
}
