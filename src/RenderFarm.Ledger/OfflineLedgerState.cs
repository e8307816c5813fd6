using System.Globalization;
using System.Numerics;
using System.Text.Json.Serialization;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>
/// What the offline ledger file holds, as it is serialized (camel-case JSON, token amounts as decimal strings), and the
/// small state changes and refusals the ledger's writes share.
/// </summary>
internal sealed class OfflineLedgerState
{
    /// <summary>How many writes the file has seen; the N of the transaction id <c>offline:N</c>.</summary>
    public long Sequence { get; set; }

    public Dictionary<string, BigInteger> Balances { get; set; } = [];

    public Dictionary<string, BigInteger> Stakes { get; set; } = [];

    /// <summary>Keyed by <see cref="EscrowKey"/>.</summary>
    public Dictionary<string, OfflineEscrowEntry> Escrows { get; set; } = [];

    // Absent from files written before withdrawals had a delay: those load with none pending.
    public Dictionary<string, OfflineWithdrawalEntry> Withdrawals { get; set; } = [];

    /// <summary>
    /// The key of <paramref name="client"/>'s escrow for <paramref name="jobId"/> ("client/jobId"). An escrow is the
    /// client's for the job: another client's lock on the same job id is another escrow.
    /// </summary>
    public static string EscrowKey(string client, Guid jobId) =>
        string.Create(CultureInfo.InvariantCulture, $"{LedgerIds.Address(client, nameof(client))}/{jobId:D}");

    // The helpers below serve the ledger's writes; each refuses (throws) before it changes anything.

    /// <summary>Takes <paramref name="amount"/> from <paramref name="account"/>'s balance, or refuses for want of it.</summary>
    public void Debit(string account, BigInteger amount, string action)
    {
        BigInteger balance = Balances.GetValueOrDefault(account);
        if (balance < amount)
        {
            throw Refused(action, "InsufficientBalance", $"account={account}, balance={balance}, needed={amount}");
        }

        Balances[account] = balance - amount;
    }

    /// <summary>Pays what is left back to the client and closes the escrow.</summary>
    public void Close(OfflineEscrowEntry escrow)
    {
        BigInteger amount = escrow.Remaining;
        escrow.Open = false;
        escrow.Refunded += amount;
        Balances[escrow.Client] = Balances.GetValueOrDefault(escrow.Client) + amount;
    }

    /// <summary>The escrow under <paramref name="key"/>, or the contract's <c>NoEscrow</c> refusal.</summary>
    public OfflineEscrowEntry Escrow(string key, Guid jobId, string action) =>
        Escrows.GetValueOrDefault(key) ?? throw Refused(action, "NoEscrow", $"client={key[..key.IndexOf('/', StringComparison.Ordinal)]}, jobId={jobId}");

    /// <summary>The open escrow under <paramref name="key"/>, or the contract's refusal.</summary>
    public OfflineEscrowEntry OpenEscrow(string key, Guid jobId, string action)
    {
        OfflineEscrowEntry escrow = Escrow(key, jobId, action);
        return escrow.Open ? escrow : throw Refused(action, "EscrowClosed", $"client={escrow.Client}, jobId={jobId}");
    }

    /// <summary>The escrow contract's revert as the offline ledger throws it: <c>{action} reverted: {reason}({details})</c>.</summary>
    public static LedgerException Refused(string action, string reason, string details) =>
        new($"{action} reverted: {reason}({details})", reason);
}

/// <summary>A provider's stake on its way out: payable from <see cref="AvailableAt"/>.</summary>
internal sealed class OfflineWithdrawalEntry
{
    public BigInteger Amount { get; set; }

    public DateTimeOffset AvailableAt { get; set; }
}

/// <summary>One client's escrow for one job, with the batches paid from it and the providers recorded on it.</summary>
internal sealed class OfflineEscrowEntry
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
