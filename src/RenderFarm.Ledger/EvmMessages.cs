using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

// The Nethereum messages and events of contracts/RenderToken.sol and contracts/RenderEscrow.sol.
namespace RenderFarm.Ledger;

[Function("lock")]
internal sealed class LockFunction : FunctionMessage
{
    [Parameter("bytes32", "jobId", 1)]
    public byte[] JobId { get; set; } = [];

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Function("release", "bool")]
internal sealed class ReleaseFunction : FunctionMessage
{
    [Parameter("address", "client", 1)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2)]
    public byte[] JobId { get; set; } = [];

    [Parameter("bytes32", "batchId", 3)]
    public byte[] BatchId { get; set; } = [];

    [Parameter("address[]", "providers", 4)]
    public List<string> Providers { get; set; } = [];

    [Parameter("uint256[]", "amounts", 5)]
    public List<BigInteger> Amounts { get; set; } = [];
}

[Function("refund", "bool")]
internal sealed class RefundFunction : FunctionMessage
{
    [Parameter("address", "client", 1)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2)]
    public byte[] JobId { get; set; } = [];
}

[Function("reclaim")]
internal sealed class ReclaimFunction : FunctionMessage
{
    [Parameter("bytes32", "jobId", 1)]
    public byte[] JobId { get; set; } = [];
}

[Function("assign")]
internal sealed class AssignFunction : FunctionMessage
{
    [Parameter("address", "client", 1)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2)]
    public byte[] JobId { get; set; } = [];

    [Parameter("address[]", "providers", 3)]
    public List<string> Providers { get; set; } = [];
}

[Function("slash", "bool")]
internal sealed class SlashFunction : FunctionMessage
{
    [Parameter("address", "client", 1)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2)]
    public byte[] JobId { get; set; } = [];

    [Parameter("address", "provider", 3)]
    public string Provider { get; set; } = "";

    [Parameter("uint256", "amount", 4)]
    public BigInteger Amount { get; set; }
}

[Function("slashedFrom", "uint256")]
internal sealed class SlashedFromFunction : FunctionMessage
{
    [Parameter("address", "client", 1)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2)]
    public byte[] JobId { get; set; } = [];

    [Parameter("address", "provider", 3)]
    public string Provider { get; set; } = "";
}

[Function("proposeVerifier")]
internal sealed class ProposeVerifierFunction : FunctionMessage
{
    [Parameter("address", "next", 1)]
    public string Next { get; set; } = "";
}

[Function("cancelVerifierProposal")]
internal sealed class CancelVerifierProposalFunction : FunctionMessage
{
}

[Function("acceptVerifier")]
internal sealed class AcceptVerifierFunction : FunctionMessage
{
}

[Function("pendingVerifier", "address")]
internal sealed class PendingVerifierFunction : FunctionMessage
{
}

[Function("pendingVerifierAt", "uint256")]
internal sealed class PendingVerifierAtFunction : FunctionMessage
{
}

[Function("treasury", "address")]
internal sealed class TreasuryFunction : FunctionMessage
{
}

[Function("stake")]
internal sealed class StakeFunction : FunctionMessage
{
    [Parameter("uint256", "amount", 1)]
    public BigInteger Amount { get; set; }
}

[Function("unstake")]
internal sealed class UnstakeFunction : FunctionMessage
{
    [Parameter("uint256", "amount", 1)]
    public BigInteger Amount { get; set; }
}

[Function("withdraw")]
internal sealed class WithdrawFunction : FunctionMessage
{
}

[Function("escrows", typeof(EscrowOutput))]
internal sealed class EscrowsFunction : FunctionMessage
{
    [Parameter("address", "client", 1)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2)]
    public byte[] JobId { get; set; } = [];
}

[FunctionOutput]
internal sealed class EscrowOutput : IFunctionOutputDTO
{
    [Parameter("bool", "open", 1)]
    public bool Open { get; set; }

    [Parameter("uint64", "deadline", 2)]
    public ulong Deadline { get; set; }

    [Parameter("uint256", "locked", 3)]
    public BigInteger Locked { get; set; }

    [Parameter("uint256", "released", 4)]
    public BigInteger Released { get; set; }

    [Parameter("uint256", "refunded", 5)]
    public BigInteger Refunded { get; set; }

    [Parameter("uint256", "slashed", 6)]
    public BigInteger Slashed { get; set; }
}

[Function("stakeOf", "uint256")]
internal sealed class StakeOfFunction : FunctionMessage
{
    [Parameter("address", "provider", 1)]
    public string Provider { get; set; } = "";
}

[Function("pendingWithdrawalOf", typeof(WithdrawalOutput))]
internal sealed class PendingWithdrawalOfFunction : FunctionMessage
{
    [Parameter("address", "provider", 1)]
    public string Provider { get; set; } = "";
}

