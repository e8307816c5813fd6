using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger.Tests;

/// <summary>A fresh ledger with a funded client and two funded providers.</summary>
public sealed class LedgerSetup(ILedger ledger, ILedgerAccount client, ILedgerAccount provider1, ILedgerAccount provider2, Func<ValueTask> dispose)
    : IAsyncDisposable
{
    public ILedger Ledger { get; } = ledger;

    public ILedgerAccount Client { get; } = client;

    public ILedgerAccount Provider1 { get; } = provider1;

    public ILedgerAccount Provider2 { get; } = provider2;

    public ValueTask DisposeAsync() => dispose();
}

/// <summary>
/// The rules every <see cref="ILedger"/> follows; one subclass per implementation. Each test gets a
/// fresh ledger where the client holds <see cref="ClientFunds"/> and each provider
/// <see cref="ProviderFunds"/> token base units.
/// </summary>
public abstract class LedgerContract
{
    protected static readonly BigInteger ClientFunds = 1_000;
    protected static readonly BigInteger ProviderFunds = 100;

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
    public async Task Staking_and_unstaking_move_tokens_between_balance_and_stake()
    {
        await using LedgerSetup setup = await CreateAsync();

        await setup.Provider1.StakeAsync(70);
        await setup.Provider1.UnstakeAsync(20);
        LedgerException tooMuch = await Assert.ThrowsAsync<LedgerException>(() => setup.Provider1.UnstakeAsync(51));

        Assert.Equal("ExceedsStake", tooMuch.Reason);
        Assert.Equal(50, await setup.Ledger.GetStakeAsync(setup.Provider1.Address));
        Assert.Equal(ProviderFunds - 50, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
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
}
