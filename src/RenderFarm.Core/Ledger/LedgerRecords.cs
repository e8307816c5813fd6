using System.Numerics;

namespace RenderFarm.Core.Ledger;

/// <summary>The outcome of a ledger write.</summary>
/// <param name="TransactionId">The transaction hash on a chain; a synthetic id on the offline ledger.</param>
/// <param name="Changed">
/// Whether the write moved anything; <see langword="false"/> for a batch, refund or slash that had
/// already been done.
/// </param>
public sealed record LedgerReceipt(string TransactionId, bool Changed);

/// <summary>One provider's pay in a settlement batch.</summary>
/// <param name="Provider">The provider's address.</param>
/// <param name="Amount">Token base units, more than zero.</param>
public sealed record Payout(string Provider, BigInteger Amount);

/// <summary>A job's escrow. Amounts are token base units.</summary>
/// <param name="Client">The address that locked the budget and gets refunds.</param>
/// <param name="Locked">The budget the client locked.</param>
/// <param name="Slashed">Provider stake slashed into this escrow.</param>
/// <param name="Released">Paid to providers.</param>
/// <param name="Refunded">Paid back to the client.</param>
/// <param name="Open">Whether it can still pay providers (until it is refunded).</param>
public sealed record EscrowState(string Client, BigInteger Locked, BigInteger Slashed, BigInteger Released, BigInteger Refunded, bool Open)
{
    /// <summary>What is left to pay: locked and slashed, less released and refunded.</summary>
    public BigInteger Remaining => Locked + Slashed - Released - Refunded;
}

/// <summary>Stake a provider asked to withdraw: no longer active stake, not yet paid, still slashable.</summary>
/// <param name="Amount">Token base units, more than zero.</param>
/// <param name="AvailableAt">
/// When <see cref="ILedgerAccount.WithdrawStakeAsync"/> can pay it: the latest request's time plus the
/// ledger's unstake delay (on a chain, the request block's timestamp, in whole seconds).
/// </param>
public sealed record PendingWithdrawal(BigInteger Amount, DateTimeOffset AvailableAt);

/// <summary>Defaults shared by every ledger.</summary>
public static class LedgerDefaults
{
    /// <summary>
    /// How long requested stake stays slashable before it can be withdrawn: 7 days, time enough for a
    /// job's verification and settlement to catch a cheat.
    /// </summary>
    public static TimeSpan UnstakeDelay { get; } = TimeSpan.FromDays(7);
}

/// <summary>Converts between whole tokens and the token's base units.</summary>
public static class TokenUnits
{
    /// <summary>The token's decimals: one token is 10^18 base units.</summary>
    public const int Decimals = 18;

    /// <summary>Base units in one token.</summary>
    public static BigInteger PerToken { get; } = BigInteger.Pow(10, Decimals);

    /// <summary>Base units in <paramref name="tokens"/> whole tokens.</summary>
    public static BigInteger FromTokens(long tokens) => tokens * PerToken;

    /// <summary>An amount of base units in tokens for people, e.g. "12.5 tokens" or "0.000000000000000001 tokens".</summary>
    public static string Format(BigInteger units)
    {
        BigInteger whole = BigInteger.DivRem(BigInteger.Abs(units), PerToken, out BigInteger fraction);
        string sign = units.Sign < 0 ? "-" : "";
        string digits = fraction.IsZero ? "" : "." + fraction.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(Decimals, '0').TrimEnd('0');
        return $"{sign}{whole.ToString(System.Globalization.CultureInfo.InvariantCulture)}{digits} tokens";
    }
}
