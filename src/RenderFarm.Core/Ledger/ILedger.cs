using System.Numerics;

namespace RenderFarm.Core.Ledger;

/// <summary>
/// The token ledger as the coordinator (the verifier) uses it: it pays providers from a job's escrow
/// for verified work, refunds the rest to the client and slashes cheats. Implemented by the escrow
/// contract on an EVM chain and by an offline ledger file for the embedded default.
/// </summary>
/// <remarks>
/// Amounts are in the token's base units: the token has <see cref="TokenUnits.Decimals"/> decimals,
/// so one token is 10^18 units (like wei per ether). They are <see cref="BigInteger"/>s because a
/// <see cref="long"/> holds only about 9.2 tokens at that scale; <see cref="TokenUnits.FromTokens"/>
/// converts whole-token amounts such as a job's budget. Addresses are 0x-prefixed 20-byte hex
/// Ethereum addresses, in any letter case. Every write is idempotent where a retry can happen:
/// releasing a batch, refunding and slashing return a receipt whose <see cref="LedgerReceipt.Changed"/>
/// is <see langword="false"/> when they had already been done, and never move tokens twice.
/// </remarks>
public interface ILedger
{
    /// <summary>
    /// Pays each provider its amount from job <paramref name="jobId"/>'s escrow, once per
    /// <paramref name="batchId"/> (unique within the job): repeating a settled batch changes nothing,
    /// whatever its payouts, and does not throw.
    /// </summary>
    /// <exception cref="LedgerException">
    /// The job has no open escrow (<c>NoEscrow</c>, <c>EscrowClosed</c>), the batch asks for more than
    /// remains in it (<c>ExceedsEscrow</c>), or a payout is empty (<c>ZeroAmount</c>, <c>EmptyBatch</c>);
    /// nothing moved.
    /// </exception>
    Task<LedgerReceipt> ReleaseAsync(Guid jobId, string batchId, IReadOnlyList<Payout> payouts, CancellationToken cancellationToken = default);

    /// <summary>Pays what remains in the job's escrow back to its client and closes it; once only.</summary>
    /// <exception cref="LedgerException">The job has no escrow (<c>NoEscrow</c>).</exception>
    Task<LedgerReceipt> RefundAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes <paramref name="amount"/> of <paramref name="provider"/>'s stake for cheating on the job,
    /// at most once per provider and job: from its active stake first, then from its pending withdrawal,
    /// so requesting a withdrawal does not escape a slash. The slashed tokens go into the job's escrow,
    /// where they can pay the providers who redo the cheat's work and are otherwise refunded to the client;
    /// when the escrow is already closed they go straight to the client. Nothing is burned.
    /// </summary>
    /// <exception cref="LedgerException">
    /// The job has no escrow (<c>NoEscrow</c>) or the stake and pending withdrawal together are smaller
    /// (<c>ExceedsStake</c>, whose <c>staked</c> is that total).
    /// </exception>
    Task<LedgerReceipt> SlashAsync(Guid jobId, string provider, BigInteger amount, CancellationToken cancellationToken = default);

    /// <summary>The job's escrow, or <see langword="null"/> when none was locked for it.</summary>
    Task<EscrowState?> GetEscrowAsync(Guid jobId, CancellationToken cancellationToken = default);

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
