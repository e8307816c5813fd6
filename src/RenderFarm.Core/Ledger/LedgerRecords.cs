using System.Numerics;

namespace RenderFarm.Core.Ledger;

/// <summary>The outcome of a ledger write.</summary>
/// <param name="TransactionId">The transaction hash on a chain; a synthetic id on the offline ledger.</param>
/// <param name="Changed">
/// Whether the write moved anything; <see langword="false"/> for a batch, refund or slash that had
/// already been done.
/// </param>
public sealed record LedgerReceipt(string TransactionId, bool Changed);

/// <summary>The outcome of a slash.</summary>
/// <param name="TransactionId">The transaction hash on a chain; a synthetic id on the offline ledger.</param>
/// <param name="Changed">Whether this call took stake; <see langword="false"/> when it had been done or nothing was left to take.</param>
/// <param name="Slashed">What was taken from the provider for the job, by this call or an earlier one; token base units.</param>
public sealed record SlashReceipt(string TransactionId, bool Changed, BigInteger Slashed);

/// <summary>One provider's pay in a settlement batch.</summary>
/// <param name="Provider">The provider's address.</param>
/// <param name="Amount">Token base units, more than zero.</param>
public sealed record Payout(string Provider, BigInteger Amount);

/// <summary>A client's escrow for a job. Amounts are token base units.</summary>
/// <param name="Client">The address that locked the budget and gets refunds.</param>
/// <param name="Locked">The budget the client locked.</param>
/// <param name="Slashed">Stake slashed from the job's providers; it went to the treasury, not into the escrow.</param>
/// <param name="Released">Paid to providers.</param>
/// <param name="Refunded">Paid back to the client (by the verifier's refund or the client's reclaim).</param>
/// <param name="Open">Whether it can still pay providers (until it is refunded or reclaimed).</param>
/// <param name="ReclaimableAt">When the client may take back what is left (on a chain, in whole seconds).</param>
public sealed record EscrowState(
    string Client, BigInteger Locked, BigInteger Slashed, BigInteger Released, BigInteger Refunded, bool Open, DateTimeOffset ReclaimableAt)
{
    /// <summary>What is left to pay: locked, less released and refunded.</summary>
    public BigInteger Remaining => Locked - Released - Refunded;
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

    /// <summary>
    /// How long after locking a client may reclaim what the verifier has not paid or refunded: 30 days, far
    /// longer than any job's verification and settlement.
    /// </summary>
    public static TimeSpan ReclaimDelay { get; } = TimeSpan.FromDays(30);

    /// <summary>The least unstake and reclaim delay a ledger accepts (the contract's <c>MIN_DELAY</c>): one hour.</summary>
    public static TimeSpan MinimumDelay { get; } = TimeSpan.FromHours(1);

    /// <summary>The most one provider can lose for one job: 100 tokens (and never more than the job's budget).</summary>
    public static BigInteger MaxSlashPerJob { get; } = TokenUnits.FromTokens(100);
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
