using System.Numerics;

namespace RenderFarm.Core.Ledger;

/// <summary>
/// The token ledger as the coordinator (the verifier) uses it: it pays providers from a job's escrow
/// for verified work, refunds the rest to the client and slashes cheats. Implemented by the escrow
/// contract on an EVM chain and by an offline ledger file for the embedded default.
/// </summary>
/// <remarks>
/// An escrow belongs to a client and a job: a method's <c>client</c> is the address that locked it, so
/// nobody can take a job id from its client by locking first. Amounts are in the token's base units: the
/// token has <see cref="TokenUnits.Decimals"/> decimals, so one token is 10^18 units (like wei per ether).
/// They are <see cref="BigInteger"/>s because a <see cref="long"/> holds only about 9.2 tokens at that
/// scale; <see cref="TokenUnits.FromTokens"/> converts whole-token amounts such as a job's budget.
/// Addresses are 0x-prefixed 20-byte hex Ethereum addresses, in any letter case. Every write is idempotent
/// where a retry can happen: releasing a batch, refunding, assigning and slashing return a receipt whose
/// <see cref="LedgerReceipt.Changed"/> is <see langword="false"/> when they had already been done, and
/// never move tokens twice.
/// </remarks>
public interface ILedger
{
    /// <summary>
    /// Pays each provider its amount from the escrow of <paramref name="client"/>'s job
    /// <paramref name="jobId"/>, once per <paramref name="batchId"/> (unique within the escrow): repeating a
    /// settled batch changes nothing, whatever its payouts, and does not throw.
    /// </summary>
    /// <exception cref="LedgerException">
    /// There is no open escrow (<c>NoEscrow</c>, <c>EscrowClosed</c>), the batch asks for more than remains in
    /// it (<c>ExceedsEscrow</c>), or a payout is empty (<c>ZeroAmount</c>, <c>EmptyBatch</c>); nothing moved.
    /// </exception>
    Task<LedgerReceipt> ReleaseAsync(string client, Guid jobId, string batchId, IReadOnlyList<Payout> payouts, CancellationToken cancellationToken = default);

    /// <summary>Pays what remains in the escrow back to its client and closes it; once only.</summary>
    /// <exception cref="LedgerException">There is no such escrow (<c>NoEscrow</c>).</exception>
    Task<LedgerReceipt> RefundAsync(string client, Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that <paramref name="providers"/> worked on the job: only a provider recorded on a job's
    /// escrow can be slashed for it. A provider can be added only while the escrow is open; recording one
    /// again changes nothing, also once the escrow is closed, so a retried settlement goes through.
    /// </summary>
    /// <exception cref="LedgerException">There is no such escrow (<c>NoEscrow</c>) or it is closed and a provider is new (<c>EscrowClosed</c>).</exception>
    Task<LedgerReceipt> AssignAsync(string client, Guid jobId, IReadOnlyList<string> providers, CancellationToken cancellationToken = default);

    /// <summary>
    /// Slashes <paramref name="provider"/> for cheating on the job, into the ledger's treasury (never to the
    /// client), at most once per provider and job. It takes the least of <paramref name="amount"/>, the
    /// ledger's per-job cap, the job's budget and what the provider has: its active stake first, then its
    /// pending withdrawal, so requesting a withdrawal does not escape a slash. A provider with nothing
    /// left is not slashed (<see cref="LedgerReceipt.Changed"/> is false and <see cref="SlashReceipt.Slashed"/> zero).
    /// </summary>
    /// <returns>The receipt and what was slashed from the provider for this job, now or by an earlier call.</returns>
    /// <exception cref="LedgerException">
    /// There is no such escrow (<c>NoEscrow</c>), the provider was not recorded on it (<c>NotAssigned</c>) or
    /// the amount is zero (<c>ZeroAmount</c>); nothing moved.
    /// </exception>
    Task<SlashReceipt> SlashAsync(string client, Guid jobId, string provider, BigInteger amount, CancellationToken cancellationToken = default);

    /// <summary>The escrow <paramref name="client"/> locked for job <paramref name="jobId"/>, or <see langword="null"/> when it locked none.</summary>
    Task<EscrowState?> GetEscrowAsync(string client, Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>The tokens <paramref name="address"/> holds (not counting its stake).</summary>
    Task<BigInteger> GetBalanceAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>The tokens <paramref name="address"/> has staked as a provider, not counting a pending withdrawal.</summary>
    Task<BigInteger> GetStakeAsync(string address, CancellationToken cancellationToken = default);

    /// <summary>
    /// The stake <paramref name="address"/> asked to withdraw and has not been paid yet (see
    /// <see cref="ILedgerAccount.UnstakeAsync"/>), or <see langword="null"/> when nothing is pending.
    /// </summary>
    Task<PendingWithdrawal?> GetPendingWithdrawalAsync(string address, CancellationToken cancellationToken = default);
}
