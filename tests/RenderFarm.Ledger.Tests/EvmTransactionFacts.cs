using System.Numerics;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3.Accounts;
using RenderFarm.Core.Ledger;
using RenderFarm.Testing;

namespace RenderFarm.Ledger.Tests;

/// <summary>
/// How an EVM ledger sends its writes on a Hardhat node: nonces after a refused send, receipts that do not come,
/// confirmations, and two writers sharing one key.
/// </summary>
[Collection(HardhatCollection.Name)]
[Trait("Category", "Integration")]
public sealed class EvmTransactionFacts(HardhatFixture fixture)
{
    private readonly EvmTestChain _chain = new(fixture.Node);

    // Guards the audit's finding that a failed send left the in-memory nonce ahead, so every later write waited forever.
    [Fact]
    public async Task A_send_the_node_refuses_resets_the_nonce_so_the_next_write_goes_through()
    {
        await using LedgerSetup setup = await _chain.CreateSetupAsync();
        var provider = (EvmLedger)setup.Provider1;
        await provider.StakeAsync(10);

        // A gas limit over the block's: the node refuses the signed transaction after its nonce was taken.
        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => provider.SendTransactionAsync(
            provider.EscrowAddress, new StakeFunction { Amount = 5, Gas = 100_000_000 }, "Staking", CancellationToken.None));
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        LedgerReceipt next = await provider.StakeAsync(5, guard.Token);

        Assert.Contains("refused by the EVM node", refused.Message, StringComparison.Ordinal);
        Assert.True(next.Changed);
        Assert.Equal(15, await provider.GetStakeAsync(provider.Address));
    }

    // Guards the audit's finding that a write waited for its receipt forever, blocking every later settlement.
    [Fact]
    public async Task A_write_that_is_not_mined_fails_after_the_receipt_timeout_and_the_next_write_goes_through()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();
        await EvmDeployment.MintAsync(_chain.Web3For(0), contracts.TokenAddress, new Account(_chain.Node.PrivateKeys[2]).Address, 100);
        using EvmLedger provider = await EvmLedger.ConnectAsync(_chain.Options(2, contracts) with { ReceiptTimeout = TimeSpan.FromSeconds(2) });
        await provider.StakeAsync(50);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await _chain.Node.SetAutomineAsync(false);
        LedgerException timedOut;
        try
        {
            timedOut = await Assert.ThrowsAsync<LedgerException>(() => provider.UnstakeAsync(10, guard.Token));
        }
        finally
        {
            await _chain.Node.SetAutomineAsync(true);
            await _chain.Node.MineAsync();
        }

        Assert.Contains("got no receipt within 2 s", timedOut.Message, StringComparison.Ordinal);
        Assert.Contains("retrying is safe", timedOut.Message, StringComparison.Ordinal);

        // The unmined transaction was mined later; the next write takes the following nonce.
        await provider.UnstakeAsync(5, guard.Token);
        Assert.Equal(15, (await provider.GetPendingWithdrawalAsync(provider.Address))!.Amount);
    }

    [Fact]
    public async Task A_write_waits_for_its_confirmations()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();
        await EvmDeployment.MintAsync(_chain.Web3For(0), contracts.TokenAddress, new Account(_chain.Node.PrivateKeys[2]).Address, 100);
        using EvmLedger provider = await EvmLedger.ConnectAsync(_chain.Options(2, contracts) with { Confirmations = 3, ReceiptTimeout = TimeSpan.FromSeconds(2) });

        // Mined at once, but nothing mines the two blocks after it: the write does not count as done.
        LedgerException unconfirmed = await Assert.ThrowsAsync<LedgerException>(() => provider.SendTransactionAsync(
            contracts.TokenAddress, new ApproveFunction { Spender = contracts.EscrowAddress, Amount = 1 }, "Approving", CancellationToken.None));
        Assert.Contains("but not 3 confirmations", unconfirmed.Message, StringComparison.Ordinal);

        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Task<TransactionReceipt> confirmed = provider.SendTransactionAsync(
            contracts.TokenAddress, new ApproveFunction { Spender = contracts.EscrowAddress, Amount = 2 }, "Approving", guard.Token);
        while (!confirmed.IsCompleted && !guard.IsCancellationRequested)
        {
            await _chain.Node.MineAsync();
            await Task.Delay(100);
        }

        TransactionReceipt receipt = await confirmed;
        BigInteger head = (await _chain.Web3For(0).Eth.Blocks.GetBlockNumber.SendRequestAsync()).Value;
        Assert.True(head >= receipt.BlockNumber.Value + 2, $"block {receipt.BlockNumber.Value}, head {head}");
    }

    // Guards the audit's finding that two writers with one key in a process took the same nonce.
    [Fact]
    public async Task Two_ledgers_with_one_key_in_a_process_write_one_at_a_time()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();
        await EvmDeployment.MintAsync(_chain.Web3For(0), contracts.TokenAddress, new Account(_chain.Node.PrivateKeys[2]).Address, 100);
        using EvmLedger first = await _chain.ConnectAsync(2, contracts);
        using EvmLedger second = await _chain.ConnectAsync(2, contracts);
        await first.StakeAsync(40);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        LedgerReceipt[] receipts = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(
            () => (i % 2 == 0 ? first : second).UnstakeAsync(1, guard.Token))));

        Assert.All(receipts, receipt => Assert.True(receipt.Changed));
        Assert.Equal(12, receipts.Select(receipt => receipt.TransactionId).Distinct().Count());
        Assert.Equal(28, await first.GetStakeAsync(first.Address));
        Assert.Equal(12, (await first.GetPendingWithdrawalAsync(first.Address))!.Amount);
    }
}
