using System.Globalization;
using System.Net;
using System.Text;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;
using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// <c>renderfarm stake</c> against escrow contracts on a Hardhat node, named by a stand-in coordinator that only
/// answers <c>GET /api/ledger</c>. Hardhat account 0 deploys and mints, account 1 is the provider.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StakeCommandFacts
{
    private static readonly TimeSpan s_unstakeDelay = TimeSpan.FromHours(1);

    [Fact]
    public async Task Withdraw_requests_the_stake_back_and_collect_pays_it_only_once_the_delay_has_passed()
    {
        await using HardhatNode node = await HardhatNode.StartAsync();
        var deployer = new Web3(new Account(node.PrivateKeys[0], HardhatNode.ChainId), node.RpcUrl.ToString());
        string owner = deployer.TransactionManager.Account.Address;
        EvmContractAddresses contracts = await EvmDeployment.DeployAsync(deployer, owner, new EscrowTerms { Treasury = owner, UnstakeDelay = s_unstakeDelay });
        string provider = new Account(node.PrivateKeys[1]).Address;
        await EvmDeployment.MintAsync(deployer, contracts.TokenAddress, provider, TokenUnits.FromTokens(50));
        string folder = Directory.CreateTempSubdirectory("renderfarm-stake-").FullName;
        string keyFile = Path.Combine(folder, "provider.key");
        await File.WriteAllTextAsync(keyFile, node.PrivateKeys[1]);
        using var coordinator = new LedgerOnlyCoordinator(contracts);
        string[] common = ["--coordinator", coordinator.Url, "--key", keyFile, "--rpc", node.RpcUrl.ToString()];

        CliResult nothing = await CliRunner.RunAsync(["stake", "--collect", .. common]);
        CliResult staked = await CliRunner.RunAsync(["stake", "20", .. common]);
        CliResult requested = await CliRunner.RunAsync(["stake", "5", "--withdraw", .. common]);
        string due = await DueTimeAsync(node, contracts, provider);
        CliResult early = await CliRunner.RunAsync(["stake", "--collect", .. common]);

        AssertOneLineError(nothing, "Nothing to collect: ");
        Assert.Contains("no pending withdrawal", nothing.Error, StringComparison.Ordinal);
        Assert.True(staked.ExitCode == 0, staked.Error);
        Assert.True(requested.ExitCode == 0, requested.Error);
        Assert.Contains("Requested the withdrawal of 5 tokens", requested.Output, StringComparison.Ordinal);
        Assert.Contains($"collect it with 'renderfarm stake --collect' from {due}.", requested.Output, StringComparison.Ordinal);
        Assert.Contains($"now stakes 15 tokens and holds 30 tokens; 5 tokens pending withdrawal, payable from {due}.", requested.Output, StringComparison.Ordinal);
        AssertOneLineError(early, "Nothing to collect yet: ");
        Assert.Contains($"the withdrawal of 5 tokens becomes payable at {due}", early.Error, StringComparison.Ordinal);

        await node.AdvanceTimeAsync(s_unstakeDelay);
        CliResult collected = await CliRunner.RunAsync(["stake", "--collect", .. common]);

        Assert.True(collected.ExitCode == 0, collected.Error);
        Assert.Contains("Collected the pending withdrawal (tx 0x", collected.Output, StringComparison.Ordinal);
        Assert.Contains("now stakes 15 tokens and holds 35 tokens.", collected.Output, StringComparison.Ordinal);
        Directory.Delete(folder, recursive: true);
    }

    [Theory]
    [InlineData("--collect", "5", "give it no TOKENS")]
    [InlineData("--collect", "--withdraw", "no --withdraw")]
    [InlineData("--withdraw", null, "how many tokens to withdraw")]
    [InlineData("--withdraw", "0", "Withdraw a positive number of tokens")]
    public async Task Bad_input_gives_one_clear_line_and_exit_code_2_before_any_connection(string option, string? other, string expected)
    {
        // Nothing listens on the coordinator's or the chain's port: the input is refused first.
        string closed = $"http://127.0.0.1:{LoopbackPort.Free()}/";
        string[] arguments = other is null ? ["stake", option] : ["stake", option, other];

        CliResult result = await CliRunner.RunAsync([.. arguments, "--coordinator", closed, "--rpc", closed]);

        AssertOneLineError(result, "");
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    private static void AssertOneLineError(CliResult result, string start)
    {
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"renderfarm: error: {start}", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    private static async Task<string> DueTimeAsync(HardhatNode node, EvmContractAddresses contracts, string provider)
    {
        using EvmLedger observer = await EvmLedger.ConnectAsync(new EvmLedgerOptions
        {
            RpcUrl = node.RpcUrl,
            ChainId = HardhatNode.ChainId,
            PrivateKey = node.PrivateKeys[0],
            EscrowAddress = contracts.EscrowAddress,
        });
        PendingWithdrawal pending = Assert.IsType<PendingWithdrawal>(await observer.GetPendingWithdrawalAsync(provider));
        return pending.AvailableAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
    }

    /// <summary>Answers <c>GET /api/ledger</c> with the deployed escrow, as a coordinator on that chain would; 404 otherwise.</summary>
    private sealed class LedgerOnlyCoordinator : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Task _serving;

        public LedgerOnlyCoordinator(EvmContractAddresses contracts)
        {
            Url = $"http://127.0.0.1:{LoopbackPort.Free()}/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            byte[] ledger = Encoding.UTF8.GetBytes(string.Create(
                CultureInfo.InvariantCulture,
                $$"""{"kind":"evm","chainId":{{HardhatNode.ChainId}},"escrowAddress":"{{contracts.EscrowAddress}}","tokenAddress":"{{contracts.TokenAddress}}"}"""));
            _serving = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try
                    {
                        context = await _listener.GetContextAsync();
                    }
                    catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException)
                    {
                        return;
                    }

                    bool found = context.Request.HttpMethod == "GET" && context.Request.Url?.AbsolutePath == "/api/ledger";
                    context.Response.StatusCode = found ? 200 : 404;
                    context.Response.ContentType = "application/json";
                    if (found)
                    {
                        await context.Response.OutputStream.WriteAsync(ledger);
                    }

                    context.Response.Close();
                }
            });
        }

        public string Url { get; }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
