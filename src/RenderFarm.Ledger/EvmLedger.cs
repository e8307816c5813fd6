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
/// <see cref="ILedgerAccount"/>. Writes wait for their receipts and are sent one at a time, so the
/// account's nonces stay in order.
/// </summary>
/// <remarks>
/// A job's <see cref="Guid"/> is the contract's <c>bytes32 jobId</c> as 16 zero bytes followed by its
/// RFC 4122 bytes; a batch id is the Keccak-256 of its UTF-8 text.
/// </remarks>
public sealed class EvmLedger : ILedger, ILedgerAccount, IDisposable
{
    private readonly Web3 _web3;
    private readonly Uri _rpcUrl;
    private readonly string _escrow;
    private readonly string _token;
    private readonly SemaphoreSlim _sending = new(1, 1);

    private EvmLedger(Web3 web3, Uri rpcUrl, long chainId, string escrow, string token, string address)
    {
        _web3 = web3;
        _rpcUrl = rpcUrl;
        _escrow = escrow;
        _token = token;
        ChainId = chainId;
        Address = address;
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
    /// <exception cref="LedgerException">The endpoint cannot be reached, reports another chain id, or has no escrow contract at the address.</exception>
    public static async Task<EvmLedger> ConnectAsync(EvmLedgerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
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

        return new EvmLedger(web3, options.RpcUrl, options.ChainId, escrow, LedgerIds.Address(token, nameof(token)), account.Address);
    }

    /// <inheritdoc />
    public async Task<LedgerReceipt> ReleaseAsync(Guid jobId, string batchId, IReadOnlyList<Payout> payouts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payouts);
        var release = new ReleaseFunction
        {
            JobId = LedgerIds.JobId(jobId),
            BatchId = LedgerIds.BatchId(batchId),
            Providers = [.. payouts.Select(payout => LedgerIds.Address(payout.Provider, nameof(payouts)))],
            Amounts = [.. payouts.Select(payout => payout.Amount >= 0 ? payout.Amount : throw new ArgumentOutOfRangeException(nameof(payouts), "A payout is negative."))],
        };
        return await SendAsync(_escrow, release, $"Releasing batch '{batchId}' of job {jobId}", cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> RefundAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        SendAsync(_escrow, new RefundFunction { JobId = LedgerIds.JobId(jobId) }, $"Refunding job {jobId}", cancellationToken);

    /// <inheritdoc />
    public Task<LedgerReceipt> SlashAsync(Guid jobId, string provider, BigInteger amount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        var slash = new SlashFunction { JobId = LedgerIds.JobId(jobId), Provider = LedgerIds.Address(provider, nameof(provider)), Amount = amount };
        return SendAsync(_escrow, slash, $"Slashing {provider} for job {jobId}", cancellationToken);
    }

    /// <inheritdoc />
    public async Task<EscrowState?> GetEscrowAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        EscrowOutput escrow = await QueryAsync(
            handler => handler.QueryDeserializingToObjectAsync<EscrowsFunction, EscrowOutput>(new EscrowsFunction { JobId = LedgerIds.JobId(jobId) }, null),
            _escrow,
            $"Reading the escrow of job {jobId}",
            cancellationToken).ConfigureAwait(false);
        return escrow.Client == Nethereum.Util.AddressUtil.ZERO_ADDRESS
            ? null
            : new EscrowState(LedgerIds.Address(escrow.Client, nameof(escrow)), escrow.Locked, escrow.Slashed, escrow.Released, escrow.Refunded, escrow.Open);
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

    /// <summary>Releases the send lock.</summary>
    public void Dispose() => _sending.Dispose();

    /// <summary>Sends a transaction to <paramref name="contract"/>, waits for its receipt and returns it.</summary>
    internal async Task<TransactionReceipt> SendTransactionAsync<TFunction>(string contract, TFunction function, string action, CancellationToken cancellationToken)
        where TFunction : FunctionMessage, new()
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ContractHandler handler = _web3.Eth.GetContractHandler(contract);
            TransactionReceipt receipt = await handler.SendRequestAndWaitForReceiptAsync(function, cancellationToken).ConfigureAwait(false);
            if (receipt.Status?.Value != BigInteger.One)
            {
                throw new LedgerException($"{action} failed: transaction {receipt.TransactionHash} reverted on chain.");
            }

            return receipt;
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, action, _rpcUrl) is LedgerException translated)
        {
            throw translated;
        }
        finally
        {
            _sending.Release();
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
        catch (Exception exception) when (EvmErrors.Translate(exception, action, _rpcUrl) is LedgerException translated)
        {
            throw translated;
        }
    }
}
