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

/// <summary>A fresh ledger with a funded client and two funded providers.</summary>
public sealed class LedgerSetup(
    ILedger ledger, ILedgerAccount client, ILedgerAccount provider1, ILedgerAccount provider2, ILedgerClock clock, Func<ValueTask> dispose)
    : IAsyncDisposable
{
    public ILedger Ledger { get; } = ledger;

    public ILedgerAccount Client { get; } = client;

    public ILedgerAccount Provider1 { get; } = provider1;

    public ILedgerAccount Provider2 { get; } = provider2;

    public ILedgerClock Clock { get; } = clock;

    public ValueTask DisposeAsync() => dispose();
}

/// <summary>
/// The rules every <see cref="ILedger"/> follows; one subclass per implementation. Each test gets a
/// fresh ledger where the client holds <see cref="ClientFunds"/> and each provider
/// <see cref="ProviderFunds"/> token base units, and withdrawals wait <see cref="UnstakeDelay"/>.
/// </summary>
public abstract class LedgerContract
{
    protected static readonly BigInteger ClientFunds = 1_000;
    protected static readonly BigInteger ProviderFunds = 100;
    protected static readonly TimeSpan UnstakeDelay = TimeSpan.FromHours(1);

    protected abstract Task<LedgerSetup> CreateAsync();

    [Fact]
    public async Task Releasing_a_batch_pays_each_provider_exactly_its_amount()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        Assert.True((await setup.Client.LockAsync(job, 600)).Changed);

        LedgerReceipt receipt = await setup.Ledger.ReleaseAsync(
            job, "batch-1", [new Payout(setup.Provider1.Address, 100), new Payout(setup.Provider2.Address, 50)]);

