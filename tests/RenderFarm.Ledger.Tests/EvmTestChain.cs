using System.Numerics;
using System.Text.Json;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using RenderFarm.Core.Ledger;
using RenderFarm.Testing;
using static RenderFarm.Ledger.Tests.LedgerTerms;

namespace RenderFarm.Ledger.Tests;

/// <summary>
/// The EVM facts' view of the Hardhat node: accounts, fresh deployments of the token and escrow, ledgers connected to
/// them, and the events of a transaction. Hardhat account 0 deploys (the escrow's owner) and is the verifier, 1 is the
/// client, 2 and 3 are providers, 9 is the treasury.
/// </summary>
internal sealed class EvmTestChain(HardhatNode node)
{
    public HardhatNode Node { get; } = node;

    public string TreasuryAddress => new Account(Node.PrivateKeys[9]).Address;

    public Web3 Web3For(int account) => new(new Account(Node.PrivateKeys[account], HardhatNode.ChainId), Node.RpcUrl.ToString());

    /// <summary>Fresh contracts, deployed by account 0 with <see cref="LedgerTerms.Terms"/>.</summary>
    public Task<EvmContractAddresses> DeployAsync() => EvmDeployment.DeployAsync(Web3For(0), new Account(Node.PrivateKeys[0]).Address, Terms(TreasuryAddress));

    public EvmLedgerOptions Options(int account, EvmContractAddresses contracts) => new()
    {
        RpcUrl = Node.RpcUrl,
        ChainId = HardhatNode.ChainId,
        PrivateKey = Node.PrivateKeys[account],
        EscrowAddress = contracts.EscrowAddress,
    };

    public Task<EvmLedger> ConnectAsync(int account, EvmContractAddresses contracts) => EvmLedger.ConnectAsync(Options(account, contracts));

    /// <summary>Fresh contracts with the verifier's ledger, a funded client and two funded providers.</summary>
    public async Task<LedgerSetup> CreateSetupAsync()
    {
        EvmContractAddresses contracts = await DeployAsync();
        EvmLedger verifier = await ConnectAsync(0, contracts);
        EvmLedger client = await ConnectAsync(1, contracts);
        EvmLedger provider1 = await ConnectAsync(2, contracts);
        EvmLedger provider2 = await ConnectAsync(3, contracts);
        Web3 deployer = Web3For(0);
        await EvmDeployment.MintAsync(deployer, contracts.TokenAddress, client.Address, ClientFunds);
        await EvmDeployment.MintAsync(deployer, contracts.TokenAddress, provider1.Address, ProviderFunds);
        await EvmDeployment.MintAsync(deployer, contracts.TokenAddress, provider2.Address, ProviderFunds);
        return new LedgerSetup(verifier, client, provider1, provider2, TreasuryAddress, new ChainClock(Node, deployer), () =>
        {
            verifier.Dispose();
            client.Dispose();
            provider1.Dispose();
            provider2.Dispose();
            return ValueTask.CompletedTask;
        });
    }

    public Task<List<TEvent>> EventsAsync<TEvent>(LedgerReceipt receipt)
        where TEvent : IEventDTO, new() => EventsAsync<TEvent>(receipt.TransactionId);

    public async Task<List<TEvent>> EventsAsync<TEvent>(string transactionId)
        where TEvent : IEventDTO, new()
    {
        TransactionReceipt transaction = await Web3For(0).Eth.Transactions.GetTransactionReceipt.SendRequestAsync(transactionId);
        return [.. transaction.DecodeAllEvents<TEvent>().Select(log => log.Event)];
    }

    public static async Task SendAsync<TFunction>(Web3 web3, string contract, TFunction function)
        where TFunction : FunctionMessage, new()
    {
        TransactionReceipt receipt = await web3.Eth.GetContractHandler(contract).SendRequestAndWaitForReceiptAsync(function);
        Assert.Equal(BigInteger.One, receipt.Status.Value);
    }

    /// <summary>Deploys the test token that returns nothing from its transfers (<c>contracts/test/NoReturnToken.sol</c>).</summary>
    public static async Task<string> DeployTestTokenAsync(Web3 web3)
    {
        using JsonDocument artifact = JsonDocument.Parse(await File.ReadAllTextAsync(RepositoryPaths.Combine("contracts/build/test/NoReturnToken.json")));
        string abi = artifact.RootElement.GetProperty("abi").GetRawText();
        string bytecode = artifact.RootElement.GetProperty("bytecode").GetString()!;
        string from = web3.TransactionManager.Account.Address;
        TransactionReceipt receipt = await web3.Eth.DeployContract.SendRequestAndWaitForReceiptAsync(
            abi, bytecode, from, await web3.Eth.DeployContract.EstimateGasAsync(abi, bytecode, from), CancellationToken.None);
        return receipt.ContractAddress;
    }

    // The escrow's constructor called directly, past EvmDeployment's own checks.
    public static async Task DeployRawEscrowAsync(Web3 web3, string token, string verifier, long unstakeDelay, long reclaimDelay, long maxSlash)
    {
        object[] arguments = [token, verifier, verifier, new BigInteger(unstakeDelay), new BigInteger(reclaimDelay), new BigInteger(maxSlash)];
        string from = web3.TransactionManager.Account.Address;
        try
        {
            var gas = await web3.Eth.DeployContract.EstimateGasAsync(EvmArtifacts.Escrow.Abi, EvmArtifacts.Escrow.Bytecode, from, arguments);
            TransactionReceipt receipt = await web3.Eth.DeployContract.SendRequestAndWaitForReceiptAsync(
                EvmArtifacts.Escrow.Abi, EvmArtifacts.Escrow.Bytecode, from, gas, CancellationToken.None, arguments);
            Assert.Equal(BigInteger.One, receipt.Status.Value);
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, "Deploying RenderEscrow", rpcUrl: null) is LedgerException translated)
        {
            throw translated;
        }
    }

    /// <summary>The test token's switch that makes its transfers return false instead of reverting.</summary>
    [Function("setRefuseQuietly")]
    public sealed class SetRefuseQuietlyFunction : FunctionMessage
    {
        [Parameter("bool", "refuse", 1)]
        public bool Refuse { get; set; }
    }

    /// <summary>
    /// The chain's block time. Moving it forward (<c>evm_increaseTime</c>, then <c>evm_mine</c> so the next
    /// block carries it) moves it for every test on the node; each test deploys its own escrow, so none
    /// sees another's withdrawals.
    /// </summary>
    private sealed class ChainClock(HardhatNode node, Web3 web3) : ILedgerClock
    {
        public async Task<DateTimeOffset> NowAsync()
        {
            BlockWithTransactionHashes block = await web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(BlockParameter.CreateLatest());
            return DateTimeOffset.FromUnixTimeSeconds((long)block.Timestamp.Value);
        }

        public Task AdvanceAsync(TimeSpan time) => node.AdvanceTimeAsync(time);
    }
}
