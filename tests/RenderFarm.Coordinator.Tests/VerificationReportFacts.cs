using RenderFarm.Coordinator.Api;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Tests;

public sealed class VerificationReportFacts
{
    private const string Honest = "0x00000000000000000000000000000000000000a1";
    private const string Cheat = "0x00000000000000000000000000000000000000b2";

    [Fact]
    public void Escape_odds_follow_the_checks_each_provider_actually_had()
    {
        // Honest delivered frames 1-4, each spot-checked with 7 of the 64 8x8 tiles of a 64x64 frame; frame 1 also
        // re-rendered whole. The cheat delivered frame 5, failed its check and was proven wrong.
        var tasks = new List<TaskRecord>
        {
            Task(0, [.. Enumerable.Range(1, 4).Select(f => Check(f, Honest, SpotCheckState.Passed)), Check(1, Honest, SpotCheckState.Passed, wholeFrame: true)]),
            Task(1, [Check(5, Cheat, SpotCheckState.Failed)], rejectedBy: [Cheat]),
        };

        IReadOnlyList<ProviderVerification> report = VerificationReport.Create(new ImageSize(64, 64), tasks);

        ProviderVerification honest = Assert.Single(report, p => p.Provider == Honest);
        Assert.Equal((4, 4, 1, 0, false), (honest.FramesDelivered, honest.SpotChecks, honest.WholeFrameSamples, honest.ChecksFailed, honest.Caught));
        // A frame wrong all over: a spot check fails when one of its 7 tiles does, or at least at the measured catch of
        // a check of such a frame (share and sample-count rules); a whole-frame check likewise over its 64 tiles.
        CheatCatchRate wrong = CheatCatchRates.WrongPixelsRate;
        double t = wrong.TileCatch;
        double spot = Math.Max(1 - Math.Pow(1 - t, 7), wrong.FrameCatch), whole = Math.Max(1 - Math.Pow(1 - t, 64), wrong.WholeCatch);
        Assert.Equal(Math.Pow((1 - (0.25 * whole)) * (1 - spot), 4), Odds(honest, share: 1, area: 1), 12);
        Assert.True(Odds(honest, share: 1, area: 1) < Odds(honest, share: 1, area: 0.01));
        // One wrong tile in every frame: each spot check lands on it with 7/64 and a checked wrong tile fails at the
        // measured rate t; a quarter of the frames were re-rendered whole, which fail at t too.
        Assert.Equal(Math.Pow((1 - (0.25 * t)) * (1 - (7.0 / 64 * t)), 4), Odds(honest, share: 1, area: 0.01), 12);
        // Cheating more never escapes more easily.
        Assert.True(Odds(honest, share: 0.05, area: 0.01) >= Odds(honest, share: 0.25, area: 0.01));

        // Whole-frame cheats under the tolerance use their measured catch per frame; one the checks do not catch in a
        // frame is reported as not bounded (odds 1).
        foreach (CheatCatchRate rate in CheatCatchRates.Measured.Skip(1))
        {
            double odds = Assert.Single(honest.Escape, o => o.CheatedShare == 1 && o.Cheat == rate.Cheat).Probability;
            Assert.Equal(Math.Pow((1 - (0.25 * rate.WholeCatch)) * (1 - rate.FrameCatch), 4), odds, 12);
            Assert.Equal(!rate.Bounded, odds == 1);
        }

        ProviderVerification cheat = Assert.Single(report, p => p.Provider == Cheat);
        Assert.Equal((1, 1, true), (cheat.FramesDelivered, cheat.ChecksFailed, cheat.Caught));
    }

    [Fact]
    public void A_job_long_enough_for_the_evidence_bounds_a_steady_cheat_by_its_measured_job_catch()
    {
        // Guards the report's odds for cheats on part of each frame (a band, the border): one check catches them rarely,
        // so the per-frame odds stay near 1, but over a job of 24 checked frames the provider's sample-count evidence
        // catches them at the measured job catch. With one frame fewer than the measured job the per-frame odds stand.
        CheatCatchRate wrong = CheatCatchRates.WrongPixelsRate;
        ProviderVerification Report(int frames) => Assert.Single(VerificationReport.Create(
            new ImageSize(64, 64),
            [Task(0, [.. Enumerable.Range(1, frames).Select(f => Check(f, Honest, SpotCheckState.Passed))])]));

        ProviderVerification job = Report(CheatCatchRates.JobFrames);
        Assert.Equal(1 - wrong.JobCatch!.Value, Odds(job, share: 1, area: 0.1), 12);
        Assert.True(Odds(Report(CheatCatchRates.JobFrames - 1), share: 1, area: 0.1) > 1 - wrong.JobCatch.Value);

        // Cheating on a quarter of the frames dilutes the evidence: the per-frame odds stand, as for one wrong tile.
        Assert.True(Odds(job, share: 0.25, area: 0.1) > 1 - wrong.JobCatch.Value);
        Assert.True(Odds(job, share: 1, area: 0.01) > 1 - wrong.JobCatch.Value);

        // Classes measured over jobs use their job catch (capped); those measured at none stay unbounded.
        foreach (CheatCatchRate rate in CheatCatchRates.Measured.Skip(1))
        {
            double odds = Assert.Single(job.Escape, o => o.CheatedShare == 1 && o.Cheat == rate.Cheat).Probability;
            double perFrame = Math.Pow(1 - rate.FrameCatch, CheatCatchRates.JobFrames);
            Assert.Equal(Math.Min(perFrame, 1 - Math.Min(rate.JobCatch ?? 0, CheatCatchRates.MaxJobCatch)), odds, 12);
            Assert.Equal(!rate.Bounded && (rate.JobCatch ?? 0) == 0, odds == 1);
        }
    }

    private static double Odds(ProviderVerification provider, double share, double area) =>
        Assert.Single(provider.Escape, o => o.CheatedShare == share && o.CheatedArea == area && o.Cheat == CheatCatchRates.WrongPixels).Probability;

    private static TaskRecord Task(int index, IReadOnlyList<SpotCheckRecord> checks, IReadOnlyList<string>? rejectedBy = null) => new()
    {
        JobId = Guid.Empty,
        Index = index,
        FirstFrame = index,
        LastFrame = index,
        Checks = [.. checks.Select((c, i) => c with { Number = i + 1 })],
        RejectedBy = rejectedBy ?? [],
    };

    private static SpotCheckRecord Check(int frame, string provider, SpotCheckState state, bool wholeFrame = false) => new()
    {
        Number = 0,
        Frame = frame,
        RenderedBy = provider,
        OutputSha256 = $"sha-{frame}",
        Tiles = wholeFrame ? [new PixelTile(0, 0, 64, 64)] : [.. Enumerable.Range(0, 7).Select(i => new PixelTile(i * 8, i * 8, 8, 8))],
        WholeFrame = wholeFrame,
        State = state,
    };
}
