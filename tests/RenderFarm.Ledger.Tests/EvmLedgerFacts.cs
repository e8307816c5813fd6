using System.Numerics;
using RenderFarm.Core.Ledger;
using RenderFarm.Testing;
using static RenderFarm.Ledger.Tests.LedgerTerms;

namespace RenderFarm.Ledger.Tests;

/// <summary>
/// The ledger contract against RenderEscrow on a Hardhat node, every test on fresh contracts (<see cref="EvmTestChain"/>),
/// and what only the chain adds to it: events, allowances and the verifier's sole right to move escrowed tokens.
/// </summary>
[Collection(HardhatCollection.Name)]
[Trait("Category", "Integration")]
public sealed class EvmLedgerFacts(HardhatFixture fixture) : LedgerContract
{
    private readonly EvmTestChain _chain = new(fixture.Node);

    protected override Task<LedgerSetup> CreateAsync() => _chain.CreateSetupAsync();

    [Fact]
    public async Task Every_movement_emits_its_event_with_the_right_values()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        byte[] jobId = LedgerIds.JobId(job);

        LedgerReceipt locked = await setup.Client.LockAsync(job, 600);
        DateTimeOffset lockedAt = await setup.Clock.NowAsync();
        LedgerReceipt staked = await setup.Provider1.StakeAsync(50);
        LedgerReceipt released = await setup.Ledger.ReleaseAsync(
            setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100), new Payout(setup.Provider2.Address, 50)]);
        LedgerReceipt repeated = await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);
        SlashReceipt slashed = await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 20);
        LedgerReceipt unstaked = await setup.Provider1.UnstakeAsync(10);
        DateTimeOffset unstakedAt = await setup.Clock.NowAsync();
        LedgerReceipt refunded = await setup.Ledger.RefundAsync(setup.Client.Address, job);

        LockedEvent lockedEvent = Assert.Single(await _chain.EventsAsync<LockedEvent>(locked));
        Assert.Equal(jobId, lockedEvent.JobId);
        Assert.Equal(setup.Client.Address, lockedEvent.Client, ignoreCase: true);
        Assert.Equal(600, lockedEvent.Amount);
        Assert.Equal((lockedAt + ReclaimDelay).ToUnixTimeSeconds(), (long)lockedEvent.Deadline);

        StakedEvent stakedEvent = Assert.Single(await _chain.EventsAsync<StakedEvent>(staked));
        Assert.Equal(setup.Provider1.Address, stakedEvent.Provider, ignoreCase: true);
        Assert.Equal(50, stakedEvent.Amount);

        List<ReleasedEvent> releasedEvents = await _chain.EventsAsync<ReleasedEvent>(released);
        Assert.Equal(2, releasedEvents.Count);
        Assert.All(releasedEvents, release => Assert.Equal(jobId, release.JobId));
        Assert.All(releasedEvents, release => Assert.Equal(LedgerIds.BatchId("batch-1"), release.BatchId));
        Assert.Equal(
            [(setup.Provider1.Address.ToLowerInvariant(), new BigInteger(100)), (setup.Provider2.Address.ToLowerInvariant(), new BigInteger(50))],
            releasedEvents.Select(release => (release.Provider.ToLowerInvariant(), release.Amount)));
        Assert.Empty(await _chain.EventsAsync<ReleasedEvent>(repeated));

        SlashedEvent slashedEvent = Assert.Single(await _chain.EventsAsync<SlashedEvent>(slashed.TransactionId));
        Assert.Equal(jobId, slashedEvent.JobId);
        Assert.Equal(setup.Client.Address, slashedEvent.Client, ignoreCase: true);
        Assert.Equal(setup.Provider1.Address, slashedEvent.Provider, ignoreCase: true);
        Assert.Equal(20, slashedEvent.Amount);
        Assert.Empty(await _chain.EventsAsync<PendingWithdrawalSlashedEvent>(slashed.TransactionId));

        UnstakeRequestedEvent unstakedEvent = Assert.Single(await _chain.EventsAsync<UnstakeRequestedEvent>(unstaked));
        Assert.Equal(setup.Provider1.Address, unstakedEvent.Provider, ignoreCase: true);
        Assert.Equal(10, unstakedEvent.Amount);
        Assert.Equal(10, unstakedEvent.Pending);
        Assert.Equal((unstakedAt + UnstakeDelay).ToUnixTimeSeconds(), (long)unstakedEvent.AvailableAt);
        Assert.Empty(await _chain.EventsAsync<StakeWithdrawnEvent>(unstaked));

        RefundedEvent refundedEvent = Assert.Single(await _chain.EventsAsync<RefundedEvent>(refunded));
        Assert.Equal(jobId, refundedEvent.JobId);
        Assert.Equal(setup.Client.Address, refundedEvent.Client, ignoreCase: true);
        Assert.Equal(600 - 150, refundedEvent.Amount);
    }

    [Fact]
    public async Task Withdrawal_movements_emit_their_events_with_the_right_values()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(50);
        await setup.Client.LockAsync(job, 100);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);

        LedgerReceipt first = await setup.Provider1.UnstakeAsync(10);
        LedgerReceipt second = await setup.Provider1.UnstakeAsync(5);
        DateTimeOffset secondAt = await setup.Clock.NowAsync();
        string slashed = (await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 45)).TransactionId;
        await setup.Clock.AdvanceAsync(UnstakeDelay);
        LedgerReceipt withdrawn = await setup.Provider1.WithdrawStakeAsync();

        UnstakeRequestedEvent firstEvent = Assert.Single(await _chain.EventsAsync<UnstakeRequestedEvent>(first));
        Assert.Equal(setup.Provider1.Address, firstEvent.Provider, ignoreCase: true);
        Assert.Equal((10, 10), ((int)firstEvent.Amount, (int)firstEvent.Pending));
        UnstakeRequestedEvent secondEvent = Assert.Single(await _chain.EventsAsync<UnstakeRequestedEvent>(second));
        Assert.Equal((5, 15), ((int)secondEvent.Amount, (int)secondEvent.Pending));
        Assert.Equal((secondAt + UnstakeDelay).ToUnixTimeSeconds(), (long)secondEvent.AvailableAt);
        Assert.True(firstEvent.AvailableAt < secondEvent.AvailableAt);

        // 35 from the stake and 10 from the pending withdrawal.
        Assert.Equal(45, Assert.Single(await _chain.EventsAsync<SlashedEvent>(slashed)).Amount);
        PendingWithdrawalSlashedEvent fromPending = Assert.Single(await _chain.EventsAsync<PendingWithdrawalSlashedEvent>(slashed));
        Assert.Equal(LedgerIds.JobId(job), fromPending.JobId);
        Assert.Equal(setup.Provider1.Address, fromPending.Provider, ignoreCase: true);
        Assert.Equal(10, fromPending.Amount);

        StakeWithdrawnEvent withdrawnEvent = Assert.Single(await _chain.EventsAsync<StakeWithdrawnEvent>(withdrawn));
        Assert.Equal(setup.Provider1.Address, withdrawnEvent.Provider, ignoreCase: true);
        Assert.Equal(5, withdrawnEvent.Amount);
    }

    [Fact]
    public async Task Locking_without_an_allowance_is_refused_and_locks_nothing()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();
        using EvmLedger client = await _chain.ConnectAsync(1, contracts);
        await EvmDeployment.MintAsync(_chain.Web3For(0), contracts.TokenAddress, client.Address, 500);
        var job = Guid.NewGuid();

        // LockAsync approves first; send the bare lock as a client that forgot to.
        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => client.SendTransactionAsync(
            contracts.EscrowAddress, new LockFunction { JobId = LedgerIds.JobId(job), Amount = 100 }, "Locking", CancellationToken.None));

        Assert.Equal("InsufficientAllowance", refused.Reason);
        Assert.Contains("allowance=0", refused.Message, StringComparison.Ordinal);
        Assert.Null(await client.GetEscrowAsync(client.Address, job));
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
            () => client.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Client.Address, 100)]));
        LedgerException refund = await Assert.ThrowsAsync<LedgerException>(() => client.RefundAsync(setup.Client.Address, job));
        LedgerException assign = await Assert.ThrowsAsync<LedgerException>(() => client.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]));

        Assert.Equal("NotVerifier", release.Reason);
        Assert.Equal("NotVerifier", refund.Reason);
        Assert.Equal("NotVerifier", assign.Reason);
        Assert.Equal(new EscrowState(setup.Client.Address, 100, 0, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job)));
    }
}
