using System.Globalization;
using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger.Tests;

/// <summary>The ledger's clock as a test drives it: a fake clock offline, the chain's block time on a node.</summary>
public interface ILedgerClock
{
    /// <summary>The time the ledger's latest write saw (on a chain: the latest block's timestamp).</summary>
    Task<DateTimeOffset> NowAsync();

    /// <summary>Moves the ledger's time forward by <paramref name="time"/>.</summary>
    Task AdvanceAsync(TimeSpan time);
}

/// <summary>A fresh ledger with a funded client and two funded providers; slashed stake goes to <see cref="Treasury"/>.</summary>
public sealed class LedgerSetup(
    ILedger ledger, ILedgerAccount client, ILedgerAccount provider1, ILedgerAccount provider2, string treasury, ILedgerClock clock, Func<ValueTask> dispose)
    : IAsyncDisposable
{
    public ILedger Ledger { get; } = ledger;

    public string Treasury { get; } = treasury;

    public ILedgerAccount Client { get; } = client;

    public ILedgerAccount Provider1 { get; } = provider1;

    public ILedgerAccount Provider2 { get; } = provider2;

    public ILedgerClock Clock { get; } = clock;

    public ValueTask DisposeAsync() => dispose();
}

/// <summary>
/// The terms every test ledger is opened or deployed with: the client holds <see cref="ClientFunds"/> and each provider
/// <see cref="ProviderFunds"/> token base units, withdrawals wait <see cref="UnstakeDelay"/>, escrows can be reclaimed
/// <see cref="ReclaimDelay"/> after locking and a provider loses at most <see cref="MaxSlashPerJob"/> per job.
/// </summary>
public static class LedgerTerms
{
    public static readonly BigInteger ClientFunds = 1_000;
    public static readonly BigInteger ProviderFunds = 100;
    public static readonly BigInteger MaxSlashPerJob = 60;
    public static readonly TimeSpan UnstakeDelay = TimeSpan.FromHours(1);
    public static readonly TimeSpan ReclaimDelay = TimeSpan.FromHours(2);

    /// <summary>The terms both ledgers are opened or deployed with.</summary>
    public static EscrowTerms Terms(string treasury) =>
        new() { Treasury = treasury, UnstakeDelay = UnstakeDelay, ReclaimDelay = ReclaimDelay, MaxSlashPerJob = MaxSlashPerJob };

    /// <summary>The escrow without its deadline, to compare with an expected one whose deadline is <see langword="default"/>.</summary>
    public static EscrowState? Undated(EscrowState? escrow) => escrow is null ? null : escrow with { ReclaimableAt = default };

    /// <summary>How ledger messages name a time: ISO 8601 in UTC, to the second.</summary>
    public static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
