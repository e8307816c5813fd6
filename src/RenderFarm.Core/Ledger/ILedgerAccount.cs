using System.Numerics;

namespace RenderFarm.Core.Ledger;

/// <summary>
/// What a participant does with its own tokens on the ledger: a client locks a job's budget, a
/// provider stakes. On a chain these are signed with the participant's key.
/// </summary>
public interface ILedgerAccount
{
    /// <summary>The participant's address.</summary>
    string Address { get; }

    /// <summary>
    /// Locks <paramref name="amount"/> of this account's tokens as its escrow for job <paramref name="jobId"/>;
    /// one escrow per client and job. The account may take back what the verifier has not paid or refunded once
    /// the escrow's deadline (<see cref="EscrowState.ReclaimableAt"/>) has passed.
    /// </summary>
    /// <exception cref="LedgerException">
    /// The amount is zero (<c>ZeroAmount</c>), this account already locked an escrow for the job
    /// (<c>EscrowExists</c>) or it holds too little (<c>InsufficientBalance</c>); nothing was locked.
    /// </exception>
    Task<LedgerReceipt> LockAsync(Guid jobId, BigInteger amount, CancellationToken cancellationToken = default);

    /// <summary>Takes back what is left of this account's escrow for job <paramref name="jobId"/> and closes it, once its deadline has passed.</summary>
    /// <exception cref="LedgerException">
    /// There is no open escrow of this account for the job (<c>NoEscrow</c>, <c>EscrowClosed</c>) or its deadline
    /// has not passed (<c>ReclaimNotDue</c>; the message names it); nothing moved.
    /// </exception>
    Task<LedgerReceipt> ReclaimAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Adds <paramref name="amount"/> of this account's tokens to its provider stake.</summary>
    /// <exception cref="LedgerException">The amount is zero (<c>ZeroAmount</c>) or the account holds too little (<c>InsufficientBalance</c>).</exception>
    Task<LedgerReceipt> StakeAsync(BigInteger amount, CancellationToken cancellationToken = default);

    /// <summary>
    /// Requests the withdrawal of <paramref name="amount"/> of this account's stake: it leaves the stake at once
    /// and joins the account's pending withdrawal (<see cref="ILedger.GetPendingWithdrawalAsync"/>), which
    /// <see cref="WithdrawStakeAsync"/> pays once the ledger's unstake delay has passed. A new request adds to
    /// the pending amount and restarts the wait for all of it. Until it is paid, the pending amount can still
    /// be slashed.
    /// </summary>
    /// <exception cref="LedgerException">The amount is zero (<c>ZeroAmount</c>) or more than the stake (<c>ExceedsStake</c>).</exception>
    Task<LedgerReceipt> UnstakeAsync(BigInteger amount, CancellationToken cancellationToken = default);

    /// <summary>Pays this account's whole pending withdrawal into its balance, once it is due.</summary>
    /// <exception cref="LedgerException">
    /// Nothing is pending (<c>NoPendingWithdrawal</c>), or the withdrawal is not due yet
    /// (<c>WithdrawalNotDue</c>; the message names the time it becomes payable); nothing moved.
    /// </exception>
    Task<LedgerReceipt> WithdrawStakeAsync(CancellationToken cancellationToken = default);
}
