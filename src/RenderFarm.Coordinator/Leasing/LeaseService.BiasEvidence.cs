using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Verification;
using SixLabors.ImageSharp;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The statistical side of render checks: tiles are judged together by <see cref="SpotCheckDecision"/> (tiles, share
/// beyond the tolerance, bias of the signed mean), and each first check of a delivered frame adds its bias statistic to
/// the provider's <see cref="ProviderEvidence"/> across jobs. A provider whose evidence crosses the threshold is sampled
/// whole at the suspect rate from its next delivery on; the evidence itself never slashes anyone, because a validator
/// could skew it: whole-frame samples, arbitrated 2 of 3, are what prove a cheat.
/// </summary>
internal sealed partial class LeaseService
{
    private static readonly SpotCheckDecision s_decision = new(PixelComparison.DefaultTolerance);

    // The strip's tiles against the same tiles of the frame (offsetTiles) or the same strip positions of another strip,
    // judged together; Failed is at least 1 when the check fails on share or bias alone. BiasZ is the bias beyond the
    // smallest effect that counts, which the provider's evidence accumulates.
    private static (int Failed, double? MinPsnr, double MaxDifference, double MaxShare, double BiasZ) JudgeTiles(
        Image strip, Image other, IReadOnlyList<PixelTile> tiles, bool offsetTiles)
    {
        var inStrip = new List<Rectangle>(tiles.Count);
        var inOther = new List<Rectangle>(tiles.Count);
        int left = 0;
        foreach (PixelTile tile in tiles)
        {
            inStrip.Add(new Rectangle(left, 0, tile.Width, tile.Height));
            inOther.Add(offsetTiles ? new Rectangle(tile.X, tile.Y, tile.Width, tile.Height) : inStrip[^1]);
            left += tile.Width;
        }

        SpotCheckOutcome outcome = s_decision.Judge(strip, inStrip, other, inOther);
        DifferenceStatistics s = outcome.Statistics;
        int failed = outcome.Pass ? 0 : Math.Max(1, outcome.TilesFailed);
        return (failed, double.IsFinite(s.MinPsnr) ? s.MinPsnr : null, s.MaxAbsoluteDifference, s.MaxRegionShareBeyond, outcome.EvidenceZ);
    }

    // Adds a finished first check's bias statistic to its renderer's evidence (not arbitrations, canaries or stale checks,
    // whose frame was already counted or is not the renderer's delivery).
    private async Task RecordBiasEvidenceAsync(SpotCheckRecord check, double? biasZ, bool stale, CancellationToken cancellationToken)
    {
        if (biasZ is not { } z || stale || check.Canary || check.Arbitrates is not null)
        {
            return;
        }

        (long Frames, double Upper, double Lower) stored = await _store.UpdateProviderEvidenceAsync(
            check.RenderedBy,
            e =>
            {
                ProviderEvidence next = ProviderEvidence.Update(new ProviderEvidence(e.Frames, e.Upper, e.Lower), z);
                return (next.Frames, next.Upper, next.Lower);
            },
            cancellationToken);
        if (new ProviderEvidence(stored.Frames, stored.Upper, stored.Lower).IsBiased)
        {
            _logger.LogWarning(
                "Provider {Provider}: bias evidence {Upper:0.0} / {Lower:0.0} after {Frames} checked frames; sampled whole at the suspect rate",
                check.RenderedBy,
                stored.Upper,
                stored.Lower,
                stored.Frames);
        }
    }

    private async Task<bool> IsBiasedAsync(string provider, CancellationToken cancellationToken)
    {
        (long frames, double upper, double lower) = await _store.GetProviderEvidenceAsync(provider, cancellationToken);
        return new ProviderEvidence(frames, upper, lower).IsBiased;
    }
}
