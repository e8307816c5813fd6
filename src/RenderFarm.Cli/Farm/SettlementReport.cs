using System.Globalization;
using System.Numerics;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Cli.Farm;

/// <summary>The end of a paid job for its client: what was checked, who earned what, who was slashed and the refund.</summary>
internal static class SettlementReport
{
    /// <summary>Prints what was checked, what each provider earned, who was slashed and the refund, with the ledger's transactions.</summary>
    public static async Task PrintAsync(ILedger ledger, string payer, JobDetails job, CancellationToken cancellationToken)
    {
        SpotCheckRecord[] checks = [.. job.Tasks.SelectMany(t => t.Checks ?? [])];
        double worst = checks.Length > 0 ? checks.Min(c => c.MinPsnr ?? double.PositiveInfinity) : double.PositiveInfinity;
        Print($"verification: {checks.Count(c => !c.WholeFrame)} tile spot check(s), {checks.Count(c => c.WholeFrame && !c.Canary)} whole-frame re-render(s) and {checks.Count(c => c.Canary && c.State != SpotCheckState.Cancelled)} canary(ies): {checks.Count(c => c.State == SpotCheckState.Passed)} passed, {checks.Count(c => c.State == SpotCheckState.Failed)} failed; {(double.IsPositiveInfinity(worst) ? "every re-rendered pixel identical" : $"worst tile PSNR {worst:F1} dB")}");
        foreach (ProviderVerification provider in job.Verification ?? [])
        {
            EscapeOdds? odds = provider.Escape.FirstOrDefault(o => o.CheatedShare == 0.25 && o.CheatedArea == 0.1);
            string canaries = provider.Canaries == 0 ? "" : $", answered {provider.Canaries} canary(ies) ({provider.CanariesFailed} wrong)";
            if (odds is null)
            {
                Print($"checked: {provider.Provider} delivered no frames{canaries}");
                continue;
            }

            Print($"checked: {provider.Provider} {provider.FramesDelivered} frame(s), {provider.SpotChecks} spot check(s), {provider.WholeFrameSamples} whole-frame{canaries}; had it cheated on 25 % of its frames over 10 % of each, it would have escaped with probability {odds.Probability:P1}");
        }

        JobSettlement settlement = job.Settlement!;
        if (settlement.Note is not null)
        {
            Print($"settlement: {settlement.Note}");
        }

        foreach (ProviderPayout payout in settlement.Payouts)
        {
            BigInteger balance = await ledger.GetBalanceAsync(payout.Provider, cancellationToken).ConfigureAwait(false);
            Print($"paid: {payout.Provider} {payout.Frames} verified frame(s), {TokenUnits.Format(BigInteger.Parse(payout.Amount, CultureInfo.InvariantCulture))} (tx {payout.TransactionId}); balance now {TokenUnits.Format(balance)}");
        }

        foreach (ProviderSlash slash in settlement.Slashes)
        {
            Print($"slashed: {slash.Provider} {TokenUnits.Format(BigInteger.Parse(slash.Amount, CultureInfo.InvariantCulture))} into the treasury (tx {slash.TransactionId ?? "none"})");
        }

        EscrowState? escrow = await ledger.GetEscrowAsync(payer, job.Job.Id, cancellationToken).ConfigureAwait(false);
        if (escrow is not null)
        {
            Print($"escrow: locked {TokenUnits.Format(escrow.Locked)}, released {TokenUnits.Format(escrow.Released)}, refunded {TokenUnits.Format(escrow.Refunded)} to the client (tx {settlement.RefundTransactionId})");
        }
    }

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));
}
