namespace RenderFarm.Core.Ledger;

/// <summary>A ledger write was refused or the ledger could not be reached; nothing moved.</summary>
public sealed class LedgerException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong, for people.</param>
    /// <param name="reason">
    /// The escrow contract's error name (e.g. <c>ExceedsEscrow</c>, <c>InsufficientBalance</c>) when the
    /// ledger refused the write; <see langword="null"/> when it could not be reached or failed otherwise.
    /// </param>
    /// <param name="innerException">The underlying error, if any.</param>
    public LedgerException(string message, string? reason = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>The contract's error name when the ledger refused the write; the same on every ledger.</summary>
    public string? Reason { get; }
}
