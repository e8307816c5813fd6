using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>
/// The embedded default ledger: the escrow contract's rules (balances, one escrow per client and job,
/// batches paid once, reclaim after a deadline, stakes, withdrawals after a delay, capped slashing of
/// providers recorded on a job into the treasury) kept in one JSON file, rewritten atomically after every write. Nothing is signed: the process that owns the file acts for
/// every participant through <see cref="Account"/>. Thread-safe; one process per file. Transaction ids
/// are synthetic (<c>offline:N</c>, N counting every write).
/// </summary>
public sealed class OfflineLedger : ILedger, IDisposable
{
    private readonly EscrowTerms _terms;
    private readonly string _treasury;
    private readonly TimeProvider _timeProvider;
    private readonly OfflineLedgerFile _file;

    /// <summary>Opens the ledger file at <paramref name="path"/>, or starts an empty ledger there if it does not exist.</summary>
    /// <param name="path">The ledger file.</param>
    /// <param name="terms">
    /// The escrow's terms, like the escrow contract's; the defaults with <see cref="EscrowTerms.OfflineTreasury"/>
    /// as the treasury when null.
    /// </param>
    /// <param name="timeProvider">The clock that times withdrawals and reclaims; the system clock when null.</param>
    /// <exception cref="ArgumentException">The terms are invalid (see <see cref="EscrowTerms"/>).</exception>
    /// <exception cref="LedgerException">The file exists but is not a ledger file.</exception>
    public OfflineLedger(string path, EscrowTerms? terms = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _terms = terms ?? new EscrowTerms { Treasury = EscrowTerms.OfflineTreasury };
        _treasury = _terms.Validate();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _file = new OfflineLedgerFile(path);
    }

    /// <summary>How long after a provider's latest unstake request its withdrawal becomes payable.</summary>
    public TimeSpan UnstakeDelay => _terms.UnstakeDelay;

    /// <summary>Where slashed stake goes.</summary>
    public string Treasury => _treasury;

    /// <summary>The participant <paramref name="address"/>, to lock budgets and stake with its tokens.</summary>
    public ILedgerAccount Account(string address) => new OfflineAccount(this, LedgerIds.Address(address, nameof(address)));

