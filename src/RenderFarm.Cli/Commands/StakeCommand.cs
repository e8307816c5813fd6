using System.CommandLine;
using System.Globalization;
using System.Numerics;
using RenderFarm.Cli.Farm;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm stake TOKENS</c>: a provider stakes tokens in the escrow contract of a coordinator's chain; a farm may
/// ask for a minimum stake before it lets a provider sign in, and a provider proven to cheat loses part of it. Taking
/// stake back takes two steps, so that it stays slashable while a cheat may still be settled: <c>--withdraw</c>
/// requests it and prints when it becomes payable (the escrow's unstake delay after the latest request), and
/// <c>--collect</c> pays it out then.
/// </summary>
internal static class StakeCommand
{
    public static Command Create()
    {
        var tokens = new Argument<long?>("tokens") { Description = "Whole tokens to stake (or, with --withdraw, to request back); none with --collect." };
        var coordinator = new Option<string>("--coordinator") { Description = "The coordinator whose escrow contract to stake in.", Required = true };
        var key = new Option<string>("--key") { Description = "The provider's key file (the one 'renderfarm worker' uses).", DefaultValueFactory = _ => "provider.key" };
        var rpc = new Option<string>("--rpc") { Description = "A JSON-RPC endpoint of the coordinator's chain.", Required = true };
        var withdraw = new Option<bool>("--withdraw")
        {
            Description = "Request the tokens back from the stake: they stop counting as stake at once, stay slashable, and can be collected once the escrow's unstake delay has passed.",
        };
        var collect = new Option<bool>("--collect") { Description = "Collect the requested withdrawal once it is payable (takes no TOKENS)." };
        var command = new Command(
            "stake",
            "Stake tokens as a provider in the escrow of a coordinator's chain, request them back (--withdraw) or collect a due withdrawal (--collect).")
        {
            tokens, coordinator, key, rpc, withdraw, collect,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                long? amount = result.GetValue(tokens);
                bool collecting = result.GetValue(collect);
                bool withdrawing = result.GetValue(withdraw);
                if (collecting && (withdrawing || amount is not null))
                {
                    throw new UserInputException("--collect pays the whole pending withdrawal: give it no TOKENS and no --withdraw.");
                }

                if (!collecting && amount is not > 0)
                {
                    throw new UserInputException(amount is null
                        ? $"Say how many tokens to {(withdrawing ? "withdraw" : "stake")}, e.g. 'renderfarm stake 20{(withdrawing ? " --withdraw" : "")}'."
                        : $"{(withdrawing ? "Withdraw" : "Stake")} a positive number of tokens; got {amount}.");
                }

                using var http = new CoordinatorClient(new HttpClient { BaseAddress = WorkerCommand.ParseUrl(result.GetValue(coordinator)!), Timeout = TimeSpan.FromMinutes(2) }, ownsHttp: true);
                using EvmLedger account = await ChainAccount.ConnectAsync(http, "staking", result.GetValue(key), result.GetValue(rpc), cancellationToken).ConfigureAwait(false);
                try
                {
                    if (collecting)
                    {
                        await CollectAsync(account, cancellationToken).ConfigureAwait(false);
                    }
                    else if (withdrawing)
                    {
                        LedgerReceipt receipt = await account.UnstakeAsync(TokenUnits.FromTokens(amount!.Value), cancellationToken).ConfigureAwait(false);
                        PendingWithdrawal pending = await account.GetPendingWithdrawalAsync(account.Address, cancellationToken).ConfigureAwait(false)
                            ?? throw new LedgerException($"The withdrawal requested in transaction {receipt.TransactionId} is not pending; was it slashed?");
                        Console.WriteLine(
                            $"Requested the withdrawal of {amount} tokens (tx {receipt.TransactionId}); collect it with 'renderfarm stake --collect' from {Time(pending.AvailableAt)}.");
                    }
                    else
                    {
                        LedgerReceipt receipt = await account.StakeAsync(TokenUnits.FromTokens(amount!.Value), cancellationToken).ConfigureAwait(false);
                        Console.WriteLine($"Staked {amount} tokens (tx {receipt.TransactionId}).");
                    }

                    Console.WriteLine(await DescribeAsync(account, cancellationToken).ConfigureAwait(false));
                }
                catch (LedgerException exception)
                {
                    throw new UserInputException(exception.Message, exception);
                }

                return 0;
            },
            cancellationToken));
        return command;
    }

    private static async Task CollectAsync(EvmLedger account, CancellationToken cancellationToken)
    {
        LedgerReceipt receipt;
        try
        {
            receipt = await account.WithdrawStakeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (LedgerException exception) when (exception.Reason is "WithdrawalNotDue")
        {
            PendingWithdrawal? pending = await account.GetPendingWithdrawalAsync(account.Address, cancellationToken).ConfigureAwait(false);
            throw new UserInputException(
                pending is null
                    ? exception.Message
                    : $"Nothing to collect yet: the withdrawal of {TokenUnits.Format(pending.Amount)} becomes payable at {Time(pending.AvailableAt)}.",
                exception);
        }
        catch (LedgerException exception) when (exception.Reason is "NoPendingWithdrawal")
        {
            throw new UserInputException(
                $"Nothing to collect: {account.Address} has no pending withdrawal; request one with 'renderfarm stake TOKENS --withdraw'.", exception);
        }

        Console.WriteLine($"Collected the pending withdrawal (tx {receipt.TransactionId}).");
    }

    private static async Task<string> DescribeAsync(EvmLedger account, CancellationToken cancellationToken)
    {
        BigInteger stake = await account.GetStakeAsync(account.Address, cancellationToken).ConfigureAwait(false);
        BigInteger balance = await account.GetBalanceAsync(account.Address, cancellationToken).ConfigureAwait(false);
        PendingWithdrawal? pending = await account.GetPendingWithdrawalAsync(account.Address, cancellationToken).ConfigureAwait(false);
        string withdrawal = pending is null ? "" : $"; {TokenUnits.Format(pending.Amount)} pending withdrawal, payable from {Time(pending.AvailableAt)}";
        return $"{account.Address} now stakes {TokenUnits.Format(stake)} and holds {TokenUnits.Format(balance)}{withdrawal}.";
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
