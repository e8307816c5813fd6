using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>
/// The fixed terms of an escrow: where slashed stake goes, how long stake and budgets wait and how much
/// one job can cost a cheat. Set when an escrow contract is deployed (immutable there) or an offline ledger opened.
/// </summary>
public sealed record EscrowTerms
{
    /// <summary>The offline ledger's treasury when none is named: the address whose bytes spell "treasury" in ASCII.</summary>
    public const string OfflineTreasury = "0x7472656173757279000000000000000000000000";

    /// <summary>Where slashed stake goes (never to a job's client).</summary>
    public required string Treasury { get; init; }

    /// <summary>How long requested stake stays slashable before it can be withdrawn; at least <see cref="LedgerDefaults.MinimumDelay"/>.</summary>
    public TimeSpan UnstakeDelay { get; init; } = LedgerDefaults.UnstakeDelay;

    /// <summary>How long after locking a client may reclaim an escrow the verifier left open; at least <see cref="LedgerDefaults.MinimumDelay"/>.</summary>
    public TimeSpan ReclaimDelay { get; init; } = LedgerDefaults.ReclaimDelay;

    /// <summary>The most one provider can lose for one job, in token base units (never more than the job's budget either).</summary>
    public BigInteger MaxSlashPerJob { get; init; } = LedgerDefaults.MaxSlashPerJob;

    /// <summary>Checks the terms and returns the treasury in checksum form.</summary>
    /// <exception cref="ArgumentException">The treasury is not an address, a delay is shorter than the minimum or not whole seconds, or the cap is not positive.</exception>
    internal string Validate()
    {
        string treasury = LedgerIds.Address(Treasury, nameof(Treasury));
        CheckDelay(UnstakeDelay, nameof(UnstakeDelay));
        CheckDelay(ReclaimDelay, nameof(ReclaimDelay));
        if (MaxSlashPerJob <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSlashPerJob), MaxSlashPerJob, "The per-job slash cap must be more than zero.");
        }

        return treasury;
    }

    private static void CheckDelay(TimeSpan delay, string name)
    {
        if (delay < LedgerDefaults.MinimumDelay)
        {
            throw new ArgumentOutOfRangeException(name, delay, $"{name} must be at least {LedgerDefaults.MinimumDelay}: a shorter wait lets stake or budgets leave before a job is settled.");
        }

        if (delay.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentOutOfRangeException(name, delay, $"{name} must be whole seconds: the contract counts block time in seconds.");
        }
    }
}