        Assert.True(receipt.Changed);
        Assert.False(string.IsNullOrEmpty(receipt.TransactionId));
        Assert.Equal(ProviderFunds + 100, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds + 50, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
        Assert.Equal(ClientFunds - 600, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        EscrowState escrow = Assert.IsType<EscrowState>(await setup.Ledger.GetEscrowAsync(job));
        Assert.Equal(new EscrowState(setup.Client.Address, 600, 0, 150, 0, Open: true), escrow);
        Assert.Equal(450, escrow.Remaining);
    }

    [Fact]
    public async Task Releasing_a_settled_batch_again_pays_nothing_and_does_not_throw()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 600);
        await setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);

        LedgerReceipt again = await setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);
        LedgerReceipt altered = await setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider2.Address, 300)]);

        Assert.False(again.Changed);
        Assert.False(altered.Changed);
        Assert.Equal(ProviderFunds + 100, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
        Assert.Equal(100, (await setup.Ledger.GetEscrowAsync(job))!.Released);

        // Batch ids are per job: another job's batch of the same name is its own.
        var other = Guid.NewGuid();
        await setup.Client.LockAsync(other, 200);
        Assert.True((await setup.Ledger.ReleaseAsync(other, "batch-1", [new Payout(setup.Provider2.Address, 20)])).Changed);
    }

    [Fact]
    public async Task Releasing_more_than_the_escrow_holds_is_refused_and_moves_nothing()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 100);

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.ReleaseAsync(
            job, "batch-1", [new Payout(setup.Provider1.Address, 60), new Payout(setup.Provider2.Address, 50)]));

        Assert.Equal("ExceedsEscrow", refused.Reason);
        Assert.Contains("remaining=100", refused.Message, StringComparison.Ordinal);
        Assert.Contains("requested=110", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
        Assert.Equal(new EscrowState(setup.Client.Address, 100, 0, 0, 0, Open: true), await setup.Ledger.GetEscrowAsync(job));

        // A refused batch is not settled: the corrected batch pays.
        Assert.True((await setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 60)])).Changed);
        Assert.Equal(ProviderFunds + 60, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
    }

    [Fact]
    public async Task Releasing_from_a_job_without_escrow_or_an_empty_batch_is_refused()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();

        LedgerException none = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 1)]));
        await setup.Client.LockAsync(job, 100);
        LedgerException empty = await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.ReleaseAsync(job, "batch-1", []));
        LedgerException zero = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 0)]));

        Assert.Equal("NoEscrow", none.Reason);
        Assert.Equal("EmptyBatch", empty.Reason);
        Assert.Equal("ZeroAmount", zero.Reason);
        Assert.Equal(BigInteger.Zero, (await setup.Ledger.GetEscrowAsync(job))!.Released);
    }

    [Fact]
    public async Task Refund_returns_exactly_the_remainder_once_and_closes_the_escrow()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 500);
        await setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 120)]);

        LedgerReceipt refund = await setup.Ledger.RefundAsync(job);
        LedgerReceipt again = await setup.Ledger.RefundAsync(job);

        Assert.True(refund.Changed);
        Assert.False(again.Changed);
        Assert.Equal(ClientFunds - 120, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        EscrowState escrow = (await setup.Ledger.GetEscrowAsync(job))!;
        Assert.Equal(new EscrowState(setup.Client.Address, 500, 0, 120, 380, Open: false), escrow);
        Assert.Equal(BigInteger.Zero, escrow.Remaining);

        LedgerException closed = await Assert.ThrowsAsync<LedgerException>(
            () => setup.Ledger.ReleaseAsync(job, "batch-2", [new Payout(setup.Provider1.Address, 1)]));
        Assert.Equal("EscrowClosed", closed.Reason);
        Assert.False((await setup.Ledger.ReleaseAsync(job, "batch-1", [new Payout(setup.Provider1.Address, 120)])).Changed);
        Assert.Equal("NoEscrow", (await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.RefundAsync(Guid.NewGuid()))).Reason);
    }

    [Fact]
    public async Task Slashing_moves_stake_into_the_escrow_once_and_the_refund_returns_it_to_the_client()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(80);
        await setup.Client.LockAsync(job, 300);

        LedgerReceipt slash = await setup.Ledger.SlashAsync(job, setup.Provider1.Address, 30);
        LedgerReceipt again = await setup.Ledger.SlashAsync(job, setup.Provider1.Address, 30);

        Assert.True(slash.Changed);
        Assert.False(again.Changed);
        Assert.Equal(50, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds - 80, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(new EscrowState(setup.Client.Address, 300, 30, 0, 0, Open: true), await setup.Ledger.GetEscrowAsync(job));

        // The slashed stake can pay the provider who redoes the work; the rest goes back to the client.
        await setup.Ledger.ReleaseAsync(job, "redo", [new Payout(setup.Provider2.Address, 310)]);
        await setup.Ledger.RefundAsync(job);
        Assert.Equal(ClientFunds - 300 + 20, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        Assert.Equal(ProviderFunds + 310, await setup.Ledger.GetBalanceAsync(setup.Provider2.Address));
    }

    [Fact]
    public async Task Slashing_after_the_refund_pays_the_client_directly()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider2.StakeAsync(40);
        await setup.Client.LockAsync(job, 100);
        await setup.Ledger.RefundAsync(job);

        await setup.Ledger.SlashAsync(job, setup.Provider2.Address, 40);

        Assert.Equal(ClientFunds + 40, await setup.Ledger.GetBalanceAsync(setup.Client.Address));
        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetStakeAsync(setup.Provider2.Address));
        Assert.Equal(new EscrowState(setup.Client.Address, 100, 40, 0, 140, Open: false), await setup.Ledger.GetEscrowAsync(job));
    }

    [Fact]
    public async Task Slashing_more_than_the_stake_is_refused_and_moves_nothing()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(10);
        await setup.Client.LockAsync(job, 100);

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.SlashAsync(job, setup.Provider1.Address, 11));

        Assert.Equal("ExceedsStake", refused.Reason);
        Assert.Equal(10, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(BigInteger.Zero, (await setup.Ledger.GetEscrowAsync(job))!.Slashed);

        // Not slashed yet, so a valid slash still applies.
        Assert.True((await setup.Ledger.SlashAsync(job, setup.Provider1.Address, 10)).Changed);
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

        Assert.True((await setup.Ledger.SlashAsync(job, setup.Provider1.Address, 30)).Changed);

        Assert.Equal(BigInteger.Zero, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(requested with { Amount = 20 }, await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
        Assert.Equal(new EscrowState(setup.Client.Address, 300, 30, 0, 0, Open: true), await setup.Ledger.GetEscrowAsync(job));

        // What is slashable is the stake and the pending withdrawal together.
        LedgerException tooMuch = await Assert.ThrowsAsync<LedgerException>(() => setup.Ledger.SlashAsync(other, setup.Provider1.Address, 21));
        Assert.Equal("ExceedsStake", tooMuch.Reason);
        Assert.Contains("staked=20", tooMuch.Message, StringComparison.Ordinal);
        Assert.Equal(requested with { Amount = 20 }, await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));

        Assert.True((await setup.Ledger.SlashAsync(other, setup.Provider1.Address, 20)).Changed);
        Assert.Null(await setup.Ledger.GetPendingWithdrawalAsync(setup.Provider1.Address));
        Assert.Equal(20, (await setup.Ledger.GetEscrowAsync(other))!.Slashed);

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

        await setup.Ledger.SlashAsync(job, setup.Provider1.Address, 40);

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
        Assert.Null(await setup.Ledger.GetEscrowAsync(job));
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

    /// <summary>How ledger messages name a time: ISO 8601 in UTC, to the second.</summary>
    protected static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
