using System.CommandLine;
using RenderFarm.Cli.Farm;
using RenderFarm.Core;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm stake TOKENS</c>: a provider stakes tokens in the escrow contract of a coordinator's chain (or takes
/// them back with <c>--withdraw</c>); a farm may ask for a minimum stake before it lets a provider sign in, and a
/// provider proven to cheat loses part of it.
/// </summary>
internal static class StakeCommand
{
    public static Command Create()
    {
        var tokens = new Argument<long>("tokens") { Description = "Whole tokens to stake (or withdraw)." };
        var coordinator = new Option<string>("--coordinator") { Description = "The coordinator whose escrow contract to stake in.", Required = true };
        var key = new Option<string>("--key") { Description = "The provider's key file (the one 'renderfarm worker' uses).", DefaultValueFactory = _ => "provider.key" };
        var rpc = new Option<string>("--rpc") { Description = "A JSON-RPC endpoint of the coordinator's chain.", Required = true };
        var withdraw = new Option<bool>("--withdraw") { Description = "Take the tokens back from the stake instead." };
        var command = new Command("stake", "Stake tokens as a provider in the escrow of a coordinator's chain, or withdraw them.")
        {
            tokens, coordinator, key, rpc, withdraw,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                long amount = result.GetValue(tokens);
                if (amount <= 0)
                {
                    throw new UserInputException($"Stake a positive number of tokens; got {amount}.");
                }

                using var http = new HttpClient { BaseAddress = WorkerCommand.ParseUrl(result.GetValue(coordinator)!), Timeout = TimeSpan.FromMinutes(2) };
                using EvmLedger account = await ChainAccount.ConnectAsync(http, "staking", result.GetValue(key), result.GetValue(rpc), cancellationToken).ConfigureAwait(false);
                try
                {
                    LedgerReceipt receipt = result.GetValue(withdraw)
                        ? await account.UnstakeAsync(TokenUnits.FromTokens(amount), cancellationToken).ConfigureAwait(false)
                        : await account.StakeAsync(TokenUnits.FromTokens(amount), cancellationToken).ConfigureAwait(false);
                    Console.WriteLine($"{(result.GetValue(withdraw) ? "Withdrew" : "Staked")} {amount} tokens (tx {receipt.TransactionId}).");
                }
                catch (LedgerException exception)
                {
                    throw new UserInputException(exception.Message, exception);
                }

                Console.WriteLine($"{account.Address} now stakes {TokenUnits.Format(await account.GetStakeAsync(account.Address, cancellationToken).ConfigureAwait(false))} and holds {TokenUnits.Format(await account.GetBalanceAsync(account.Address, cancellationToken).ConfigureAwait(false))}.");
                return 0;
            },
            cancellationToken));
        return command;
    }
}
