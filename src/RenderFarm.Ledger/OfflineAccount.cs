using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>A participant of an <see cref="OfflineLedger"/>: the ledger's own operations, done as <see cref="Address"/>.</summary>
internal sealed class OfflineAccount(OfflineLedger ledger, string address) : ILedgerAccount
{
    public string Address { get; } = address;

    public Task<LedgerReceipt> LockAsync(Guid jobId, BigInteger amount, CancellationToken cancellationToken = default) =>
        ledger.LockAsync(Address, jobId, amount, cancellationToken);

    public Task<LedgerReceipt> ReclaimAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        ledger.ReclaimAsync(Address, jobId, cancellationToken);

    public Task<LedgerReceipt> StakeAsync(BigInteger amount, CancellationToken cancellationToken = default) =>
        ledger.StakeAsync(Address, amount, cancellationToken);

    public Task<LedgerReceipt> UnstakeAsync(BigInteger amount, CancellationToken cancellationToken = default) =>
        ledger.UnstakeAsync(Address, amount, cancellationToken);

    public Task<LedgerReceipt> WithdrawStakeAsync(CancellationToken cancellationToken = default) =>
        ledger.WithdrawStakeAsync(Address, cancellationToken);
}
