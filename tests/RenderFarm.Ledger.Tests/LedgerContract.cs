using System.Numerics;
using RenderFarm.Core.Ledger;
using static RenderFarm.Ledger.Tests.LedgerTerms;

namespace RenderFarm.Ledger.Tests;

/// <summary>
/// The rules every <see cref="ILedger"/> follows; one subclass per implementation. Each test gets a fresh ledger
/// opened with <see cref="LedgerTerms"/>: a funded client and two funded providers.
/// The facts are kept by concern: escrows here, slashing and stake withdrawals in the other parts of this class.
/// </summary>
public abstract partial class LedgerContract
{
    protected abstract Task<LedgerSetup> CreateAsync();

    [Fact]
    public async Task Releasing_a_batch_pays_each_provider_exactly_its_amount()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        Assert.True((await setup.Client.LockAsync(job, 600)).Changed);

        LedgerReceipt receipt = await setup.Ledger.ReleaseAsync(
            setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100), new Payout(setup.Provider2.Address, 50)]);

        Assert.True(receipt.Changed);
        Assert.False(string.IsNullOrEmpty(receipt.TransactionId));
        Assert.Equal(ProviderFunds + 100, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds + 50, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
        Assert.Equal(ClientFunds - 600, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        EscrowState escrow = Assert.IsType<EscrowState>(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job));
        Assert.Equal(new EscrowState(setup.Client.Address, 600, 0, 150, 0, Open: true, default), Undated(escrow));
        Assert.Equal(450, escrow.Remaining);
    }

    [Fact]
    public async Task Releasing_a_settled_batch_again_pays_nothing_and_does_not_throw()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 600);
        await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);

        LedgerReceipt again = await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);
        LedgerReceipt altered = await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider2.Address, 300)]);

        Assert.False(again.Changed);
        Assert.False(altered.Changed);
        Assert.Equal(ProviderFunds + 100, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
        Assert.Equal(100, (await setup.Ledger.GetEscrowAsync(setup.Client.Address, job))!.Released);

        // Batch ids are per job: another job's batch of the same name is its own.
        var other = Guid.NewGuid();
        await setup.Client.LockAsync(other, 200);
        Assert.True((await setup.Ledger.ReleaseAsync(setup.Client.Address, other, "batch-1", [new Payout(setup.Provider2.Address, 20)])).Changed);
    }

    [Fact]
    public async Task Releasing_more_than_the_escrow_holds_is_refused_and_moves_nothing()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 100);

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.ReleaseAsync(
            setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 60), new Payout(setup.Provider2.Address, 50)]));

        Assert.Equal("ExceedsEscrow", refused.Reason);
        Assert.Contains("remaining=100", refused.Message, StringComparison.Ordinal);
        Assert.Contains("requested=110", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
        Assert.Equal(new EscrowState(setup.Client.Address, 100, 0, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job)));

        // A refused batch is not settled: the corrected batch pays.
        Assert.True((await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 60)])).Changed);
        Assert.Equal(ProviderFunds + 60, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
    }

    [Fact]
    public async Task Releasing_from_a_job_without_escrow_or_an_empty_batch_is_refused()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();

        LedgerException none = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 1)]));
        await setup.Client.LockAsync(job, 100);
        LedgerException empty = await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", []));
        LedgerException zero = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 0)]));

        Assert.Equal("NoEscrow", none.Reason);
        Assert.Equal("EmptyBatch", empty.Reason);
        Assert.Equal("ZeroAmount", zero.Reason);
        Assert.Equal(BigInteger.Zero, (await setup.Ledger.GetEscrowAsync(setup.Client.Address, job))!.Released);
    }

    [Fact]
    public async Task Refund_returns_exactly_the_remainder_once_and_closes_the_escrow()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 500);
        await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 120)]);

        LedgerReceipt refund = await setup.Ledger.RefundAsync(setup.Client.Address, job);
        LedgerReceipt again = await setup.Ledger.RefundAsync(setup.Client.Address, job);

        Assert.True(refund.Changed);
        Assert.False(again.Changed);
        Assert.Equal(ClientFunds - 120, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        EscrowState escrow = (await setup.Ledger.GetEscrowAsync(setup.Client.Address, job))!;
        Assert.Equal(new EscrowState(setup.Client.Address, 500, 0, 120, 380, Open: false, default), Undated(escrow));
        Assert.Equal(BigInteger.Zero, escrow.Remaining);

        LedgerException closed = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-2", [new Payout(setup.Provider1.Address, 1)]));
        Assert.Equal("EscrowClosed", closed.Reason);
        Assert.False((await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 120)])).Changed);
        Assert.Equal("NoEscrow", (await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.RefundAsync(setup.Client.Address, Guid.NewGuid()))).Reason);
    }

    // Guards the audit's finding that anyone could lock 1 wei on a public job id first and the client's own lock then failed forever.
    [Fact]
    public async Task Another_address_locking_the_job_id_first_does_not_block_the_client()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider2.LockAsync(job, 1);

        Assert.True((await setup.Client.LockAsync(job, 400)).Changed);

        Assert.Equal(new EscrowState(setup.Client.Address, 400, 0, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job)));
        Assert.Equal(new EscrowState(setup.Provider2.Address, 1, 0, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Provider2.Address, job)));
        await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);
        Assert.Equal(ProviderFunds + 100, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(1, (await setup.Ledger.GetEscrowAsync(setup.Provider2.Address, job))!.Remaining);
        Assert.Null(await setup.Ledger.GetEscrowAsync(setup.Provider1.Address, job));
    }

    // Guards the audit's finding that a locked budget had no deadline: a client whose coordinator vanished lost it.
    [Fact]
    public async Task The_client_reclaims_an_open_escrow_after_its_deadline_and_not_before()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 500);
        DateTimeOffset lockedAt = await setup.Clock.NowAsync();
        await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 120)]);
        EscrowState escrow = (await setup.Ledger.GetEscrowAsync(setup.Client.Address, job))!;
        Assert.Equal(lockedAt + ReclaimDelay, escrow.ReclaimableAt);

        await setup.Clock.AdvanceAsync(ReclaimDelay / 2);
        LedgerException early = await Assert.ThrowsAsync<LedgerException>(() => setup.Client.ReclaimAsync(job));
        Assert.Equal("ReclaimNotDue", early.Reason);
        Assert.Contains($"deadlineAt={Iso(escrow.ReclaimableAt)}", early.Message, StringComparison.Ordinal);
        Assert.Equal("NoEscrow", (await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.ReclaimAsync(job))).Reason);

        await setup.Clock.AdvanceAsync(ReclaimDelay);
        Assert.True((await setup.Client.ReclaimAsync(job)).Changed);

        Assert.Equal(ClientFunds - 120, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        Assert.Equal(new EscrowState(setup.Client.Address, 500, 0, 120, 380, Open: false, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job)));
        Assert.Equal("EscrowClosed", (await Assert.ThrowsAsync<LedgerException>(() => setup.Client.ReclaimAsync(job))).Reason);
        Assert.Equal("EscrowClosed", (await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-2", [new Payout(setup.Provider1.Address, 1)]))).Reason);
        Assert.False((await setup.Ledger.RefundAsync(setup.Client.Address, job)).Changed);
    }

    [Fact]
    public async Task Locking_more_than_the_balance_is_refused_and_locks_nothing()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => setup.Client.LockAsync(job, ClientFunds + 1));

        Assert.Equal("InsufficientBalance", refused.Reason);
        Assert.Null(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job));
        Assert.Equal(ClientFunds, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        Assert.Equal("InsufficientBalance", (await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.StakeAsync(ProviderFunds + 1))).Reason);
        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
    }

    [Fact]
    public async Task A_job_has_one_escrow_and_a_zero_lock_is_refused()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 100);

        LedgerException twice = await Assert.ThrowsAsync<LedgerException>(() => setup.Client.LockAsync(job, 100));
        LedgerException zero = await Assert.ThrowsAsync<LedgerException>(() => setup.Client.LockAsync(Guid.NewGuid(), 0));

        Assert.Equal("EscrowExists", twice.Reason);
        Assert.Contains($"client={setup.Client.Address}", twice.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("ZeroAmount", zero.Reason);
        Assert.Equal(ClientFunds - 100, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
    }

    [Fact]
    public async Task Addresses_are_accepted_in_any_letter_case_and_malformed_ones_rejected()
    {
        await using LedgerSetup setup = await CreateAsync();

        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address.ToLowerInvariant()));
        await Assert.ThrowsAsync<ArgumentException>(() => setup.Ledger.GetBalanceAsync("0x1234"));
    }
}
