using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text.RegularExpressions;
using Nethereum.RPC.Eth.DTOs;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// Paying for a job on a real chain: coordinator, workers, PostgreSQL, s3rver and a Hardhat node, each its own
/// process. The client locks the budget in the escrow contract, the coordinator (the escrow's verifier) releases each
/// honest provider's pay for its verified frames, slashes the provider caught cheating and refunds the rest.
/// </summary>
[Collection(FarmCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class PaymentFacts(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output)
{
    // Hardhat accounts: 0 is the coordinator's verifier key (TestChain), then the parties.
    private const int ClientAccount = 1;
    private const int HonestA = 2;
    private const int HonestB = 3;
    private const int Cheater = 4;
    private const int Unstaked = 5;

    private const int Frames = 6;
    private const long BudgetTokens = 12;
    private const long ClientTokens = 100;

    [Fact]
    public async Task Honest_providers_are_paid_exactly_on_chain_and_the_client_gets_the_rest_back()
    {
        await using TestChain chain = await TestChain.StartAsync();
        await using Farm farm = await Farm.CreateAsync(postgres, s3, output, FarmTimings.Fast);
        farm.UseChain(chain);
        farm.SetClientKey(chain.PrivateKey(ClientAccount));
        farm.SetWorkerKey("a", chain.PrivateKey(HonestA));
        farm.SetWorkerKey("b", chain.PrivateKey(HonestB));
        await farm.RunAsync(async () =>
        {
            using EvmLedger client = await chain.ConnectAsync(ClientAccount);
            using EvmLedger observer = await chain.ConnectAsync(ClientAccount);
            await chain.MintAsync(client.Address, TokenUnits.FromTokens(ClientTokens));

            await farm.StartCoordinatorAsync();
            await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"));
            string scene = await farm.UploadSceneAsync();
            JobSummary submitted = await farm.SubmitAsync(
                new SubmitJobRequest(scene, $"1-{Frames}", Size: "24x24", SamplesPerPixel: 1, Seed: 3, Budget: BudgetTokens, Payer: client.Address));
            Assert.Equal(JobState.AwaitingEscrow, submitted.State);

            // Nothing is leased before the budget is locked: the job waits with every task queued.
            await Task.Delay(TimeSpan.FromSeconds(2));
            JobDetails waiting = await farm.GetJobAsync(submitted.Id);
            Assert.Equal(JobState.AwaitingEscrow, waiting.Job.State);
            Assert.All(waiting.Tasks, t => Assert.Null(t.Provider));

            LedgerReceipt locked = await client.LockAsync(submitted.Id, TokenUnits.FromTokens(BudgetTokens));
            farm.Note($"client locked {BudgetTokens} tokens in tx {locked.TransactionId}");
            using (HttpResponseMessage confirmed = await farm.Http.PostAsync(new Uri($"api/jobs/{submitted.Id}/escrow", UriKind.Relative), null))
            {
                Assert.True(confirmed.StatusCode == HttpStatusCode.OK, await confirmed.Content.ReadAsStringAsync());
            }

            JobDetails done = await farm.WaitForJobAsync(submitted.Id, d => d.Settlement is not null, "settlement", TimeSpan.FromMinutes(3));
            Assert.Equal(JobState.Completed, done.Job.State);
            JobSettlement settlement = done.Settlement!;
            Assert.Null(settlement.Note);
            Assert.Empty(settlement.Slashes);

            // Every frame was spot-checked and paid at budget / frames.
            BigInteger price = TokenUnits.FromTokens(BudgetTokens) / Frames;
            Assert.Equal(price.ToString(CultureInfo.InvariantCulture), settlement.PricePerFrame);
            Assert.Equal(Frames, settlement.Payouts.Sum(p => p.Frames));
            foreach (ProviderPayout payout in settlement.Payouts)
            {
                BigInteger amount = BigInteger.Parse(payout.Amount, CultureInfo.InvariantCulture);
                Assert.Equal(price * payout.Frames, amount);
                // The providers held nothing before: their balance is exactly their pay.
                Assert.Equal(amount, await observer.GetBalanceAsync(payout.Provider));
                await AssertMinedAsync(chain, payout.TransactionId);
            }

            Assert.Equal(
                new[] { chain.Address(HonestA), chain.Address(HonestB) }.Select(a => a.ToLowerInvariant()).Order(),
                settlement.Payouts.Select(p => p.Provider.ToLowerInvariant()).Order());

            EscrowState escrow = (await observer.GetEscrowAsync(client.Address, submitted.Id))!;
            Assert.False(escrow.Open);
            Assert.Equal(TokenUnits.FromTokens(BudgetTokens), escrow.Locked);
            Assert.Equal(escrow.Locked, escrow.Released + escrow.Refunded);
            await AssertMinedAsync(chain, settlement.RefundTransactionId!);
            Assert.Equal(TokenUnits.FromTokens(ClientTokens) - escrow.Locked + escrow.Refunded, await observer.GetBalanceAsync(client.Address));

            // The report covers both providers' checks.
            Assert.Equal(2, done.Verification!.Count);
            Assert.All(done.Verification, v => Assert.False(v.Caught));
        });
    }

    [Fact]
    public async Task A_client_pays_from_the_command_line_the_cheater_is_slashed_and_only_honest_work_is_paid()
    {
        await using TestChain chain = await TestChain.StartAsync();
        await using Farm farm = await Farm.CreateAsync(postgres, s3, output, FarmTimings.Fast);
        farm.UseChain(chain);
        farm.SetClientKey(chain.PrivateKey(ClientAccount));
        farm.RequireStake(5);
        (string Name, int Account)[] providers = [("a", HonestA), ("b", HonestB), ("cheat", Cheater), ("idle", Unstaked)];
        foreach ((string name, int account) in providers)
        {
            farm.SetWorkerKey(name, chain.PrivateKey(account));
            await chain.MintAsync(chain.Address(account), TokenUnits.FromTokens(20));
        }

        string clientKey = Path.Combine(farm.Folder, "client.key");
        await File.WriteAllTextAsync(clientKey, chain.PrivateKey(ClientAccount));
        await chain.MintAsync(chain.Address(ClientAccount), TokenUnits.FromTokens(ClientTokens));
        string url = farm.Address.AbsoluteUri;
        string rpc = chain.RpcUrl.AbsoluteUri;

        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            foreach (string name in new[] { "a", "b", "cheat" })
            {
                CommandResult staked = await farm.RunCommandAsync(
                    $"stake-{name}", ["stake", "20", "--coordinator", url, "--key", Path.Combine(farm.Folder, $"{name}.key"), "--rpc", rpc], TimeSpan.FromMinutes(1));
                Assert.Equal(0, staked.ExitCode);
                Assert.Contains("now stakes 20 tokens", staked.Output, StringComparison.Ordinal);
            }

            // A provider without stake is turned away at sign-in, with the reason.
            CommandResult refused = await farm.RunCommandAsync(
                "worker-idle", ["worker", "--coordinator", url, "--key", Path.Combine(farm.Folder, "idle.key"), "--cache", Path.Combine(farm.Folder, "idle-cache")], TimeSpan.FromMinutes(1));
            Assert.Equal(2, refused.ExitCode);
            Assert.Contains("asks providers to stake at least 5 tokens", refused.Output, StringComparison.Ordinal);

            await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"), farm.StartCheatingWorkerAsync("cheat", "low-spp"));
            string frames = Path.Combine(farm.Folder, "client-frames");
            CommandResult client = await farm.RunCommandAsync(
                "client",
                ["render", RepositoryPaths.Combine(Farm.Scene), "--frames", $"1-{Frames}", "--size", "24x24", "--spp", "4", "--seed", "5",
                 "--coordinator", url, "--budget", BudgetTokens.ToString(CultureInfo.InvariantCulture), "--ledger-key", clientKey, "--rpc", rpc, "--out", frames],
                TimeSpan.FromMinutes(4));
            Assert.Equal(0, client.ExitCode);
            Assert.Equal(Frames, Directory.GetFiles(frames, "*.png").Length);
            Assert.Contains("paid: ", client.Output, StringComparison.Ordinal);
            Assert.Contains("slashed: ", client.Output, StringComparison.Ordinal);
            Match locked = Regex.Match(client.Output, "locking [0-9]+ tokens for job (?<id>[0-9a-f-]{36})");
            Assert.True(locked.Success, "The client did not say which job it locked the budget for.");
            JobDetails done = await farm.GetJobAsync(Guid.Parse(locked.Groups["id"].Value));

            // Only honest work was accepted and paid; the cheater was caught, slashed and its frames redone.
            string cheat = chain.Address(Cheater);
            Assert.Equal(JobState.Completed, done.Job.State);
            Assert.All(done.Tasks, t => Assert.NotEqual(cheat, t.Provider, StringComparer.OrdinalIgnoreCase));
            Assert.Contains(done.Tasks, t => t.RejectedBy!.Contains(cheat, StringComparer.OrdinalIgnoreCase));
            Assert.True(Assert.Single(done.Verification!, v => string.Equals(v.Provider, cheat, StringComparison.OrdinalIgnoreCase)).Caught);
            JobSettlement settlement = done.Settlement!;
            ProviderSlash slash = Assert.Single(settlement.Slashes);
            Assert.Equal(cheat, slash.Provider, ignoreCase: true);
            await AssertMinedAsync(chain, slash.TransactionId!);
            using EvmLedger observer = await chain.ConnectAsync(ClientAccount);
            Assert.Equal(TokenUnits.FromTokens(20) - BigInteger.Parse(slash.Amount, CultureInfo.InvariantCulture), await observer.GetStakeAsync(cheat));

            BigInteger price = TokenUnits.FromTokens(BudgetTokens) / Frames;
            Assert.Equal(Frames, settlement.Payouts.Sum(p => p.Frames));
            Assert.DoesNotContain(settlement.Payouts, p => string.Equals(p.Provider, cheat, StringComparison.OrdinalIgnoreCase));
            foreach (ProviderPayout payout in settlement.Payouts)
            {
                // Honest providers staked everything they held: their balance now is exactly their pay.
                Assert.Equal(price * payout.Frames, BigInteger.Parse(payout.Amount, CultureInfo.InvariantCulture));
                Assert.Equal(price * payout.Frames, await observer.GetBalanceAsync(payout.Provider));
                await AssertMinedAsync(chain, payout.TransactionId);
            }

            // The slashed stake went to the treasury, never to the client; the client paid only the verified frames.
            EscrowState escrow = (await observer.GetEscrowAsync(chain.Address(ClientAccount), done.Job.Id))!;
            Assert.Equal((TokenUnits.FromTokens(BudgetTokens), BigInteger.Parse(slash.Amount, CultureInfo.InvariantCulture)), (escrow.Locked, escrow.Slashed));
            Assert.Equal(escrow.Locked, escrow.Released + escrow.Refunded);
            Assert.Equal(BigInteger.Parse(slash.Amount, CultureInfo.InvariantCulture), await observer.GetBalanceAsync(chain.Treasury));
            Assert.Equal(TokenUnits.FromTokens(ClientTokens) - escrow.Locked + escrow.Refunded, await observer.GetBalanceAsync(chain.Address(ClientAccount)));
        });
    }

    private static async Task AssertMinedAsync(TestChain chain, string transactionHash)
    {
        TransactionReceipt? receipt = await chain.ReceiptAsync(transactionHash);
        Assert.True(receipt?.Status?.Value == BigInteger.One, $"Transaction {transactionHash} is not mined successfully on the chain.");
    }
}
