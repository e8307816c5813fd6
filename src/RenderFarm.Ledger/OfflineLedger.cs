using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>
/// The embedded default ledger: the escrow contract's rules (balances, one escrow per job, batches
/// paid once, stakes, withdrawals after a delay, slashing into the escrow) kept in one JSON file,
/// rewritten atomically after every write. Nothing is signed: the process that owns the file acts for
/// every participant through <see cref="Account"/>. Thread-safe; one process per file. Transaction ids
/// are synthetic (<c>offline:N</c>, N counting every write).
/// </summary>
public sealed class OfflineLedger : ILedger, IDisposable
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new BigIntegerConverter() },
    };

    private readonly string _path;
    private readonly TimeSpan _unstakeDelay;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LedgerFile _file;

    /// <summary>Opens the ledger file at <paramref name="path"/>, or starts an empty ledger there if it does not exist.</summary>
    /// <param name="path">The ledger file.</param>
    /// <param name="unstakeDelay">
    /// How long after a provider's latest unstake request its withdrawal becomes payable, like the escrow
    /// contract's <c>unstakeDelay</c>; <see cref="LedgerDefaults.UnstakeDelay"/> (7 days) when null.
    /// </param>
    /// <param name="timeProvider">The clock that times withdrawals; the system clock when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">The delay is negative.</exception>
    /// <exception cref="LedgerException">The file exists but is not a ledger file.</exception>
    public OfflineLedger(string path, TimeSpan? unstakeDelay = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _unstakeDelay = unstakeDelay ?? LedgerDefaults.UnstakeDelay;
        ArgumentOutOfRangeException.ThrowIfLessThan(_unstakeDelay, TimeSpan.Zero, nameof(unstakeDelay));
        _timeProvider = timeProvider ?? TimeProvider.System;
        _path = Path.GetFullPath(path);
        _file = Load(_path);
    }

    /// <summary>How long after a provider's latest unstake request its withdrawal becomes payable.</summary>
    public TimeSpan UnstakeDelay => _unstakeDelay;

    /// <summary>The participant <paramref name="address"/>, to lock budgets and stake with its tokens.</summary>
    public ILedgerAccount Account(string address) => new OfflineAccount(this, LedgerIds.Address(address, nameof(address)));

    /// <summary>Creates <paramref name="amount"/> token base units for <paramref name="address"/> (the embedded farm's faucet).</summary>
    public Task<LedgerReceipt> MintAsync(string address, BigInteger amount, CancellationToken cancellationToken = default)
    {
        string to = LedgerIds.Address(address, nameof(address));
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        return WriteAsync(
            file =>
            {
                file.Balances[to] = file.Balances.GetValueOrDefault(to) + amount;
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<LedgerReceipt> ReleaseAsync(Guid jobId, string batchId, IReadOnlyList<Payout> payouts, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(batchId);
        ArgumentNullException.ThrowIfNull(payouts);
        Payout[] normalized = [.. payouts.Select(payout => Normalize(payout, nameof(payouts)))];
        string action = $"Releasing batch '{batchId}' of job {jobId}";
        return WriteAsync(
            file =>
            {
                EscrowEntry? escrow = file.Escrows.GetValueOrDefault(jobId);
                if (escrow is not null && escrow.Batches.Contains(batchId))
                {
                    return false;
                }

                if (normalized.Length == 0)
                {
                    throw Refused(action, "EmptyBatch", "");
                }

                escrow = OpenEscrow(file, jobId, action);
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
    public Task<LedgerReceipt> RefundAsync(Guid jobId, CancellationToken cancellationToken = default) => WriteAsync(
        file =>
        {
            EscrowEntry escrow = Escrow(file, jobId, $"Refunding job {jobId}");
            if (!escrow.Open)
            {
                return false;
            }

            BigInteger amount = escrow.Remaining;
            escrow.Open = false;
            escrow.Refunded += amount;
            file.Balances[escrow.Client] = file.Balances.GetValueOrDefault(escrow.Client) + amount;
            return true;
        },
        cancellationToken);

    /// <inheritdoc />
    public Task<LedgerReceipt> SlashAsync(Guid jobId, string provider, BigInteger amount, CancellationToken cancellationToken = default)
    {
        string cheat = LedgerIds.Address(provider, nameof(provider));
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Slashing {cheat} for job {jobId}";
        return WriteAsync(
            file =>
            {
                EscrowEntry escrow = Escrow(file, jobId, action);
                if (escrow.SlashedProviders.Contains(cheat))
                {
                    return false;
                }

                if (amount.IsZero)
                {
                    throw Refused(action, "ZeroAmount", "");
                }

                // From the active stake first, then from the pending withdrawal: requesting one escapes nothing.
                BigInteger staked = file.Stakes.GetValueOrDefault(cheat);
                WithdrawalEntry? pending = file.Withdrawals.GetValueOrDefault(cheat);
                BigInteger slashable = staked + (pending?.Amount ?? BigInteger.Zero);
                if (amount > slashable)
                {
                    throw Refused(action, "ExceedsStake", $"provider={cheat}, staked={slashable}, requested={amount}");
                }

                escrow.SlashedProviders.Add(cheat);
                BigInteger fromStake = BigInteger.Min(amount, staked);
                file.Stakes[cheat] = staked - fromStake;
                if (pending is not null && amount > fromStake)
                {
                    pending.Amount -= amount - fromStake;
                    if (pending.Amount.IsZero)
                    {
                        file.Withdrawals.Remove(cheat);
                    }
                }

                escrow.Slashed += amount;
                if (!escrow.Open)
                {
                    escrow.Refunded += amount;
                    file.Balances[escrow.Client] = file.Balances.GetValueOrDefault(escrow.Client) + amount;
                }

                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<EscrowState?> GetEscrowAsync(Guid jobId, CancellationToken cancellationToken = default) => ReadAsync(
        file => file.Escrows.GetValueOrDefault(jobId) is EscrowEntry escrow
            ? new EscrowState(escrow.Client, escrow.Locked, escrow.Slashed, escrow.Released, escrow.Refunded, escrow.Open)
            : null,
        cancellationToken);

    /// <inheritdoc />
    public Task<BigInteger> GetBalanceAsync(string address, CancellationToken cancellationToken = default)
    {
        string account = LedgerIds.Address(address, nameof(address));
        return ReadAsync(file => file.Balances.GetValueOrDefault(account), cancellationToken);
    }

    /// <inheritdoc />
    public Task<BigInteger> GetStakeAsync(string address, CancellationToken cancellationToken = default)
    {
        string account = LedgerIds.Address(address, nameof(address));
        return ReadAsync(file => file.Stakes.GetValueOrDefault(account), cancellationToken);
    }

    /// <inheritdoc />
    public Task<PendingWithdrawal?> GetPendingWithdrawalAsync(string address, CancellationToken cancellationToken = default)
    {
        string account = LedgerIds.Address(address, nameof(address));
        return ReadAsync(
            file => file.Withdrawals.GetValueOrDefault(account) is WithdrawalEntry pending ? new PendingWithdrawal(pending.Amount, pending.AvailableAt) : null,
            cancellationToken);
    }

    /// <summary>Releases the lock that orders writes.</summary>
    public void Dispose() => _gate.Dispose();

    private Task<LedgerReceipt> LockAsync(string client, Guid jobId, BigInteger amount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Locking {amount} for job {jobId}";
        return WriteAsync(
            file =>
            {
                if (amount.IsZero)
                {
                    throw Refused(action, "ZeroAmount", "");
                }

                if (file.Escrows.ContainsKey(jobId))
                {
                    throw Refused(action, "EscrowExists", $"jobId={jobId}");
                }

                Debit(file, client, amount, action);
                file.Escrows[jobId] = new EscrowEntry { Client = client, Open = true, Locked = amount };
                return true;
            },
            cancellationToken);
    }

    private Task<LedgerReceipt> StakeAsync(string provider, BigInteger amount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Staking {amount}";
        return WriteAsync(
            file =>
            {
                if (amount.IsZero)
                {
                    throw Refused(action, "ZeroAmount", "");
                }

                Debit(file, provider, amount, action);
                file.Stakes[provider] = file.Stakes.GetValueOrDefault(provider) + amount;
                return true;
            },
            cancellationToken);
    }

    private Task<LedgerReceipt> UnstakeAsync(string provider, BigInteger amount, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        string action = $"Requesting the withdrawal of {amount} from the stake";
        return WriteAsync(
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
                WithdrawalEntry pending = file.Withdrawals.GetValueOrDefault(provider) ?? new WithdrawalEntry();
                pending.Amount += amount;
                pending.AvailableAt = _timeProvider.GetUtcNow() + _unstakeDelay;
                file.Withdrawals[provider] = pending;
                return true;
            },
            cancellationToken);
    }

    private Task<LedgerReceipt> WithdrawStakeAsync(string provider, CancellationToken cancellationToken)
    {
        string action = $"Withdrawing the pending stake of {provider}";
        return WriteAsync(
            file =>
            {
                WithdrawalEntry pending = file.Withdrawals.GetValueOrDefault(provider)
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

    private static void Debit(LedgerFile file, string account, BigInteger amount, string action)
    {
        BigInteger balance = file.Balances.GetValueOrDefault(account);
        if (balance < amount)
        {
            throw Refused(action, "InsufficientBalance", $"account={account}, balance={balance}, needed={amount}");
        }

        file.Balances[account] = balance - amount;
    }

    private static EscrowEntry Escrow(LedgerFile file, Guid jobId, string action) =>
        file.Escrows.GetValueOrDefault(jobId) ?? throw Refused(action, "NoEscrow", $"jobId={jobId}");

    private static EscrowEntry OpenEscrow(LedgerFile file, Guid jobId, string action)
    {
        EscrowEntry escrow = Escrow(file, jobId, action);
        return escrow.Open ? escrow : throw Refused(action, "EscrowClosed", $"jobId={jobId}");
    }

    private static LedgerException Refused(string action, string reason, string details) =>
        new($"{action} reverted: {reason}({details})", reason);

    private static Payout Normalize(Payout payout, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(payout, parameterName);
        ArgumentOutOfRangeException.ThrowIfNegative(payout.Amount, parameterName);
        return payout with { Provider = LedgerIds.Address(payout.Provider, parameterName) };
    }

    // Checks come before changes in every operation, so a refused write leaves the state as it was.
    private async Task<LedgerReceipt> WriteAsync(Func<LedgerFile, bool> apply, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool changed = apply(_file);
            _file.Sequence++;
            try
            {
                await SaveAsync(_file).ConfigureAwait(false);
            }
            catch
            {
                _file = Load(_path);
                throw;
            }

            return new LedgerReceipt(string.Create(CultureInfo.InvariantCulture, $"offline:{_file.Sequence}"), changed);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<T> ReadAsync<T>(Func<LedgerFile, T> read, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return read(_file);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task SaveAsync(LedgerFile file)
    {
        // Write a sibling file and rename it over the ledger: readers and crashes see the old or the new file, never half of one.
        string temporary = $"{_path}.{Environment.ProcessId}.tmp";
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        FileStream stream = new(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, file, s_json, CancellationToken.None).ConfigureAwait(false);
            await stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, _path, overwrite: true);
    }

    private static LedgerFile Load(string path)
    {
        if (!File.Exists(path))
        {
            return new LedgerFile();
        }

        try
        {
            using FileStream stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<LedgerFile>(stream, s_json) ?? throw new JsonException("The file holds null.");
        }
        catch (JsonException exception)
        {
            throw new LedgerException($"{path} is not an offline ledger file: {exception.Message}", reason: null, exception);
        }
    }

    private sealed class LedgerFile
    {
        public long Sequence { get; set; }

        public Dictionary<string, BigInteger> Balances { get; set; } = [];

        public Dictionary<string, BigInteger> Stakes { get; set; } = [];

        public Dictionary<Guid, EscrowEntry> Escrows { get; set; } = [];

        // Absent from files written before withdrawals had a delay: those load with none pending.
        public Dictionary<string, WithdrawalEntry> Withdrawals { get; set; } = [];
    }

    private sealed class WithdrawalEntry
    {
        public BigInteger Amount { get; set; }

        public DateTimeOffset AvailableAt { get; set; }
    }

    private sealed class EscrowEntry
    {
        public string Client { get; set; } = "";

        public bool Open { get; set; }

        public BigInteger Locked { get; set; }

        public BigInteger Slashed { get; set; }

        public BigInteger Released { get; set; }

        public BigInteger Refunded { get; set; }

        public HashSet<string> Batches { get; set; } = [];

        public HashSet<string> SlashedProviders { get; set; } = [];

        [JsonIgnore]
        public BigInteger Remaining => Locked + Slashed - Released - Refunded;
    }

    private sealed class BigIntegerConverter : JsonConverter<BigInteger>
    {
        public override BigInteger Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            BigInteger.Parse(reader.GetString() ?? throw new JsonException("A token amount is null."), NumberStyles.None, CultureInfo.InvariantCulture);

        public override void Write(Utf8JsonWriter writer, BigInteger value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
    }

    private sealed class OfflineAccount(OfflineLedger ledger, string address) : ILedgerAccount
    {
        public string Address { get; } = address;

        public Task<LedgerReceipt> LockAsync(Guid jobId, BigInteger amount, CancellationToken cancellationToken = default) =>
            ledger.LockAsync(Address, jobId, amount, cancellationToken);

        public Task<LedgerReceipt> StakeAsync(BigInteger amount, CancellationToken cancellationToken = default) =>
            ledger.StakeAsync(Address, amount, cancellationToken);

        public Task<LedgerReceipt> UnstakeAsync(BigInteger amount, CancellationToken cancellationToken = default) =>
            ledger.UnstakeAsync(Address, amount, cancellationToken);

        public Task<LedgerReceipt> WithdrawStakeAsync(CancellationToken cancellationToken = default) =>
            ledger.WithdrawStakeAsync(Address, cancellationToken);
    }
}
