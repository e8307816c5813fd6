using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Api;

/// <summary>The job report's verification part: per provider, what was checked and the odds that cheating escaped.</summary>
internal static class VerificationReport
{
    // Shares of a provider's frames cheated, and shares of each cheated frame that are wrong, the report covers.
    private static readonly double[] s_cheatedShares = [0.05, 0.25, 1];
    private static readonly double[] s_cheatedAreas = [0.01, 0.1, 1];

    public static IReadOnlyList<ProviderVerification> Create(ImageSize size, IReadOnlyList<TaskRecord> tasks)
    {
        SpotCheckRecord[] checks = [.. tasks.SelectMany(t => t.Checks).Where(c => !c.Canary)];
        SpotCheckRecord[] canaries = [.. tasks.SelectMany(t => t.Checks).Where(c => c.Canary && c.State is SpotCheckState.Passed or SpotCheckState.Failed)];
        var report = new List<ProviderVerification>();
        foreach (IGrouping<string, SpotCheckRecord> provider in checks.GroupBy(c => c.RenderedBy, StringComparer.OrdinalIgnoreCase).OrderBy(g => g.Key, StringComparer.OrdinalIgnoreCase))
        {
            SpotCheckRecord[] answered = [.. canaries.Where(c => string.Equals(c.Validator, provider.Key, StringComparison.OrdinalIgnoreCase))];
            SpotCheckRecord[] finished = [.. provider.Where(c => c.State is SpotCheckState.Passed or SpotCheckState.Failed)];
            SpotCheckRecord[] spot = [.. finished.Where(c => !c.WholeFrame)];
            int delivered = provider.Select(c => (c.Frame, c.OutputSha256)).Distinct().Count();
            int wholeFrame = finished.Count(c => c.WholeFrame);
            bool caught = tasks.Any(t => t.RejectedBy.Contains(provider.Key, StringComparer.OrdinalIgnoreCase));

            // The tile grid of this job's spot checks: tiles of the checks' size over the frame.
            PixelTile? tile = spot.SelectMany(c => c.Tiles).FirstOrDefault();
            int candidates = tile is null ? 1 : Math.Max(1, size.Width / tile.Width * (size.Height / tile.Height));
            int tilesPerCheck = spot.Length == 0 ? 0 : Math.Min(candidates, (int)Math.Round(spot.Average(c => c.Tiles.Count)));
            int spotChecked = spot.Select(c => (c.Frame, c.OutputSha256)).Distinct().Count();
            double spotCheckedShare = delivered == 0 ? 0 : Math.Min(1, (double)spotChecked / delivered);
            double wholeFrameRate = delivered == 0 ? 0 : Math.Min(1, (double)finished.Where(c => c.WholeFrame).Select(c => (c.Frame, c.OutputSha256)).Distinct().Count() / delivered);

            var odds = new List<EscapeOdds>();
            foreach (double share in s_cheatedShares)
            {
                foreach (double area in s_cheatedAreas)
                {
                    int cheatedTiles = Math.Clamp((int)Math.Ceiling(area * candidates), 1, candidates);
                    CheatCatchRate wrong = CheatCatchRates.WrongPixelsRate;
                    double spotCatch = DetectionProbability.SpotCheckCatchProbability(candidates, cheatedTiles, tilesPerCheck, wrong.TileCatch);
                    double wholeCatch = DetectionProbability.SpotCheckCatchProbability(candidates, cheatedTiles, candidates, wrong.TileCatch);
                    if (cheatedTiles == candidates)
                    {
                        // A frame wrong all over is also caught by the rules over the whole check (share, sample count).
                        spotCatch = Math.Max(spotCatch, wrong.FrameCatch);
                        wholeCatch = Math.Max(wholeCatch, wrong.WholeCatch);
                    }

                    spotCatch *= spotCheckedShare;
                    double escape = DetectionProbability.Escape(delivered, share, wholeFrameRate, spotCatch, wholeCatch);
                    odds.Add(new EscapeOdds(share, area, area >= 0.1 ? WithJobCatch(escape, wrong, share, spotChecked, tilesPerCheck) : escape));
                }

                // Cheats over the whole frame that no single tile shows (exposure, bounces, samples): their measured catch
                // per checked frame, 0 (odds of 1) for those the checks do not catch in one frame.
                foreach (CheatCatchRate rate in CheatCatchRates.Measured.Skip(1))
                {
                    double escape = DetectionProbability.Escape(delivered, share, wholeFrameRate, spotCheckedShare * rate.FrameCatch, rate.WholeCatch);
                    odds.Add(new EscapeOdds(share, 1, WithJobCatch(escape, rate, share, spotChecked, tilesPerCheck), rate.Cheat));
                }
            }

            report.Add(new ProviderVerification(
                provider.First().RenderedBy,
                delivered,
                spot.Length,
                wholeFrame,
                finished.Count(c => c.State == SpotCheckState.Failed),
                caught,
                odds,
                answered.Length,
                answered.Count(c => c.State == SpotCheckState.Failed)));
        }

        // Providers that delivered nothing of the job but answered canaries (one that failed is caught).
        foreach (IGrouping<string, SpotCheckRecord> taker in canaries
            .Where(c => !report.Any(r => string.Equals(r.Provider, c.Validator, StringComparison.OrdinalIgnoreCase)))
            .GroupBy(c => c.Validator!, StringComparer.OrdinalIgnoreCase))
        {
            bool caught = tasks.Any(t => t.RejectedBy.Contains(taker.Key, StringComparer.OrdinalIgnoreCase));
            report.Add(new ProviderVerification(taker.First().Validator!, 0, 0, 0, 0, caught, [], taker.Count(), taker.Count(c => c.State == SpotCheckState.Failed)));
        }

        return report;
    }

    // A provider that carried the cheat in every frame of at least the measured job length is caught at least at the
    // measured job catch (its checks and its accumulated evidence together); a longer run only adds evidence. A cheat on
    // some frames only dilutes the evidence, so the per-frame odds stand there.
    private static double WithJobCatch(double escape, CheatCatchRate rate, double share, int spotChecked, int tilesPerCheck) =>
        share >= 1 && spotChecked >= CheatCatchRates.JobFrames && rate.JobCatchFor(tilesPerCheck) is { } job
            ? Math.Min(escape, 1 - Math.Min(job, CheatCatchRates.MaxJobCatch))
            : escape;
}
