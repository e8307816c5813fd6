using System.Numerics;
using RenderFarm.Core.Ledger;
using static RenderFarm.Ledger.Tests.LedgerTerms;

namespace RenderFarm.Ledger.Tests;

// Slashing: stake goes to the treasury, once, within the job's budget and the per-job cap, and only from providers recorded on the job.
public abstract partial class LedgerContract
{
    // Guards the audit's finding that slashed stake went to the client, which rewards a client colluding in a 2-of-3 vote.
    [Fact]
    public async Task Slashing_sends_the_stake_to_the_treasury_once_and_never_to_the_client()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(80);
        await setup.Client.LockAsync(job, 300);
        Assert.True((await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address])).Changed);

        SlashReceipt slash = await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 30);
        SlashReceipt again = await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 30);

        Assert.True(slash.Changed);
        Assert.Equal(30, slash.Slashed);
        Assert.False(again.Changed);
        Assert.Equal(30, again.Slashed);
        Assert.Equal(50, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(30, await setup.Ledger.GetBalanceAsync(setup.Treasury));
        Assert.Equal(new EscrowState(setup.Client.Address, 300, 30, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job)));

        // The escrow holds only the budget: the redo is paid from it and the refund is exactly the unused budget.
        await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "redo", [new Payout(setup.Provider2.Address, 100)]);
        LedgerException beyond = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(setup.Client.Address, job, "more", [new Payout(setup.Provider2.Address, 201)]));
        Assert.Equal("ExceedsEscrow", beyond.Reason);
        await setup.Ledger.RefundAsync(setup.Client.Address, job);
        Assert.Equal(ClientFunds - 100, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        Assert.Equal(30, await setup.Ledger.GetBalanceAsync(setup.Treasury));
    }

    [Fact]
    public async Task A_provider_recorded_before_the_refund_can_still_be_slashed_after_it_and_no_one_can_be_added()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(40);
        await setup.Provider2.StakeAsync(40);
        await setup.Client.LockAsync(job, 100);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);
        await setup.Ledger.RefundAsync(setup.Client.Address, job);

        // Recording the same provider again is harmless (a retried settlement); a new one needs an open escrow.
        Assert.False((await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address])).Changed);
        LedgerException closed = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider2.Address]));
        Assert.Equal("EscrowClosed", closed.Reason);
        Assert.True((await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 40)).Changed);

        Assert.Equal(ClientFunds, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        Assert.Equal(40, await setup.Ledger.GetBalanceAsync(setup.Treasury));
        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(40, await setup.Ledger.GetStakeAsync(setup.Provider2.Address));
    }

    // Guards the audit's finding that the verifier could slash any provider, whatever job it worked on.
    [Fact]
    public async Task Only_a_provider_recorded_on_the_job_can_be_slashed_for_it()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(50);
        await setup.Client.LockAsync(job, 300);

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 50));

        Assert.Equal("NotAssigned", refused.Reason);
        Assert.Equal(50, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetBalanceAsync(setup.Treasury));

        // Recorded on another client's job does not count for this one.
        var other = Guid.NewGuid();
        await setup.Provider2.LockAsync(other, 50);
        await setup.Ledger.AssignAsync(setup.Provider2.Address, other, [setup.Provider1.Address]);
        Assert.Equal("NotAssigned", (await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 50))).Reason);
        Assert.Equal("NoEscrow", (await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.SlashAsync(setup.Client.Address, Guid.NewGuid(), setup.Provider1.Address, 50))).Reason);
    }

    // Guards the audit's finding that a 1-wei job let the verifier slash a provider's whole stake.
    [Fact]
    public async Task A_slash_takes_at_most_the_jobs_budget_and_the_per_job_cap()
    {
        await using LedgerSetup setup = await CreateAsync();
        var tiny = Guid.NewGuid();
        var large = Guid.NewGuid();
        await setup.Provider1.StakeAsync(100);
        await setup.Client.LockAsync(tiny, 1);
        await setup.Client.LockAsync(large, 500);
        await setup.Ledger.AssignAsync(setup.Client.Address, tiny, [setup.Provider1.Address]);
        await setup.Ledger.AssignAsync(setup.Client.Address, large, [setup.Provider1.Address]);

        SlashReceipt onTiny = await setup.Ledger.SlashAsync(setup.Client.Address, tiny, setup.Provider1.Address, 100);
        SlashReceipt onLarge = await setup.Ledger.SlashAsync(setup.Client.Address, large, setup.Provider1.Address, 100);

        Assert.Equal(BigInteger.One, onTiny.Slashed);
        Assert.Equal(MaxSlashPerJob, onLarge.Slashed);
        Assert.Equal(100 - 1 - MaxSlashPerJob, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(1 + MaxSlashPerJob, await setup.Ledger.GetBalanceAsync(setup.Treasury));
        Assert.Equal(new EscrowState(setup.Client.Address, 1, 1, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, tiny)));
    }

    // Guards the audit's finding that a slash asking for more than is left reverted, so a cheat escaped by withdrawing first.
    [Fact]
    public async Task A_slash_for_more_than_is_left_takes_what_is_left()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(50);
        await setup.Provider1.UnstakeAsync(30);
        await setup.Clock.AdvanceAsync(UnstakeDelay);
        await setup.Client.LockAsync(job, 300);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);

        // The verifier read 50 slashable; the cheat withdraws its due 30 before the slash lands.
        await setup.Provider1.WithdrawStakeAsync();
        SlashReceipt slash = await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 50);

        Assert.True(slash.Changed);
        Assert.Equal(20, slash.Slashed);
        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(20, await setup.Ledger.GetBalanceAsync(setup.Treasury));

        // A provider with nothing left is not slashed, and a later slash can still take what it stakes again.
        var other = Guid.NewGuid();
        await setup.Client.LockAsync(other, 300);
        await setup.Ledger.AssignAsync(setup.Client.Address, other, [setup.Provider2.Address]);
        SlashReceipt nothing = await setup.Ledger.SlashAsync(setup.Client.Address, other, setup.Provider2.Address, 10);
        Assert.Equal((false, BigInteger.Zero), (nothing.Changed, nothing.Slashed));
        await setup.Provider2.StakeAsync(10);
        Assert.Equal(10, (await setup.Ledger.SlashAsync(setup.Client.Address, other, setup.Provider2.Address, 10)).Slashed);
    }
}
