using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
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
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new BigIntegerConverter() },
    };

    private readonly string _path;
    private readonly EscrowTerms _terms;
    private readonly string _treasury;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LedgerFile _file;

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
        _path = Path.GetFullPath(path);
        _file = Load(_path);
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
        return WriteAsync(
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
        return WriteAsync(
            file =>
            {
                EscrowEntry? escrow = file.Escrows.GetValueOrDefault(key);
                if (escrow is not null && escrow.Batches.Contains(batchId))
                {
                    return false;
                }

                if (normalized.Length == 0)
                {
                    throw Refused(action, "EmptyBatch", "");
                }

                escrow = OpenEscrow(file, key, jobId, action);
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
        return WriteAsync(
            file =>
            {
                EscrowEntry escrow = Escrow(file, key, jobId, $"Refunding job {jobId}");
                if (!escrow.Open)
                {
                    return false;
                }

                Close(file, escrow);
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
        return WriteAsync(
            file =>
            {
                EscrowEntry escrow = Escrow(file, key, jobId, action);
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
        LedgerReceipt receipt = await WriteAsync(
            file =>
            {
                EscrowEntry escrow = Escrow(file, key, jobId, action);
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
                WithdrawalEntry? pending = file.Withdrawals.GetValueOrDefault(cheat);
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
        return ReadAsync(
            file => file.Escrows.GetValueOrDefault(key) is EscrowEntry escrow
                ? new EscrowState(escrow.Client, escrow.Locked, escrow.Slashed, escrow.Released, escrow.Refunded, escrow.Open, escrow.ReclaimableAt)
                : null,
            cancellationToken);
    }

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

                string key = Key(client, jobId);
                if (file.Escrows.ContainsKey(key))
                {
                    throw Refused(action, "EscrowExists", $"client={client}, jobId={jobId}");
                }

                Debit(file, client, amount, action);
                file.Escrows[key] = new EscrowEntry
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

    private Task<LedgerReceipt> ReclaimAsync(string client, Guid jobId, CancellationToken cancellationToken)
    {
        string action = $"Reclaiming the escrow of job {jobId}";
        string key = Key(client, jobId);
        return WriteAsync(
            file =>
            {
                EscrowEntry escrow = OpenEscrow(file, key, jobId, action);
                if (_timeProvider.GetUtcNow() < escrow.ReclaimableAt)
                {
                    throw Refused(action, "ReclaimNotDue", $"jobId={jobId}, deadlineAt={LedgerIds.Time(escrow.ReclaimableAt)}");
                }

                Close(file, escrow);
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
                pending.AvailableAt = _timeProvider.GetUtcNow() + _terms.UnstakeDelay;
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

    // Pays what is left back to the client and closes the escrow.
    private static void Close(LedgerFile file, EscrowEntry escrow)
    {
        BigInteger amount = escrow.Remaining;
        escrow.Open = false;
        escrow.Refunded += amount;
        file.Balances[escrow.Client] = file.Balances.GetValueOrDefault(escrow.Client) + amount;
    }

    // An escrow is the client's for the job: another client's lock on the same job id is another escrow.
    private static string Key(string client, Guid jobId) =>
        string.Create(CultureInfo.InvariantCulture, $"{LedgerIds.Address(client, nameof(client))}/{jobId:D}");

    private static EscrowEntry Escrow(LedgerFile file, string key, Guid jobId, string action) =>
        file.Escrows.GetValueOrDefault(key) ?? throw Refused(action, "NoEscrow", $"client={key[..key.IndexOf('/', StringComparison.Ordinal)]}, jobId={jobId}");

    private static EscrowEntry OpenEscrow(LedgerFile file, string key, Guid jobId, string action)
    {
        EscrowEntry escrow = Escrow(file, key, jobId, action);
        return escrow.Open ? escrow : throw Refused(action, "EscrowClosed", $"client={escrow.Client}, jobId={jobId}");
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
            LedgerFile file = JsonSerializer.Deserialize<LedgerFile>(stream, s_json) ?? throw new JsonException("The file holds null.");

            // Files written when escrows were keyed by job alone: key each by its client, as the contract does.
            foreach ((string key, EscrowEntry escrow) in file.Escrows.Where(e => !e.Key.Contains('/', StringComparison.Ordinal)).ToList())
            {
                file.Escrows.Remove(key);
                file.Escrows[Key(escrow.Client, Guid.Parse(key))] = escrow;
            }

            return file;
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

        // Keyed by "client/jobId" (Key).
        public Dictionary<string, EscrowEntry> Escrows { get; set; } = [];

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

        public DateTimeOffset ReclaimableAt { get; set; }

        public HashSet<string> Batches { get; set; } = [];

        public HashSet<string> Assigned { get; set; } = [];

        public Dictionary<string, BigInteger> SlashedFrom { get; set; } = [];

        [JsonIgnore]
        public BigInteger Remaining => Locked - Released - Refunded;
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

        public Task<LedgerReceipt> ReclaimAsync(Guid jobId, CancellationToken cancellationToken = default) =>
            ledger.ReclaimAsync(Address, jobId, cancellationToken);

        public Task<LedgerReceipt> StakeAsync(BigInteger amount, CancellationToken cancellationToken = default) =>
            ledger.StakeAsync(Address, amount, cancellationToken);

        public Task<LedgerReceipt> UnstakeAsync(BigInteger amount, CancellationToken cancellationToken = default) =>
            ledger.UnstakeAsync(Address, amount, cancellationToken);

        public Task<LedgerReceipt> WithdrawStakeAsync(CancellationToken cancellationToken = default) =>
            ledger.WithdrawStakeAsync(Address, cancellationToken);
    }
}
