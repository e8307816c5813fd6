using System.Globalization;
using System.Numerics;
using System.Text.Json.Serialization;

namespace RenderFarm.Ledger;

/// <summary>What the offline ledger file holds, as it is serialized (camel-case JSON, token amounts as decimal strings).</summary>
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
