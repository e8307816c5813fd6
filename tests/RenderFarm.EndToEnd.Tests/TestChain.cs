using System.Numerics;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using RenderFarm.Ledger;
using RenderFarm.Testing;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// A Hardhat node with freshly deployed RenderToken and RenderEscrow contracts. Hardhat account 0 deploys, owns the
/// token (mints) and is the escrow's verifier, i.e. the coordinator's key; account 19 is the treasury slashed stake
/// goes to; the other accounts are handed out to clients and providers.
/// </summary>
internal sealed class TestChain : IAsyncDisposable
{
    private readonly HardhatNode _node;

    private TestChain(HardhatNode node, EvmContractAddresses contracts)
    {
        _node = node;
        Contracts = contracts;
    }

    /// <summary>The escrow's unstake delay: an hour, short for a chain whose clock a test may move on.</summary>
    public static TimeSpan UnstakeDelay { get; } = TimeSpan.FromHours(1);

    /// <summary>Where slashed stake goes: Hardhat account 19.</summary>
    public string Treasury => Address(19);

    /// <summary>The deployed contracts.</summary>
    public EvmContractAddresses Contracts { get; }

    /// <summary>The node's JSON-RPC endpoint.</summary>
    public Uri RpcUrl => _node.RpcUrl;

    /// <summary>The escrow verifier's private key: the coordinator signs with it.</summary>
    public string VerifierKey => _node.PrivateKeys[0];

    public static async Task<TestChain> StartAsync()
    {
        HardhatNode node = await HardhatNode.StartAsync();
        try
        {
            var terms = new EscrowTerms { Treasury = new Account(node.PrivateKeys[19]).Address, UnstakeDelay = UnstakeDelay };
            EvmContractAddresses contracts = await EvmDeployment.DeployAsync(Web3For(node, 0), new Account(node.PrivateKeys[0]).Address, terms);
            return new TestChain(node, contracts);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>The private key of Hardhat account <paramref name="account"/> (1 and up: 0 is the verifier).</summary>
    public string PrivateKey(int account) => _node.PrivateKeys[account];

    /// <summary>The address of Hardhat account <paramref name="account"/>.</summary>
    public string Address(int account) => new Account(_node.PrivateKeys[account]).Address;

    /// <summary>Connects to the escrow as account <paramref name="account"/>.</summary>
    public Task<EvmLedger> ConnectAsync(int account) => EvmLedger.ConnectAsync(new EvmLedgerOptions
    {
        RpcUrl = _node.RpcUrl,
        ChainId = HardhatNode.ChainId,
        PrivateKey = _node.PrivateKeys[account],
        EscrowAddress = Contracts.EscrowAddress,
    });

    /// <summary>Mints <paramref name="amount"/> token base units to <paramref name="address"/>.</summary>
    public Task MintAsync(string address, BigInteger amount) => EvmDeployment.MintAsync(Web3For(_node, 0), Contracts.TokenAddress, address, amount);

    /// <summary>The receipt of a transaction the chain mined, or null when it knows no such transaction.</summary>
    public Task<TransactionReceipt?> ReceiptAsync(string transactionHash) =>
        Web3For(_node, 0).Eth.Transactions.GetTransactionReceipt.SendRequestAsync(transactionHash)!;

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    private static Web3 Web3For(HardhatNode node, int account) => new(new Account(node.PrivateKeys[account], HardhatNode.ChainId), node.RpcUrl.ToString());
}
