using System.Globalization;
using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// The token side of <c>renderfarm demo</c> on the embedded farm's offline ledger: a client with demo tokens locks the
/// job's budget in escrow and the workers stake.
/// </summary>
internal static class DemoEconomy
{
    private const long TokensPerFrame = 2;
    private const long ProviderStake = 20;

    /// <summary>Mints demo tokens, stakes for every worker and returns how the client pays for a job of <paramref name="frames"/> frames.</summary>
    public static async Task<JobPayment> FundAsync(EmbeddedFarm farm, int frames, CancellationToken cancellationToken)
    {
        long budget = TokensPerFrame * frames;
        // The farm's own client account pays, so the job's owner is the one who locks its escrow.
        string client = farm.ClientAddress;
        await farm.Ledger.MintAsync(client, TokenUnits.FromTokens(budget), cancellationToken).ConfigureAwait(false);
        foreach (string provider in farm.ProviderAddresses)
        {
            await farm.Ledger.MintAsync(provider, TokenUnits.FromTokens(ProviderStake), cancellationToken).ConfigureAwait(false);
            await farm.Ledger.Account(provider).StakeAsync(TokenUnits.FromTokens(ProviderStake), cancellationToken).ConfigureAwait(false);
        }

        Print($"ledger: offline file; client {client} holds {budget} tokens; {farm.ProviderAddresses.Count} providers stake {ProviderStake} tokens each");
        return new JobPayment(budget, client, (jobId, amount, ct) => farm.Ledger.Account(client).LockAsync(jobId, amount, ct));
    }

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));
}
