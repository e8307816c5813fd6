using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The provider-level side of render checks' statistics (tiles are judged together by <see cref="SpotCheckDecision"/> in
/// <see cref="SpotCheckJudge"/>): each first check of a delivered frame adds its bias statistic to the provider's
/// <see cref="ProviderEvidence"/> across jobs. A provider whose evidence crosses the threshold is sampled whole at the
/// suspect rate from its next delivery on; the evidence itself never slashes anyone, because a validator
/// could skew it: whole-frame samples, arbitrated 2 of 3, are what prove a cheat.
/// </summary>
internal sealed partial class SpotChecks
{
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
