using System.Globalization;
using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger.Tests;

/// <summary>The ledger's clock as a test drives it: a fake clock offline, the chain's block time on a node.</summary>
public interface ILedgerClock
{
    /// <summary>The time the ledger's latest write saw (on a chain: the latest block's timestamp).</summary>
    Task<DateTimeOffset> NowAsync();

    /// <summary>Moves the ledger's time forward by <paramref name="time"/>.</summary>
    Task AdvanceAsync(TimeSpan time);
}

/// <summary>A fresh ledger with a funded client and two funded providers; slashed stake goes to <see cref="Treasury"/>.</summary>
public sealed class LedgerSetup(
    ILedger ledger, ILedgerAccount client, ILedgerAccount provider1, ILedgerAccount provider2, string treasury, ILedgerClock clock, Func<ValueTask> dispose)
    : IAsyncDisposable
{
    public ILedger Ledger { get; } = ledger;

    public string Treasury { get; } = treasury;

    public ILedgerAccount Client { get; } = client;

    public ILedgerAccount Provider1 { get; } = provider1;

    public ILedgerAccount Provider2 { get; } = provider2;

    public ILedgerClock Clock { get; } = clock;

    public ValueTask DisposeAsync() => dispose();
}

/// <summary>
/// The rules every <see cref="ILedger"/> follows; one subclass per implementation. Each test gets a
/// fresh ledger where the client holds <see cref="ClientFunds"/> and each provider
/// <see cref="ProviderFunds"/> token base units, withdrawals wait <see cref="UnstakeDelay"/>, escrows can be
/// reclaimed <see cref="ReclaimDelay"/> after locking and a provider loses at most <see cref="MaxSlashPerJob"/> per job.
/// </summary>
public abstract class LedgerContract
{
    protected static readonly BigInteger ClientFunds = 1_000;
    protected static readonly BigInteger ProviderFunds = 100;
    protected static readonly BigInteger MaxSlashPerJob = 60;
    protected static readonly TimeSpan UnstakeDelay = TimeSpan.FromHours(1);
    protected static readonly TimeSpan ReclaimDelay = TimeSpan.FromHours(2);

    /// <summary>The terms both ledgers are opened or deployed with.</summary>
    protected static EscrowTerms Terms(string treasury) =>
        new() { Treasury = treasury, UnstakeDelay = UnstakeDelay, ReclaimDelay = ReclaimDelay, MaxSlashPerJob = MaxSlashPerJob };

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
    public async Task Requesting_a_withdrawal_moves_stake_into_a_pending_withdrawal_payable_after_the_delay()
    {
        await using LedgerSetup setup = await CreateAsync();

        await setup.Provider1.StakeAsync(70);
        Assert.Null(await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
        Assert.True((await setup.Provider1.UnstakeAsync(20)).Changed);
        DateTimeOffset requestedAt = await setup.Clock.NowAsync();
        LedgerException tooMuch = await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.UnstakeAsync(51));
        LedgerException zero = await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.UnstakeAsync(0));

        Assert.Equal("ExceedsStake", tooMuch.Reason);
        Assert.Equal("ZeroAmount", zero.Reason);
        Assert.Equal(50, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(new PendingWithdrawal(20, requestedAt + UnstakeDelay), await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));