[FunctionOutput]
internal sealed class WithdrawalOutput : IFunctionOutputDTO
{
    [Parameter("uint256", "amount", 1)]
    public BigInteger Amount { get; set; }

    [Parameter("uint256", "availableAt", 2)]
    public BigInteger AvailableAt { get; set; }
}

[Function("unstakeDelay", "uint256")]
internal sealed class UnstakeDelayFunction : FunctionMessage
{
}

[Function("token", "address")]
internal sealed class TokenFunction : FunctionMessage
{
}

[Function("verifier", "address")]
internal sealed class VerifierFunction : FunctionMessage
{
}

[Function("balanceOf", "uint256")]
internal sealed class BalanceOfFunction : FunctionMessage
{
    [Parameter("address", "account", 1)]
    public string Account { get; set; } = "";
}

[Function("allowance", "uint256")]
internal sealed class AllowanceFunction : FunctionMessage
{
    [Parameter("address", "owner", 1)]
    public string Owner { get; set; } = "";

    [Parameter("address", "spender", 2)]
    public string Spender { get; set; } = "";
}

[Function("approve", "bool")]
internal sealed class ApproveFunction : FunctionMessage
{
    [Parameter("address", "spender", 1)]
    public string Spender { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Function("mint")]
internal sealed class MintFunction : FunctionMessage
{
    [Parameter("address", "to", 1)]
    public string To { get; set; } = "";

    [Parameter("uint256", "amount", 2)]
    public BigInteger Amount { get; set; }
}

[Event("Locked")]
internal sealed class LockedEvent : IEventDTO
{
    [Parameter("address", "client", 1, true)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2, true)]
    public byte[] JobId { get; set; } = [];

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }

    [Parameter("uint256", "deadline", 4, false)]
    public BigInteger Deadline { get; set; }
}

[Event("Released")]
internal sealed class ReleasedEvent : IEventDTO
{
    [Parameter("address", "client", 1, true)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2, true)]
    public byte[] JobId { get; set; } = [];

    [Parameter("address", "provider", 3, true)]
    public string Provider { get; set; } = "";

    [Parameter("bytes32", "batchId", 4, false)]
    public byte[] BatchId { get; set; } = [];

    [Parameter("uint256", "amount", 5, false)]
    public BigInteger Amount { get; set; }
}

[Event("Refunded")]
internal sealed class RefundedEvent : IEventDTO
{
    [Parameter("address", "client", 1, true)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2, true)]
    public byte[] JobId { get; set; } = [];

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

[Event("Reclaimed")]
internal sealed class ReclaimedEvent : IEventDTO
{
    [Parameter("address", "client", 1, true)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2, true)]
    public byte[] JobId { get; set; } = [];

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

[Event("Staked")]
internal sealed class StakedEvent : IEventDTO
{
    [Parameter("address", "provider", 1, true)]
    public string Provider { get; set; } = "";

    [Parameter("uint256", "amount", 2, false)]
    public BigInteger Amount { get; set; }
}

[Event("UnstakeRequested")]
internal sealed class UnstakeRequestedEvent : IEventDTO
{
    [Parameter("address", "provider", 1, true)]
    public string Provider { get; set; } = "";

    [Parameter("uint256", "amount", 2, false)]
    public BigInteger Amount { get; set; }

    [Parameter("uint256", "pending", 3, false)]
    public BigInteger Pending { get; set; }

    [Parameter("uint256", "availableAt", 4, false)]
    public BigInteger AvailableAt { get; set; }
}

[Event("StakeWithdrawn")]
internal sealed class StakeWithdrawnEvent : IEventDTO
{
    [Parameter("address", "provider", 1, true)]
    public string Provider { get; set; } = "";

    [Parameter("uint256", "amount", 2, false)]
    public BigInteger Amount { get; set; }
}

[Event("Slashed")]
internal sealed class SlashedEvent : IEventDTO
{
    [Parameter("address", "client", 1, true)]
    public string Client { get; set; } = "";

    [Parameter("bytes32", "jobId", 2, true)]
    public byte[] JobId { get; set; } = [];

    [Parameter("address", "provider", 3, true)]
    public string Provider { get; set; } = "";

    [Parameter("uint256", "amount", 4, false)]
    public BigInteger Amount { get; set; }
}

[Event("PendingWithdrawalSlashed")]
internal sealed class PendingWithdrawalSlashedEvent : IEventDTO
{
    [Parameter("bytes32", "jobId", 1, true)]
    public byte[] JobId { get; set; } = [];

    [Parameter("address", "provider", 2, true)]
    public string Provider { get; set; } = "";

    [Parameter("uint256", "amount", 3, false)]
    public BigInteger Amount { get; set; }
}

[Event("VerifierChanged")]
internal sealed class VerifierChangedEvent : IEventDTO
{
    [Parameter("address", "previous", 1, true)]
    public string Previous { get; set; } = "";

    [Parameter("address", "verifier", 2, true)]
    public string Verifier { get; set; } = "";
}
