using System.Numerics;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Decides what a failure does to a task. Pure: the caller looks up the provider's standing and stores the result.
/// Fresh identities cost nothing, so their failures re-queue the task and end it only in great number; a few failures
/// from providers with standing (verified work or stake) end it, as a task no honest provider can run should.
/// </summary>
internal static class TaskFailurePolicy
{
    /// <summary>Whether a provider has standing on this farm.</summary>
    /// <param name="verifiedFrames">Its frames that passed verification, all jobs.</param>
    /// <param name="stake">Its stake in token base units, or null without a ledger.</param>
    /// <param name="limits">The farm's limits.</param>
    public static bool HasStanding(long verifiedFrames, BigInteger? stake, ProviderLimits limits) =>
        verifiedFrames >= limits.StandingVerifiedFrames
        || (limits.StandingStakeTokens > 0 && stake is { } staked && staked >= TokenUnits.FromTokens(limits.StandingStakeTokens));

    /// <summary>
    /// The task's failures once <paramref name="provider"/>'s failure at <paramref name="now"/> is recorded: one entry
    /// per provider (its count and latest reason), so the list never grows past the distinct providers.
    /// </summary>
    /// <param name="failures">The task's failures so far.</param>
    /// <param name="provider">The provider that failed it now.</param>
    /// <param name="reason">Why, for people.</param>
    /// <param name="now">When.</param>
    /// <param name="standing">Whether the provider has standing now.</param>
    /// <param name="origin">The remote address the failure was reported from; null for a lapsed lease.</param>
    public static IReadOnlyList<TaskFailure> Record(
        IReadOnlyList<TaskFailure> failures, string provider, string reason, DateTimeOffset now, bool standing, string? origin = null)
    {
        var updated = new List<TaskFailure>(failures.Count + 1);
        bool found = false;
        foreach (TaskFailure failure in failures)
        {
            if (string.Equals(failure.Provider, provider, StringComparison.OrdinalIgnoreCase))
            {
                updated.Add(failure with { Reason = reason, At = now, Standing = failure.Standing || standing, Count = failure.Count + 1, Origin = origin ?? failure.Origin });
                found = true;
            }
            else
            {
                updated.Add(failure);
            }
        }

        if (!found)
        {
            updated.Add(new TaskFailure(provider, reason, now, standing, 1, origin));
        }

        return updated;
    }

    /// <summary>Whether the task has failed for good.</summary>
    /// <param name="failedBy">Every distinct provider that failed the task (also those a spot check made redo it).</param>
    /// <param name="failures">The recorded failures, with each provider's standing; a provider in <paramref name="failedBy"/> without one counts as fresh.</param>
    /// <param name="maxWithStanding">Distinct providers with standing whose failures end the task.</param>
    /// <param name="maxDistinct">
    /// Distinct parties of any standing whose failures end the task. Providers without standing that reported from one
    /// remote address are one party, since one machine can make any number of keys; every other provider is one party.
    /// </param>
    public static bool IsExhausted(IReadOnlyList<string> failedBy, IReadOnlyList<TaskFailure> failures, int maxWithStanding, int maxDistinct)
    {
        int withStanding = failures.Count(f => f.Standing && failedBy.Contains(f.Provider, StringComparer.OrdinalIgnoreCase));
        int parties = failedBy
            .Select(provider => failures.FirstOrDefault(f => string.Equals(f.Provider, provider, StringComparison.OrdinalIgnoreCase)) is { Standing: false, Origin: { } origin }
                ? "address " + origin
                : "provider " + provider.ToLowerInvariant())
            .Distinct(StringComparer.Ordinal)
            .Count();
        return withStanding >= maxWithStanding || parties >= maxDistinct;
    }
}
