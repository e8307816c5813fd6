using System.Net;
using System.Numerics;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using RenderFarm.Core.Ledger;
using RenderFarm.Testing;

namespace RenderFarm.Ledger.Tests;

/// <summary>
/// The ledger contract against RenderEscrow on a Hardhat node; every test deploys fresh contracts.
/// Hardhat account 0 deploys and is the verifier, 1 is the client, 2 and 3 are providers.
/// </summary>
[Collection(HardhatCollection.Name)]
[Trait("Category", "Integration")]
public sealed class EvmLedgerFacts(HardhatFixture fixture) : LedgerContract
{
    private HardhatNode Node => fixture.Node;

    protected override async Task<LedgerSetup> CreateAsync()
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
        return new LedgerSetup(verifier, client, provider1, provider2, new ChainClock(Node, deployer), () =>
        {
            verifier.Dispose();
            client.Dispose();
            provider1.Dispose();
            provider2.Dispose();
            return ValueTask.CompletedTask;
        });
    }

    [Fact]
    public async Task Every_movement_emits_its_event_with_the_right_values()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        byte[] jobId = LedgerIds.JobId(job);

        LedgerReceipt locked = await setup.Client.LockAsync(job, 600);
        LedgerReceipt staked = await setup.Provider1.StakeAsync(50);
        LedgerReceipt released = await setup.Ledger.ReleaseAsync(
            job, "batch-1", [new Payout(setup.Provider1.Address, 100), new Payout(setup.Provider2.Address, 50)]);
        LedgerReceipt repeated = await setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);
        LedgerReceipt slashed = await setup.Ledger.SlashAsync(job, setup.Provider1.Address, 20);
        LedgerReceipt unstaked = await setup.Provider1.UnstakeAsync(10);
        DateTimeOffset unstakedAt = await setup.Clock.NowAsync();
        LedgerReceipt refunded = await setup.Ledger.RefundAsync(job);

        LockedEvent lockedEvent = Assert.Single(await EventsAsync<LockedEvent>(locked));
        Assert.Equal(jobId, lockedEvent.JobId);
        Assert.Equal(setup.Client.Address, lockedEvent.Client, ignoreCase: true);
        Assert.Equal(600, lockedEvent.Amount);

        StakedEvent stakedEvent = Assert.Single(await EventsAsync<StakedEvent>(staked));
        Assert.Equal(setup.Provider1.Address, stakedEvent.Provider, ignoreCase: true);
        Assert.Equal(50, stakedEvent.Amount);

        List<ReleasedEvent> releasedEvents = await EventsAsync<ReleasedEvent>(released);
        Assert.Equal(2, releasedEvents.Count);
        Assert.All(releasedEvents, release => Assert.Equal(jobId, release.JobId));
        Assert.All(releasedEvents, release => Assert.Equal(LedgerIds.BatchId("batch-1"), release.BatchId));
        Assert.Equal(
            [(setup.Provider1.Address.ToLowerInvariant(), new BigInteger(100)), (setup.Provider2.Address.ToLowerInvariant(), new BigInteger(50))],
            releasedEvents.Select(release => (release.Provider.ToLowerInvariant(), release.Amount)));
        Assert.Empty(await EventsAsync<ReleasedEvent>(repeated));

        SlashedEvent slashedEvent = Assert.Single(await EventsAsync<SlashedEvent>(slashed));
        Assert.Equal(jobId, slashedEvent.JobId);
        Assert.Equal(setup.Provider1.Address, slashedEvent.Provider, ignoreCase: true);
        Assert.Equal(20, slashedEvent.Amount);
        Assert.Empty(await EventsAsync<PendingWithdrawalSlashedEvent>(slashed));

        UnstakeRequestedEvent unstakedEvent = Assert.Single(await EventsAsync<UnstakeRequestedEvent>(unstaked));
        Assert.Equal(setup.Provider1.Address, unstakedEvent.Provider, ignoreCase: true);
        Assert.Equal(10, unstakedEvent.Amount);
        Assert.Equal(10, unstakedEvent.Pending);
        Assert.Equal((unstakedAt + UnstakeDelay).ToUnixTimeSeconds(), (long)unstakedEvent.AvailableAt);
        Assert.Empty(await EventsAsync<StakeWithdrawnEvent>(unstaked));

        RefundedEvent refundedEvent = Assert.Single(await EventsAsync<RefundedEvent>(refunded));
        Assert.Equal(jobId, refundedEvent.JobId);
        Assert.Equal(setup.Client.Address, refundedEvent.Client, ignoreCase: true);
        Assert.Equal(600 - 150 + 20, refundedEvent.Amount);
    }

    [Fact]
    public async Task Withdrawal_movements_emit_their_events_with_the_right_values()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(50);
        await setup.Client.LockAsync(job, 100);

        LedgerReceipt first = await setup.Provider1.UnstakeAsync(10);
        LedgerReceipt second = await setup.Provider1.UnstakeAsync(5);
        DateTimeOffset secondAt = await setup.Clock.NowAsync();
        LedgerReceipt slashed = await setup.Ledger.SlashAsync(job, setup.Provider1.Address, 45);
        await setup.Clock.AdvanceAsync(UnstakeDelay);
        LedgerReceipt withdrawn = await setup.Provider1.WithdrawStakeAsync();

        UnstakeRequestedEvent firstEvent = Assert.Single(await EventsAsync<UnstakeRequestedEvent>(first));
        Assert.Equal(setup.Provider1.Address, firstEvent.Provider, ignoreCase: true);
        Assert.Equal((10, 10), ((int)firstEvent.Amount, (int)firstEvent.Pending));
        UnstakeRequestedEvent secondEvent = Assert.Single(await EventsAsync<UnstakeRequestedEvent>(second));
        Assert.Equal((5, 15), ((int)secondEvent.Amount, (int)secondEvent.Pending));
        Assert.Equal((secondAt + UnstakeDelay).ToUnixTimeSeconds(), (long)secondEvent.AvailableAt);
        Assert.True(firstEvent.AvailableAt < secondEvent.AvailableAt);

        // 35 from the stake and 10 from the pending withdrawal.
        Assert.Equal(45, Assert.Single(await EventsAsync<SlashedEvent>(slashed)).Amount);
        PendingWithdrawalSlashedEvent fromPending = Assert.Single(await EventsAsync<PendingWithdrawalSlashedEvent>(slashed));
        Assert.Equal(LedgerIds.JobId(job), fromPending.JobId);
        Assert.Equal(setup.Provider1.Address, fromPending.Provider, ignoreCase: true);
        Assert.Equal(10, fromPending.Amount);

        StakeWithdrawnEvent withdrawnEvent = Assert.Single(await EventsAsync<StakeWithdrawnEvent>(withdrawn));
        Assert.Equal(setup.Provider1.Address, withdrawnEvent.Provider, ignoreCase: true);
        Assert.Equal(5, withdrawnEvent.Amount);
    }

    [Fact]
    public async Task The_escrow_keeps_the_unstake_delay_it_was_deployed_with_in_whole_seconds()
    {
        EvmContractAddresses contracts = await DeployAsync();
        using EvmLedger verifier = await ConnectAsync(0, contracts);
        string verifierAddress = new Account(Node.PrivateKeys[0]).Address;

        Assert.Equal(UnstakeDelay, await verifier.GetUnstakeDelayAsync());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => EvmDeployment.DeployAsync(Web3For(0), verifierAddress, TimeSpan.FromSeconds(1.5)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => EvmDeployment.DeployAsync(Web3For(0), verifierAddress, TimeSpan.FromSeconds(-1)));
    }

    [Fact]
    public async Task Locking_without_an_allowance_is_refused_and_locks_nothing()
    {
        EvmContractAddresses contracts = await DeployAsync();
        using EvmLedger client = await ConnectAsync(1, contracts);
        await EvmDeployment.MintAsync(Web3For(0), contracts.TokenAddress, client.Address, 500);
        var job = Guid.NewGuid();

        // LockAsync approves first; send the bare lock as a client that forgot to.
        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => client.SendTransactionAsync(
            contracts.EscrowAddress, new LockFunction { JobId = LedgerIds.JobId(job), Amount = 100 }, "Locking", CancellationToken.None));

        Assert.Equal("InsufficientAllowance", refused.Reason);
        Assert.Contains("allowance=0", refused.Message, StringComparison.Ordinal);
        Assert.Null(await client.GetEscrowAsync(job));
        Assert.Equal(500, await client.GetBalanceAsync(client.Address));
    }

    [Fact]
    public async Task Only_the_verifier_releases_refunds_and_slashes()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 100);
        var client = (ILedger)setup.Client;

        LedgerException release = await Assert.ThrowsAsync<LedgerException>(
            () => client.ReleaseAsync(job, "batch-1", [new Payout(setup.Client.Address, 100)]));
        LedgerException refund = await Assert.ThrowsAsync<LedgerException>(() => client.RefundAsync(job));

        Assert.Equal("NotVerifier", release.Reason);
        Assert.Equal("NotVerifier", refund.Reason);
        Assert.Equal(new EscrowState(setup.Client.Address, 100, 0, 0, 0, Open: true), await setup.Ledger.GetEscrowAsync(job));
    }

    [Fact]
    public async Task A_wrong_chain_id_is_refused_before_anything_is_signed()
    {
        EvmContractAddresses contracts = await DeployAsync();

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => EvmLedger.ConnectAsync(Options(0, contracts) with { ChainId = 1 }));

        Assert.Contains("chain id 31337", refused.Message, StringComparison.Ordinal);
        Assert.Contains("configured 1", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_reported_with_its_url()
    {
        var url = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}/");

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => EvmLedger.ConnectAsync(new EvmLedgerOptions
        {
            RpcUrl = url,
            ChainId = HardhatNode.ChainId,
            PrivateKey = Node.PrivateKeys[0],
            EscrowAddress = "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        }));

        Assert.Contains($"{url} cannot be reached", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_without_the_escrow_contract_is_refused()
    {
        EvmContractAddresses contracts = await DeployAsync();
        string nobody = new Account(Node.PrivateKeys[5]).Address;

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(
            () => EvmLedger.ConnectAsync(Options(0, contracts) with { EscrowAddress = nobody }));

        Assert.Contains($"no contract at the escrow address {nobody}", refused.Message, StringComparison.Ordinal);
    }


    private Web3 Web3For(int account) => new(new Account(Node.PrivateKeys[account], HardhatNode.ChainId), Node.RpcUrl.ToString());

    private Task<EvmContractAddresses> DeployAsync() => EvmDeployment.DeployAsync(Web3For(0), new Account(Node.PrivateKeys[0]).Address, UnstakeDelay);

    private EvmLedgerOptions Options(int account, EvmContractAddresses contracts) => new()
    {
        RpcUrl = Node.RpcUrl,
        ChainId = HardhatNode.ChainId,
        PrivateKey = Node.PrivateKeys[account],
        EscrowAddress = contracts.EscrowAddress,
    };

    private Task<EvmLedger> ConnectAsync(int account, EvmContractAddresses contracts) => EvmLedger.ConnectAsync(Options(account, contracts));

    private async Task<List<TEvent>> EventsAsync<TEvent>(LedgerReceipt receipt)
        where TEvent : IEventDTO, new()
    {
        TransactionReceipt transaction = await Web3For(0).Eth.Transactions.GetTransactionReceipt.SendRequestAsync(receipt.TransactionId);
        return [.. transaction.DecodeAllEvents<TEvent>().Select(log => log.Event)];
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
