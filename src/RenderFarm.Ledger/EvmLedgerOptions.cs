namespace RenderFarm.Ledger;

/// <summary>Where the escrow contract lives and which key signs.</summary>
public sealed record EvmLedgerOptions
{
    /// <summary>The chain's JSON-RPC endpoint.</summary>
    public required Uri RpcUrl { get; init; }

    /// <summary>The chain id the endpoint must report (31337 for a Hardhat node); guards against signing for the wrong chain.</summary>
    public required long ChainId { get; init; }

    /// <summary>The signing account's private key (hex): the verifier's for the coordinator, a client's or a provider's otherwise.</summary>
    public required string PrivateKey { get; init; }

    /// <summary>The RenderEscrow contract's address; the token's is read from it.</summary>
    public required string EscrowAddress { get; init; }
}