        // Nothing is paid yet: the balance is what staking left.
        Assert.Equal(ProviderFunds - 70, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Null(await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider2.Address));
    }

    [Fact]
    public async Task Withdrawing_before_the_delay_is_refused_with_the_due_time_and_moves_nothing()
    {
        await using LedgerSetup setup = await CreateAsync();
        await setup.Provider1.StakeAsync(70);
        await setup.Provider1.UnstakeAsync(20);
        PendingWithdrawal pending = (await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address))!;
        await setup.Clock.AdvanceAsync(UnstakeDelay / 2);

        LedgerException early = await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.WithdrawStakeAsync());
        LedgerException none = await Assert.ThrowsAsync<LedgerException>(() => setup.Provider2.WithdrawStakeAsync());

        Assert.Equal("WithdrawalNotDue", early.Reason);
        Assert.Contains($"availableAt={Iso(pending.AvailableAt)}", early.Message, StringComparison.Ordinal);
        Assert.Equal("NoPendingWithdrawal", none.Reason);
        Assert.Equal(pending, await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
        Assert.Equal(50, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds - 70, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
    }

    [Fact]
    public async Task Withdrawing_after_the_delay_pays_exactly_the_pending_amount_once()
    {
        await using LedgerSetup setup = await CreateAsync();
        await setup.Provider1.StakeAsync(70);
        await setup.Provider1.UnstakeAsync(20);
        await setup.Clock.AdvanceAsync(UnstakeDelay);

        LedgerReceipt withdrawn = await setup.Provider1.WithdrawStakeAsync();
        LedgerException again = await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.WithdrawStakeAsync());

        Assert.True(withdrawn.Changed);
        Assert.Equal("NoPendingWithdrawal", again.Reason);
        Assert.Equal(ProviderFunds - 50, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(50, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Null(await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
    }

    [Fact]
    public async Task A_new_request_adds_to_the_pending_amount_and_restarts_the_wait_for_all_of_it()
    {
        await using LedgerSetup setup = await CreateAsync();
        await setup.Provider1.StakeAsync(70);
        await setup.Provider1.UnstakeAsync(20);
        await setup.Clock.AdvanceAsync(UnstakeDelay / 2);

        await setup.Provider1.UnstakeAsync(10);
        DateTimeOffset requestedAt = await setup.Clock.NowAsync();

        Assert.Equal(new PendingWithdrawal(30, requestedAt + UnstakeDelay), await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));

        // Past the first request's due time, not the second's: nothing is payable, not even the first 20.
        await setup.Clock.AdvanceAsync(UnstakeDelay * 3 / 4);
        Assert.Equal("WithdrawalNotDue", (await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.WithdrawStakeAsync())).Reason);
        Assert.Equal(ProviderFunds - 70, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));

        await setup.Clock.AdvanceAsync(UnstakeDelay / 2);
        await setup.Provider1.WithdrawStakeAsync();
        Assert.Equal(ProviderFunds - 40, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(40, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
    }

    [Fact]
    public async Task Slashing_takes_from_the_stake_first_and_then_from_the_pending_withdrawal()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        var other = Guid.NewGuid();
        await setup.Provider1.StakeAsync(50);
        await setup.Provider1.UnstakeAsync(40);
        PendingWithdrawal requested = (await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address))!;
        await setup.Client.LockAsync(job, 300);
        await setup.Client.LockAsync(other, 300);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);
        await setup.Ledger.AssignAsync(setup.Client.Address, other, [setup.Provider1.Address]);

        Assert.True((await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 30)).Changed);

        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(requested with { Amount = 20 }, await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
        Assert.Equal(new EscrowState(setup.Client.Address, 300, 30, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job)));

        // What is slashable is the stake and the pending withdrawal together: asking for more takes all of it.
        SlashReceipt rest = await setup.Ledger.SlashAsync(setup.Client.Address, other, setup.Provider1.Address, 21);
        Assert.Equal(20, rest.Slashed);
        Assert.Null(await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
        Assert.Equal(20, (await setup.Ledger.GetEscrowAsync(setup.Client.Address, other))!.Slashed);

        // Nothing is left to withdraw once the delay is over.
        await setup.Clock.AdvanceAsync(UnstakeDelay);
        Assert.Equal("NoPendingWithdrawal", (await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.WithdrawStakeAsync())).Reason);
        Assert.Equal(ProviderFunds - 50, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
    }

    [Fact]
    public async Task Slashing_within_the_stake_leaves_the_pending_withdrawal_alone()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(50);
        await setup.Provider1.UnstakeAsync(10);
        PendingWithdrawal requested = (await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address))!;
        await setup.Client.LockAsync(job, 300);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);

        await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 40);

        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(requested, await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
        await setup.Clock.AdvanceAsync(UnstakeDelay);
        await setup.Provider1.WithdrawStakeAsync();
        Assert.Equal(ProviderFunds - 50 + 10, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
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

    /// <summary>The escrow without its deadline, to compare with an expected one whose deadline is <see langword="default"/>.</summary>
    protected static EscrowState? Undated(EscrowState? escrow) => escrow is null ? null : escrow with { ReclaimableAt = default };

    /// <summary>How ledger messages name a time: ISO 8601 in UTC, to the second.</summary>
    protected static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
