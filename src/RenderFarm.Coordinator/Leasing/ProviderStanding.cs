using System.Numerics;
using Microsoft.Extensions.Options;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>Looks up whether a provider has standing (verified work on this farm, or stake on its ledger).</summary>
internal sealed class ProviderStanding(IFarmStore store, IOptions<ProviderLimits> limits, ILedger? ledger = null)
{
    /// <summary>The farm's provider limits.</summary>
    public ProviderLimits Limits { get; } = limits.Value;

    /// <summary>Whether <paramref name="provider"/> has standing now; a ledger that cannot be read counts as no stake.</summary>
    public async Task<bool> HasStandingAsync(string provider, CancellationToken cancellationToken)
    {
        ProviderRecord? record = await store.GetProviderAsync(provider, cancellationToken);
        long verified = record?.VerifiedFrames ?? 0;
        if (TaskFailurePolicy.HasStanding(verified, null, Limits))
        {
            return true;
        }

        if (ledger is null || Limits.StandingStakeTokens <= 0)
        {
            return false;
        }

        BigInteger? stake;
        try
        {
            stake = await ledger.GetStakeAsync(provider, cancellationToken);
        }
        catch (LedgerException)
        {
            // Without an answer the failure weighs as a fresh provider's: it re-queues the task rather than failing it.
            stake = null;
        }

        return TaskFailurePolicy.HasStanding(verified, stake, Limits);
    }
}
