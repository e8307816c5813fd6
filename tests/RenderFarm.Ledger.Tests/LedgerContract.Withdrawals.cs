using System.Numerics;
using RenderFarm.Core.Ledger;
using static RenderFarm.Ledger.Tests.LedgerTerms;

namespace RenderFarm.Ledger.Tests;

// Stake withdrawals: requested, payable after the delay, and still slashable while pending.
public abstract partial class LedgerContract
{
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
}
