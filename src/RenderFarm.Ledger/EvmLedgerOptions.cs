namespace RenderFarm.Ledger;

/// <summary>Where the escrow contract lives, which key signs and how long a write waits for the chain.</summary>
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

    /// <summary>
    /// Blocks that must hold or follow a transaction's block before a write counts as done: 1 takes the receipt
    /// as it comes (a dev chain), more waits out short reorganisations on a public chain. 1 to 64.
    /// </summary>
    public int Confirmations { get; init; } = 1;

    /// <summary>
    /// How long a write waits for its receipt and confirmations before it fails with a <see cref="Core.Ledger.LedgerException"/>
    /// (the transaction may still be mined later; every escrow write is idempotent, so retrying is safe). 2 minutes by default.
    /// </summary>
    public TimeSpan ReceiptTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a write asks the node for its receipt; 250 ms by default.</summary>
    public TimeSpan ReceiptPollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// A lock shared by every process that signs with this key, taken around each send and released once its receipt
    /// is in (for example a PostgreSQL advisory lock), so coordinators sharing the verifier key take nonces in turn.
    /// Null: sends are ordered within this process only.
    /// </summary>
    public Func<CancellationToken, Task<IAsyncDisposable>>? WriterLock { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count or time is out of range.</exception>
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Confirmations, 1, nameof(Confirmations));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Confirmations, 64, nameof(Confirmations));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReceiptTimeout, TimeSpan.Zero, nameof(ReceiptTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReceiptPollInterval, TimeSpan.Zero, nameof(ReceiptPollInterval));
    }
}
