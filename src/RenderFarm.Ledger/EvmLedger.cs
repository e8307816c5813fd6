using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using Nethereum.Contracts;
using Nethereum.Contracts.ContractHandlers;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>
/// The ledger on an EVM chain: the RenderEscrow and RenderToken contracts (contracts/*.sol) through
/// Nethereum. Each instance signs with one key: the coordinator connects with the verifier's key and
/// uses <see cref="ILedger"/>; a client or provider connects with its own and uses
/// <see cref="ILedgerAccount"/>.
/// </summary>
/// <remarks>
/// <para>
/// Writes from one key are sent one at a time in the whole process (every instance with the same key and
/// chain shares one lock), each waits for its receipt and <see cref="EvmLedgerOptions.Confirmations"/> for at
/// most <see cref="EvmLedgerOptions.ReceiptTimeout"/>, and a failed or timed-out send resets the account's
/// nonce, so the next write asks the node again instead of leaving a gap nothing can fill. Processes that
/// share a key (two coordinators with one verifier key) take turns through <see cref="EvmLedgerOptions.WriterLock"/>
/// (the coordinator uses a PostgreSQL advisory lock); without one, a collision fails one write, which resets its
/// nonce and is retried, and no write pays twice because every escrow write is idempotent.
/// </para>
/// <para>
/// A job's <see cref="Guid"/> is the contract's <c>bytes32 jobId</c> as 16 zero bytes followed by its
/// RFC 4122 bytes; a batch id is the Keccak-256 of its UTF-8 text.
/// </para>
/// </remarks>
public sealed class EvmLedger : ILedger, ILedgerAccount, IDisposable
{
    // One writer per key and chain in the process: nonces are taken and used in order.
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> s_writers = new(StringComparer.Ordinal);

    private readonly Web3 _web3;
    private readonly Account _account;
    private readonly EvmLedgerOptions _options;
    private readonly string _escrow;
    private readonly string _token;
    private readonly SemaphoreSlim _writer;
    private bool _disposed;

    private EvmLedger(Web3 web3, Account account, EvmLedgerOptions options, string escrow, string token)
    {
        _web3 = web3;
        _account = account;
        _options = options;
        _escrow = escrow;
        _token = token;
        ChainId = options.ChainId;
        Address = account.Address;
        _writer = s_writers.GetOrAdd(
            string.Create(CultureInfo.InvariantCulture, $"{options.ChainId}:{account.Address.ToLowerInvariant()}"),
            _ => new SemaphoreSlim(1, 1));
    }

    /// <summary>The chain id, checked against the endpoint on connecting.</summary>
    public long ChainId { get; }

    /// <summary>The signing account's address.</summary>
    public string Address { get; }

    /// <summary>The RenderToken contract's address.</summary>
    public string TokenAddress => _token;

    /// <summary>The RenderEscrow contract's address.</summary>
    public string EscrowAddress => _escrow;

    /// <summary>
    /// Connects to the endpoint, checks that it serves the expected chain and that a RenderEscrow
    /// contract is at the address, and reads its token's address.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The confirmations or receipt times in <paramref name="options"/> are out of range.</exception>
    /// <exception cref="LedgerException">The endpoint cannot be reached, reports another chain id, or has no escrow contract at the address.</exception>
    public static async Task<EvmLedger> ConnectAsync(EvmLedgerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string escrow = LedgerIds.Address(options.EscrowAddress, nameof(options.EscrowAddress));
        var account = new Account(options.PrivateKey, new BigInteger(options.ChainId));
        var web3 = new Web3(account, options.RpcUrl.ToString());
        BigInteger chainId;
        string token;
        try
        {
            chainId = (await web3.Eth.ChainId.SendRequestAsync().WaitAsync(cancellationToken).ConfigureAwait(false)).Value;
            if (chainId != options.ChainId)
            {
                throw new LedgerException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"The EVM endpoint {options.RpcUrl} serves chain id {chainId}, not the configured {options.ChainId}; refusing to sign transactions for another chain."));
            }

            string code = await web3.Eth.GetCode.SendRequestAsync(escrow).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (code is null || code.Length <= 2)
            {
                throw new LedgerException($"There is no contract at the escrow address {escrow} on chain {chainId} ({options.RpcUrl}); deploy one first.");
            }