    /// <summary>Creates <paramref name="amount"/> token base units for <paramref name="address"/> (the embedded farm's faucet).</summary>
    public Task<LedgerReceipt> MintAsync(string address, BigInteger amount, CancellationToken cancellationToken = default)
    {
        string to = LedgerIds.Address(address, nameof(address));
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        return _file.WriteAsync(
            file =>
            {
                file.Balances[to] = file.Balances.GetValueOrDefault(to) + amount;
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> ReleaseAsync(string client, Guid jobId, string batchId, IReadOnlyList<Payout> payouts, CancellationToken cancellationToken = default)
    {
        string key = Key(client, jobId);
        ArgumentException.ThrowIfNullOrEmpty(batchId);
        ArgumentNullException.ThrowIfNull(payouts);
        Payout[] normalized = [.. payouts.Select(payout => Normalize(payout, nameof(payouts)))];
        string action = $"Releasing batch '{batchId}' of job {jobId}";
        return _file.WriteAsync(
            file =>
            {
                OfflineEscrowEntry? escrow = file.Escrows.GetValueOrDefault(key);
                if (escrow is not null && escrow.Batches.Contains(batchId))
                {
                    return false;
                }

                if (normalized.Length == 0)
                {
                    throw Refused(action, "EmptyBatch", "");
                }

                escrow = file.OpenEscrow(key, jobId, action);
                BigInteger total = BigInteger.Zero;
                foreach (Payout payout in normalized)
                {
                    if (payout.Provider == Nethereum.Util.AddressUtil.ZERO_ADDRESS)
                    {
                        throw Refused(action, "ZeroAddress", "");
                    }

                    if (payout.Amount.IsZero)
                    {
                        throw Refused(action, "ZeroAmount", "");
                    }

                    total += payout.Amount;
                }

                BigInteger remaining = escrow.Remaining;
                if (total > remaining)
                {
                    throw Refused(action, "ExceedsEscrow", $"jobId={jobId}, remaining={remaining}, requested={total}");
                }

                escrow.Batches.Add(batchId);
                escrow.Released += total;
                foreach (Payout payout in normalized)
                {
                    file.Balances[payout.Provider] = file.Balances.GetValueOrDefault(payout.Provider) + payout.Amount;
                }

                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> RefundAsync(string client, Guid jobId, CancellationToken cancellationToken = default)
    {
        string key = Key(client, jobId);
        return _file.WriteAsync(
            file =>
            {
                OfflineEscrowEntry escrow = file.Escrow(key, jobId, $"Refunding job {jobId}");
                if (!escrow.Open)
                {
                    return false;
                }

                file.Close(escrow);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> AssignAsync(string client, Guid jobId, IReadOnlyList<string> providers, CancellationToken cancellationToken = default)
    {
        string key = Key(client, jobId);
        ArgumentNullException.ThrowIfNull(providers);
        string[] normalized = [.. providers.Select(provider => LedgerIds.Address(provider, nameof(providers)))];
        string action = $"Recording the providers of job {jobId}";
        return _file.WriteAsync(
            file =>
            {
                OfflineEscrowEntry escrow = file.Escrow(key, jobId, action);
                if (normalized.Contains(Nethereum.Util.AddressUtil.ZERO_ADDRESS))
                {
                    throw Refused(action, "ZeroAddress", "");
                }

                // Adding a provider needs an open escrow; one already recorded is fine either way, as in the contract.
                if (!escrow.Open && !normalized.All(escrow.Assigned.Contains))
                {
                    throw Refused(action, "EscrowClosed", $"client={escrow.Client}, jobId={jobId}");
                }

                bool changed = false;
                foreach (string provider in normalized)
                {
                    changed |= escrow.Assigned.Add(provider);
                }

                return changed;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async Task<SlashReceipt> SlashAsync(string client, Guid jobId, string provider, BigInteger amount, CancellationToken cancellationToken = default)
    {
        string key = Key(client, jobId);
        string cheat = LedgerIds.Address(provider, nameof(provider));
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Slashing {cheat} for job {jobId}";
        BigInteger slashed = BigInteger.Zero;
        LedgerReceipt receipt = await _file.WriteAsync(
            file =>
            {
                OfflineEscrowEntry escrow = file.Escrow(key, jobId, action);
                if (!escrow.Assigned.Contains(cheat))
                {
                    throw Refused(action, "NotAssigned", $"jobId={jobId}, provider={cheat}");
                }

                if (escrow.SlashedFrom.TryGetValue(cheat, out slashed))
                {
                    return false;
                }

                if (amount.IsZero)
                {
                    throw Refused(action, "ZeroAmount", "");
                }

                // The least of the amount, the per-job cap, the job's budget and what the provider has: from the
                // active stake first, then from the pending withdrawal, so requesting one escapes nothing.
                BigInteger staked = file.Stakes.GetValueOrDefault(cheat);
                OfflineWithdrawalEntry? pending = file.Withdrawals.GetValueOrDefault(cheat);
                BigInteger slashable = staked + (pending?.Amount ?? BigInteger.Zero);
                BigInteger taken = BigInteger.Min(BigInteger.Min(amount, _terms.MaxSlashPerJob), BigInteger.Min(escrow.Locked, slashable));
                if (taken.IsZero)
                {
                    return false;
                }

                slashed = taken;
                escrow.SlashedFrom[cheat] = taken;
                BigInteger fromStake = BigInteger.Min(taken, staked);
                file.Stakes[cheat] = staked - fromStake;
                if (pending is not null && taken > fromStake)
                {
                    pending.Amount -= taken - fromStake;
                    if (pending.Amount.IsZero)
                    {
                        file.Withdrawals.Remove(cheat);
                    }
                }

                escrow.Slashed += taken;
                file.Balances[_treasury] = file.Balances.GetValueOrDefault(_treasury) + taken;
                return true;
            },
            cancellationToken).ConfigureAwait(false);
        return new SlashReceipt(receipt.TransactionId, receipt.Changed, slashed);
    }

    /// <inheritdoc />
    public Task<EscrowState?> GetEscrowAsync(string client, Guid jobId, CancellationToken cancellationToken = default)
    {
        string key = Key(client, jobId);
        return _file.ReadAsync(
            file => file.Escrows.GetValueOrDefault(key) is OfflineEscrowEntry escrow
                ? new EscrowState(escrow.Client, escrow.Locked, escrow.Slashed, escrow.Released, escrow.Refunded, escrow.Open, escrow.ReclaimableAt)
                : null,
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<BigInteger> GetBalanceAsync(string address, CancellationToken cancellationToken = default)
    {
        string account = LedgerIds.Address(address, nameof(address));
        return _file.ReadAsync(file => file.Balances.GetValueOrDefault(account), cancellationToken);
    }

    /// <inheritdoc />
    public Task<BigInteger> GetStakeAsync(string address, CancellationToken cancellationToken = default)
    {
        string account = LedgerIds.Address(address, nameof(address));
        return _file.ReadAsync(file => file.Stakes.GetValueOrDefault(account), cancellationToken);
    }

    /// <inheritdoc />
    public Task<PendingWithdrawal?> GetPendingWithdrawalAsync(string address, CancellationToken cancellationToken = default)
    {
        string account = LedgerIds.Address(address, nameof(address));
        return _file.ReadAsync(
            file => file.Withdrawals.GetValueOrDefault(account) is OfflineWithdrawalEntry pending ? new PendingWithdrawal(pending.Amount, pending.AvailableAt) : null,
            cancellationToken);
    }

    /// <summary>Releases the lock that orders writes.</summary>
    public void Dispose() => _file.Dispose();

    // The account operations below are reached through OfflineAccount, which supplies the participant.
    internal Task<LedgerReceipt> LockAsync(string client, Guid jobId, BigInteger amount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Locking {amount} for job {jobId}";
        return _file.WriteAsync(
            file =>
            {
                if (amount.IsZero)
                {
                    throw Refused(action, "ZeroAmount", "");
                }

                string key = Key(client, jobId);
                if (file.Escrows.ContainsKey(key))
                {
                    throw Refused(action, "EscrowExists", $"client={client}, jobId={jobId}");
                }

                file.Debit(client, amount, action);
                file.Escrows[key] = new OfflineEscrowEntry
                {
                    Client = client,
                    Open = true,
                    Locked = amount,
                    ReclaimableAt = _timeProvider.GetUtcNow() + _terms.ReclaimDelay,
                };
                return true;
            },
            cancellationToken);
    }

    internal Task<LedgerReceipt> ReclaimAsync(string client, Guid jobId, CancellationToken cancellationToken)
    {
        string action = $"Reclaiming the escrow of job {jobId}";
        string key = Key(client, jobId);
        return _file.WriteAsync(
            file =>
            {
                OfflineEscrowEntry escrow = file.OpenEscrow(key, jobId, action);
                if (_timeProvider.GetUtcNow() < escrow.ReclaimableAt)
                {
                    throw Refused(action, "ReclaimNotDue", $"jobId={jobId}, deadlineAt={LedgerIds.Time(escrow.ReclaimableAt)}");
                }

                file.Close(escrow);
                return true;
            },
            cancellationToken);
    }

    internal Task<LedgerReceipt> StakeAsync(string provider, BigInteger amount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Staking {amount}";
        return _file.WriteAsync(
            file =>
            {
                if (amount.IsZero)
                {
                    throw Refused(action, "ZeroAmount", "");
                }

                file.Debit(provider, amount, action);
                file.Stakes[provider] = file.Stakes.GetValueOrDefault(provider) + amount;
                return true;
            },
            cancellationToken);
    }

    internal Task<LedgerReceipt> UnstakeAsync(string provider, BigInteger amount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Requesting the withdrawal of {amount} from the stake";
        return _file.WriteAsync(
            file =>
            {
                if (amount.IsZero)
                {
                    throw Refused(action, "ZeroAmount", "");
                }

                BigInteger staked = file.Stakes.GetValueOrDefault(provider);
                if (amount > staked)
                {
                    throw Refused(action, "ExceedsStake", $"provider={provider}, staked={staked}, requested={amount}");
                }

                // A new request adds to the pending amount and restarts the wait for all of it, as in the contract.
                file.Stakes[provider] = staked - amount;
                OfflineWithdrawalEntry pending = file.Withdrawals.GetValueOrDefault(provider) ?? new OfflineWithdrawalEntry();
                pending.Amount += amount;
                pending.AvailableAt = _timeProvider.GetUtcNow() + _terms.UnstakeDelay;
                file.Withdrawals[provider] = pending;
                return true;
            },
            cancellationToken);
    }

    internal Task<LedgerReceipt> WithdrawStakeAsync(string provider, CancellationToken cancellationToken)
    {
        string action = $"Withdrawing the pending stake of {provider}";
        return _file.WriteAsync(
            file =>
            {
                OfflineWithdrawalEntry pending = file.Withdrawals.GetValueOrDefault(provider)
                    ?? throw Refused(action, "NoPendingWithdrawal", $"provider={provider}");
                if (_timeProvider.GetUtcNow() < pending.AvailableAt)
                {
                    throw Refused(action, "WithdrawalNotDue", $"provider={provider}, availableAt={LedgerIds.Time(pending.AvailableAt)}");
                }

                file.Withdrawals.Remove(provider);
                file.Balances[provider] = file.Balances.GetValueOrDefault(provider) + pending.Amount;
                return true;
            },
            cancellationToken);
    }

    private static string Key(string client, Guid jobId) => OfflineLedgerState.EscrowKey(client, jobId);

    private static LedgerException Refused(string action, string reason, string details) => OfflineLedgerState.Refused(action, reason, details);

    private static Payout Normalize(Payout payout, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(payout, parameterName);
        ArgumentOutOfRangeException.ThrowIfNegative(payout.Amount, parameterName);
        return payout with { Provider = LedgerIds.Address(payout.Provider, parameterName) };
    }
}
