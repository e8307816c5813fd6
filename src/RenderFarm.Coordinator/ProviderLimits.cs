namespace RenderFarm.Coordinator;

/// <summary>
/// How much weight a provider's failures carry and how fast providers may sign in and fail, bound from the
/// configuration section <see cref="SectionName"/>. Identities are free (a fresh Ethereum key costs nothing), so a
/// provider's failures fail a task after <see cref="CoordinatorOptions.MaxFailuresPerTask"/> distinct providers only
/// when those providers have standing; failures from fresh identities re-queue the task until
/// <see cref="MaxFailingProvidersPerTask"/> distinct providers failed it.
/// </summary>
public sealed class ProviderLimits
{
    /// <summary>The configuration section the limits are read from.</summary>
    public const string SectionName = "Coordinator:Providers";

    /// <summary>
    /// Verified frames on this farm (outputs that passed spot checks, all jobs) that give a provider standing. With spot
    /// checks off nothing is verified, so only stake gives standing.
    /// </summary>
    public long StandingVerifiedFrames { get; set; } = 10;

    /// <summary>Whole tokens staked on the ledger that give a provider standing; 0 means stake never does. Only with a ledger.</summary>
    public long StandingStakeTokens { get; set; } = 1;

    /// <summary>
    /// A task fails for good once this many distinct parties, with standing or not, failed it. Providers without standing
    /// that report failures from one remote address count as one party, so one machine's fresh keys cannot reach it by
    /// failing; letting leases lapse counts each provider, at one lease duration per lapse. Until then every failure
    /// re-queues the task. A farm that asks for stake
    /// (<see cref="CoordinatorOptions.MinimumStakeTokens"/>) makes every identity cost tokens instead.
    /// </summary>
    public int MaxFailingProvidersPerTask { get; set; } = 100;

    /// <summary>Failure reports one provider may make per minute, all jobs; more are answered 429.</summary>
    public int MaxFailuresPerProviderPerMinute { get; set; } = 10;

    /// <summary>
    /// Failure reports per remote IP address per minute, all providers behind it; more are answered 429. Fresh keys are
    /// free, so this, not the per-provider limit, bounds how fast one machine can fail tasks. 0 turns it off.
    /// </summary>
    public int MaxFailuresPerAddressPerMinute { get; set; } = 30;

    /// <summary>Logins per provider address per minute; more are answered 429.</summary>
    public int MaxLoginsPerProviderPerMinute { get; set; } = 10;

    /// <summary>Logins per remote IP address per minute, all providers; more are answered 429. 0 turns the limit off (behind a proxy that hides addresses).</summary>
    public int MaxLoginsPerAddressPerMinute { get; set; } = 20;

    /// <summary>Throws when a limit is out of range, naming it.</summary>
    internal void Validate()
    {
        if (StandingVerifiedFrames < 1 || StandingStakeTokens < 0)
        {
            throw new InvalidOperationException($"{SectionName}: {nameof(StandingVerifiedFrames)} must be at least 1 and {nameof(StandingStakeTokens)} not negative.");
        }

        if (MaxFailingProvidersPerTask < 1 || MaxFailuresPerProviderPerMinute < 1 || MaxLoginsPerProviderPerMinute < 1 || MaxLoginsPerAddressPerMinute < 0 || MaxFailuresPerAddressPerMinute < 0)
        {
            throw new InvalidOperationException($"{SectionName}: failure and login limits must be at least 1 ({nameof(MaxLoginsPerAddressPerMinute)} and {nameof(MaxFailuresPerAddressPerMinute)} may be 0 to turn them off).");
        }
    }
}