            token = await web3.Eth.GetContractQueryHandler<TokenFunction>()
                .QueryAsync<string>(escrow, new TokenFunction())
                .WaitAsync(cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, "Connecting to the escrow", options.RpcUrl) is LedgerException translated)
        {
            throw translated;
        }

        return new EvmLedger(web3, account, options, escrow, LedgerIds.Address(token, nameof(token)));
    }

    /// <summary>
    /// Checks that this ledger's key is the escrow's verifier, as the coordinator's must be: a coordinator with
    /// another key would fail every settlement, so it refuses to start instead.
    /// </summary>
    /// <exception cref="LedgerException">The key is not the verifier (the message names both addresses and any pending change), or the endpoint cannot be reached.</exception>
    public async Task EnsureVerifierAsync(CancellationToken cancellationToken = default)
    {
        string verifier = await GetVerifierAsync(cancellationToken).ConfigureAwait(false);
        if (string.Equals(verifier, Address, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        (string Address, DateTimeOffset AcceptableAt)? pending = await GetPendingVerifierAsync(cancellationToken).ConfigureAwait(false);
        string change = pending is { } proposed && string.Equals(proposed.Address, Address, StringComparison.OrdinalIgnoreCase)
            ? $" This key is the proposed verifier: accept the change at or after {LedgerIds.Time(proposed.AcceptableAt)} (acceptVerifier), then start again."
            : "";
        throw new LedgerException(
            $"The configured verifier key signs as {Address}, but the escrow {_escrow} on chain {ChainId} has the verifier {verifier}; settlements would all be refused.{change}",
            reason: "NotVerifier");
    }

    /// <summary>The escrow's verifier: the only key that releases, refunds, records providers and slashes.</summary>
    /// <exception cref="LedgerException">The endpoint cannot be reached.</exception>
    public async Task<string> GetVerifierAsync(CancellationToken cancellationToken = default) => LedgerIds.Address(
        await QueryAsync(handler => handler.QueryAsync<VerifierFunction, string>(new VerifierFunction(), null), _escrow, "Reading the verifier", cancellationToken).ConfigureAwait(false),
        "verifier");

    /// <summary>The proposed next verifier and when it may accept, or <see langword="null"/> when no change is pending.</summary>
    /// <exception cref="LedgerException">The endpoint cannot be reached.</exception>
    public async Task<(string Address, DateTimeOffset AcceptableAt)?> GetPendingVerifierAsync(CancellationToken cancellationToken = default)
    {
        string pending = await QueryAsync(
            handler => handler.QueryAsync<PendingVerifierFunction, string>(new PendingVerifierFunction(), null), _escrow, "Reading the pending verifier", cancellationToken).ConfigureAwait(false);
        if (string.Equals(pending, Nethereum.Util.AddressUtil.ZERO_ADDRESS, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        BigInteger at = await QueryAsync(
            handler => handler.QueryAsync<PendingVerifierAtFunction, BigInteger>(new PendingVerifierAtFunction(), null), _escrow, "Reading the pending verifier", cancellationToken).ConfigureAwait(false);
        return (LedgerIds.Address(pending, nameof(pending)), DateTimeOffset.FromUnixTimeSeconds((long)at));
    }

    /// <summary>
    /// Proposes <paramref name="next"/> as the escrow's verifier; only the escrow's owner (its deployer) may. The
    /// proposed key accepts with <see cref="AcceptVerifierAsync"/> once the contract's delay (2 days) has passed.
    /// </summary>
    /// <exception cref="LedgerException">This key is not the owner (<c>NotOwner</c>) or the endpoint cannot be reached.</exception>
    public Task<LedgerReceipt> ProposeVerifierAsync(string next, CancellationToken cancellationToken = default) =>
        SendAsync(_escrow, new ProposeVerifierFunction { Next = LedgerIds.Address(next, nameof(next)) }, $"Proposing {next} as the verifier", cancellationToken);

    /// <summary>Withdraws a pending verifier proposal; only the owner may.</summary>
    /// <exception cref="LedgerException">This key is not the owner (<c>NotOwner</c>) or the endpoint cannot be reached.</exception>
    public Task<LedgerReceipt> CancelVerifierProposalAsync(CancellationToken cancellationToken = default) =>
        SendAsync(_escrow, new CancelVerifierProposalFunction(), "Cancelling the verifier proposal", cancellationToken);

    /// <summary>Makes this key, the proposed verifier, the escrow's verifier once the delay has passed.</summary>
    /// <exception cref="LedgerException">
    /// This key is not the proposed verifier (<c>NotPendingVerifier</c>) or the delay has not passed (<c>VerifierChangeNotDue</c>).
    /// </exception>
    public Task<LedgerReceipt> AcceptVerifierAsync(CancellationToken cancellationToken = default) =>
        SendAsync(_escrow, new AcceptVerifierFunction(), $"Accepting {Address} as the verifier", cancellationToken);

    /// <inheritdoc />
    public async Task<LedgerReceipt> ReleaseAsync(string client, Guid jobId, string batchId, IReadOnlyList<Payout> payouts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payouts);
        var release = new ReleaseFunction
        {
            Client = LedgerIds.Address(client, nameof(client)),
            JobId = LedgerIds.JobId(jobId),
            BatchId = LedgerIds.BatchId(batchId),
            Providers = [.. payouts.Select(payout => LedgerIds.Address(payout.Provider, nameof(payouts)))],
            Amounts = [.. payouts.Select(payout => payout.Amount >= 0 ? payout.Amount : throw new ArgumentOutOfRangeException(nameof(payouts), "A payout is negative."))],
        };
        return await SendAsync(_escrow, release, $"Releasing batch '{batchId}' of job {jobId}", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> RefundAsync(string client, Guid jobId, CancellationToken cancellationToken = default) => SendAsync(
        _escrow, new RefundFunction { Client = LedgerIds.Address(client, nameof(client)), JobId = LedgerIds.JobId(jobId) }, $"Refunding job {jobId}", cancellationToken);

    /// <inheritdoc />
    public Task<LedgerReceipt> AssignAsync(string client, Guid jobId, IReadOnlyList<string> providers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(providers);
        var assign = new AssignFunction
        {
            Client = LedgerIds.Address(client, nameof(client)),
            JobId = LedgerIds.JobId(jobId),
            Providers = [.. providers.Select(provider => LedgerIds.Address(provider, nameof(providers)))],
        };
        return SendAsync(_escrow, assign, $"Recording the providers of job {jobId}", cancellationToken);
    }

    /// <inheritdoc />
    public async Task<SlashReceipt> SlashAsync(string client, Guid jobId, string provider, BigInteger amount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string payer = LedgerIds.Address(client, nameof(client));
        string cheat = LedgerIds.Address(provider, nameof(provider));
        var slash = new SlashFunction { Client = payer, JobId = LedgerIds.JobId(jobId), Provider = cheat, Amount = amount };
        LedgerReceipt receipt = await SendAsync(_escrow, slash, $"Slashing {cheat} for job {jobId}", cancellationToken).ConfigureAwait(false);
        var slashedFrom = new SlashedFromFunction { Client = payer, JobId = LedgerIds.JobId(jobId), Provider = cheat };
        BigInteger slashed = await QueryAsync(
            handler => handler.QueryAsync<SlashedFromFunction, BigInteger>(slashedFrom, null), _escrow, $"Reading the slash of {cheat} for job {jobId}", cancellationToken).ConfigureAwait(false);
        return new SlashReceipt(receipt.TransactionId, receipt.Changed, slashed);
    }

    /// <inheritdoc />
    public async Task<EscrowState?> GetEscrowAsync(string client, Guid jobId, CancellationToken cancellationToken = default)
    {
        string payer = LedgerIds.Address(client, nameof(client));
        EscrowOutput escrow = await QueryAsync(
            handler => handler.QueryDeserializingToObjectAsync<EscrowsFunction, EscrowOutput>(new EscrowsFunction { Client = payer, JobId = LedgerIds.JobId(jobId) }, null),
            _escrow,
            $"Reading the escrow of job {jobId}",
            cancellationToken).ConfigureAwait(false);
        return escrow.Locked.IsZero
            ? null
            : new EscrowState(payer, escrow.Locked, escrow.Slashed, escrow.Released, escrow.Refunded, escrow.Open, DateTimeOffset.FromUnixTimeSeconds((long)escrow.Deadline));
    }

    /// <inheritdoc />
    public Task<BigInteger> GetBalanceAsync(string address, CancellationToken cancellationToken = default)
    {
        var balanceOf = new BalanceOfFunction { Account = LedgerIds.Address(address, nameof(address)) };
        return QueryAsync(handler => handler.QueryAsync<BalanceOfFunction, BigInteger>(balanceOf, null), _token, $"Reading the balance of {address}", cancellationToken);
    }

    /// <inheritdoc />
    public Task<BigInteger> GetStakeAsync(string address, CancellationToken cancellationToken = default)
    {
        var stakeOf = new StakeOfFunction { Provider = LedgerIds.Address(address, nameof(address)) };
        return QueryAsync(handler => handler.QueryAsync<StakeOfFunction, BigInteger>(stakeOf, null), _escrow, $"Reading the stake of {address}", cancellationToken);
    }

    /// <inheritdoc />
    public async Task<PendingWithdrawal?> GetPendingWithdrawalAsync(string address, CancellationToken cancellationToken = default)
    {
        var pendingWithdrawalOf = new PendingWithdrawalOfFunction { Provider = LedgerIds.Address(address, nameof(address)) };
        WithdrawalOutput pending = await QueryAsync(
            handler => handler.QueryDeserializingToObjectAsync<PendingWithdrawalOfFunction, WithdrawalOutput>(pendingWithdrawalOf, null),
            _escrow,
            $"Reading the pending withdrawal of {address}",
            cancellationToken).ConfigureAwait(false);
        return pending.Amount.IsZero ? null : new PendingWithdrawal(pending.Amount, DateTimeOffset.FromUnixTimeSeconds((long)pending.AvailableAt));
    }

    /// <summary>The escrow's unstake delay: how long after a provider's latest unstake request its withdrawal becomes payable.</summary>
    /// <exception cref="LedgerException">The endpoint cannot be reached.</exception>
    public async Task<TimeSpan> GetUnstakeDelayAsync(CancellationToken cancellationToken = default)
    {
        BigInteger seconds = await QueryAsync(
            handler => handler.QueryAsync<UnstakeDelayFunction, BigInteger>(new UnstakeDelayFunction(), null),
            _escrow,
            "Reading the unstake delay",
            cancellationToken).ConfigureAwait(false);
        return TimeSpan.FromSeconds((double)seconds);
    }

    /// <inheritdoc />
    /// <remarks>Approves the escrow to spend the amount first when its allowance is smaller.</remarks>
    public async Task<LedgerReceipt> LockAsync(Guid jobId, BigInteger amount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Locking {amount} for job {jobId}";
        await EnsureAllowanceAsync(amount, action, cancellationToken).ConfigureAwait(false);
        return await SendAsync(_escrow, new LockFunction { JobId = LedgerIds.JobId(jobId), Amount = amount }, action, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> ReclaimAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        SendAsync(_escrow, new ReclaimFunction { JobId = LedgerIds.JobId(jobId) }, $"Reclaiming the escrow of job {jobId}", cancellationToken);

    /// <inheritdoc />
    /// <remarks>Approves the escrow to spend the amount first when its allowance is smaller.</remarks>
    public async Task<LedgerReceipt> StakeAsync(BigInteger amount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Staking {amount}";
        await EnsureAllowanceAsync(amount, action, cancellationToken).ConfigureAwait(false);
        return await SendAsync(_escrow, new StakeFunction { Amount = amount }, action, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> UnstakeAsync(BigInteger amount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        return SendAsync(_escrow, new UnstakeFunction { Amount = amount }, $"Requesting the withdrawal of {amount} from the stake", cancellationToken);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> WithdrawStakeAsync(CancellationToken cancellationToken = default) =>
        SendAsync(_escrow, new WithdrawFunction(), $"Withdrawing the pending stake of {Address}", cancellationToken);

    /// <summary>Refuses further writes through this instance; the per-key writer lock is shared and stays.</summary>
    public void Dispose() => _disposed = true;

    /// <summary>
    /// Sends a transaction to <paramref name="contract"/> as the only writer of this key in the process, waits for
    /// its receipt and confirmations (at most <see cref="EvmLedgerOptions.ReceiptTimeout"/>) and returns the receipt.
    /// Any failure resets the account's nonce, so the next send asks the node for it again.
    /// </summary>
    internal async Task<TransactionReceipt> SendTransactionAsync<TFunction>(string contract, TFunction function, string action, CancellationToken cancellationToken)
        where TFunction : FunctionMessage, new()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        IAsyncDisposable? shared = null;
        try
        {
            if (_options.WriterLock is { } writerLock)
            {
                shared = await writerLock(cancellationToken).ConfigureAwait(false);
            }

            string hash;
            try
            {
                hash = await _web3.Eth.GetContractHandler(contract).SendRequestAsync(function).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (EvmErrors.Translate(exception, action, _options.RpcUrl) is LedgerException translated)
            {
                throw translated;
            }

            TransactionReceipt receipt = await WaitForReceiptAsync(hash, action, cancellationToken).ConfigureAwait(false);
            if (receipt.Status?.Value != BigInteger.One)
            {
                throw new LedgerException($"{action} failed: transaction {receipt.TransactionHash} reverted on chain.");
            }

            return receipt;
        }
        catch
        {
            // In-memory nonces run ahead of the chain when a send fails after taking one: the next send would
            // leave a gap that is never mined. Ask the node again instead.
            await _account.NonceService.ResetNonceAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (shared is not null)
            {
                await shared.DisposeAsync().ConfigureAwait(false);
            }

            _writer.Release();
        }
    }

    // Polls for the receipt until the transaction has its confirmations, for at most the receipt timeout.
    private async Task<TransactionReceipt> WaitForReceiptAsync(string hash, string action, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ReceiptTimeout);
        TransactionReceipt? receipt = null;
        try
        {
            while (true)
            {
                receipt = await _web3.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash).WaitAsync(timeout.Token).ConfigureAwait(false);
                if (receipt?.BlockNumber is not null)
                {
                    if (_options.Confirmations <= 1 || receipt.Status?.Value != BigInteger.One)
                    {
                        return receipt;
                    }

                    BigInteger head = (await _web3.Eth.Blocks.GetBlockNumber.SendRequestAsync().WaitAsync(timeout.Token).ConfigureAwait(false)).Value;
                    if (head - receipt.BlockNumber.Value + 1 >= _options.Confirmations)
                    {
                        return receipt;
                    }
                }

                await Task.Delay(_options.ReceiptPollInterval, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            string seen = receipt?.BlockNumber is null
                ? "no receipt"
                : string.Create(CultureInfo.InvariantCulture, $"a receipt in block {receipt.BlockNumber.Value} but not {_options.Confirmations} confirmations");
            throw new LedgerException(string.Create(
                CultureInfo.InvariantCulture,
                $"{action}: transaction {hash} got {seen} within {_options.ReceiptTimeout.TotalSeconds:0.###} s at {_options.RpcUrl}; it may still be mined, and retrying is safe."));
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, action, _options.RpcUrl) is LedgerException translated)
        {
            throw translated;
        }
    }

    private async Task<LedgerReceipt> SendAsync<TFunction>(string contract, TFunction function, string action, CancellationToken cancellationToken)
        where TFunction : FunctionMessage, new()
    {
        TransactionReceipt receipt = await SendTransactionAsync(contract, function, action, cancellationToken).ConfigureAwait(false);

        // Every escrow write that moves tokens logs an event; a repeated batch, refund or slash logs none.
        bool changed = receipt.Logs?.Any(log => string.Equals(log.Address, _escrow, StringComparison.OrdinalIgnoreCase)) ?? false;
        return new LedgerReceipt(receipt.TransactionHash, changed);
    }

    private async Task EnsureAllowanceAsync(BigInteger amount, string action, CancellationToken cancellationToken)
    {
        var allowance = new AllowanceFunction { Owner = Address, Spender = _escrow };
        BigInteger allowed = await QueryAsync(handler => handler.QueryAsync<AllowanceFunction, BigInteger>(allowance, null), _token, action, cancellationToken).ConfigureAwait(false);
        if (allowed < amount)
        {
            await SendTransactionAsync(_token, new ApproveFunction { Spender = _escrow, Amount = amount }, action, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<T> QueryAsync<T>(Func<ContractHandler, Task<T>> query, string contract, string action, CancellationToken cancellationToken)
    {
        try
        {
            return await query(_web3.Eth.GetContractHandler(contract)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, action, _options.RpcUrl) is LedgerException translated)
        {
            throw translated;
        }
    }
}
