using System.Numerics;
using Microsoft.Extensions.Time.Testing;
using RenderFarm.Core.Ledger;
using static RenderFarm.Ledger.Tests.LedgerTerms;

namespace RenderFarm.Ledger.Tests;

public sealed class OfflineLedgerFacts : LedgerContract
{
    private const string Client = "0x1111111111111111111111111111111111111111";
    private const string Provider1 = "0x2222222222222222222222222222222222222222";
    private const string Provider2 = "0x3333333333333333333333333333333333333333";
    private const string Treasury = "0x4444444444444444444444444444444444444444";

    protected override async Task<LedgerSetup> CreateAsync()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-ledger-").FullName;
        var time = new FakeTimeProvider();
        var ledger = new OfflineLedger(Path.Combine(folder, "ledger.json"), Terms(Treasury), time);
        await ledger.MintAsync(Client, ClientFunds);
        await ledger.MintAsync(Provider1, ProviderFunds);
        await ledger.MintAsync(Provider2, ProviderFunds);
        return new LedgerSetup(ledger, ledger.Account(Client), ledger.Account(Provider1), ledger.Account(Provider2), Treasury, new FakeClock(time), () =>
        {
            ledger.Dispose();
            Directory.Delete(folder, recursive: true);
            return ValueTask.CompletedTask;
        });
    }

    [Fact]
    public async Task The_ledger_file_keeps_everything_across_reopening()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-ledger-").FullName;
        try
        {
            string path = Path.Combine(folder, "ledger.json");
            var job = Guid.NewGuid();
            using (var ledger = new OfflineLedger(path))
            {
                await ledger.MintAsync(Client, 1_000);
                await ledger.MintAsync(Provider1, 100);
                await ledger.Account(Provider1).StakeAsync(60);
                await ledger.Account(Client).LockAsync(job, 500);
                await ledger.ReleaseAsync(Client, job, "batch-1", [new Payout(Provider2, 200)]);
                await ledger.AssignAsync(Client, job, [Provider1]);
                await ledger.SlashAsync(Client, job, Provider1, 25);
            }

            using var reopened = new OfflineLedger(path);

            EscrowState escrow = (await reopened.GetEscrowAsync(Client, job))!;
            Assert.Equal(new EscrowState(Client, 500, 25, 200, 0, Open: true, escrow.ReclaimableAt), escrow);
            Assert.Equal(35, await reopened.GetStakeAsync(Provider1));
            Assert.Equal(200, await reopened.GetBalanceAsync(Provider2));
            Assert.Equal(25, await reopened.GetBalanceAsync(EscrowTerms.OfflineTreasury));
            Assert.False((await reopened.ReleaseAsync(Client, job, "batch-1", [new Payout(Provider2, 200)])).Changed);
            SlashReceipt again = await reopened.SlashAsync(Client, job, Provider1, 25);
            Assert.False(again.Changed);
            Assert.Equal(25, again.Slashed);
            Assert.Equal(["ledger.json"], Directory.EnumerateFiles(folder).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Concurrent_batches_are_each_paid_exactly_once()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 1_000);

        // 40 batches of 10, each sent twice at the same time.
        LedgerReceipt[] receipts = await Task.WhenAll(Enumerable.Range(0, 80).Select(i => Task.Run(
            () => setup.Ledger.ReleaseAsync(setup.Client.Address, job, $"batch-{i % 40}", [new Payout(setup.Provider1.Address, 10)]))));

        Assert.Equal(40, receipts.Count(receipt => receipt.Changed));
        Assert.Equal(80, receipts.Select(receipt => receipt.TransactionId).Distinct().Count());
        Assert.Equal(ProviderFunds + 400, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(new BigInteger(400), (await setup.Ledger.GetEscrowAsync(setup.Client.Address, job))!.Released);
    }

    [Fact]
    public async Task A_withdrawal_is_payable_exactly_at_its_due_time()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-ledger-").FullName;
        try
        {
            var time = new FakeTimeProvider();
            using var ledger = new OfflineLedger(Path.Combine(folder, "ledger.json"), Terms(Treasury), time);
            await ledger.MintAsync(Provider1, 100);
            ILedgerAccount provider = ledger.Account(Provider1);
            await provider.StakeAsync(60);
            await provider.UnstakeAsync(60);

            time.Advance(UnstakeDelay - TimeSpan.FromTicks(1));
            Assert.Equal("WithdrawalNotDue", (await Assert.ThrowsAsync<LedgerException>(() => provider.WithdrawStakeAsync())).Reason);
            time.Advance(TimeSpan.FromTicks(1));
            await provider.WithdrawStakeAsync();

            Assert.Equal(100, await ledger.GetBalanceAsync(Provider1));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_pending_withdrawal_survives_reopening_and_the_default_delay_is_seven_days()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-ledger-").FullName;
        try
        {
            string path = Path.Combine(folder, "ledger.json");
            var time = new FakeTimeProvider();
            using (var ledger = new OfflineLedger(path, timeProvider: time))
            {
                Assert.Equal(TimeSpan.FromDays(7), ledger.UnstakeDelay);
                await ledger.MintAsync(Provider1, 100);
                await ledger.Account(Provider1).StakeAsync(60);
                await ledger.Account(Provider1).UnstakeAsync(25);
            }

            using var reopened = new OfflineLedger(path, timeProvider: time);

            Assert.Equal(new PendingWithdrawal(25, time.GetUtcNow() + TimeSpan.FromDays(7)), await reopened.GetPendingWithdrawalAsync(Provider1));
            time.Advance(TimeSpan.FromDays(7));
            await reopened.Account(Provider1).WithdrawStakeAsync();
            Assert.Equal(65, await reopened.GetBalanceAsync(Provider1));
            Assert.Equal(35, await reopened.GetStakeAsync(Provider1));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_ledger_file_from_before_withdrawal_delays_loads_with_nothing_pending()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-ledger-").FullName;
        try
        {
            // The format as written before withdrawals waited: no "withdrawals".
            string path = Path.Combine(folder, "ledger.json");
            await File.WriteAllTextAsync(path, $$"""
                {
                  "sequence": 3,
                  "balances": { "{{Provider1}}": "40" },
                  "stakes": { "{{Provider1}}": "60" },
                  "escrows": {}
                }
                """);
            var time = new FakeTimeProvider();
            using var ledger = new OfflineLedger(path, Terms(Treasury), time);

            Assert.Null(await ledger.GetPendingWithdrawalAsync(Provider1));
            Assert.Equal(60, await ledger.GetStakeAsync(Provider1));
            Assert.Equal("offline:4", (await ledger.Account(Provider1).UnstakeAsync(60)).TransactionId);
            time.Advance(UnstakeDelay);
            await ledger.Account(Provider1).WithdrawStakeAsync();
            Assert.Equal(100, await ledger.GetBalanceAsync(Provider1));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Guards the audit's finding that the unstake delay could be 0, so a cheat withdrew before any slash.
    [Theory]
    [InlineData(0, 3600)]
    [InlineData(3599, 3600)]
    [InlineData(3600, 0)]
    public void An_unstake_or_reclaim_delay_under_an_hour_is_refused(int unstakeSeconds, int reclaimSeconds)
    {
        string path = Path.Combine(Path.GetTempPath(), "never-written.json");
        EscrowTerms terms = Terms(Treasury) with { UnstakeDelay = TimeSpan.FromSeconds(unstakeSeconds), ReclaimDelay = TimeSpan.FromSeconds(reclaimSeconds) };

        Assert.Throws<ArgumentOutOfRangeException>(() => new OfflineLedger(path, terms));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OfflineLedger(path, Terms(Treasury) with { MaxSlashPerJob = 0 }));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task A_ledger_file_with_escrows_keyed_by_job_alone_keys_them_by_their_client()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-ledger-").FullName;
        try
        {
            // The format as written when escrows were keyed by job: the key is the job id, the client inside.
            string path = Path.Combine(folder, "ledger.json");
            var job = Guid.NewGuid();
            await File.WriteAllTextAsync(path, $$"""
                {
                  "sequence": 2,
                  "balances": { "{{Client}}": "600" },
                  "stakes": {},
                  "escrows": { "{{job}}": { "client": "{{Client}}", "open": true, "locked": "400", "slashed": "0", "released": "0", "refunded": "0", "batches": [], "slashedProviders": [] } }
                }
                """);
            using var ledger = new OfflineLedger(path, Terms(Treasury), new FakeTimeProvider());

            Assert.Equal(400, (await ledger.GetEscrowAsync(Client, job))!.Locked);
            Assert.True((await ledger.RefundAsync(Client, job)).Changed);
            Assert.Equal(1_000, await ledger.GetBalanceAsync(Client));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_ledger_is_refused_with_its_path()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "not json");

            LedgerException refused = Assert.Throws<LedgerException>(() => new OfflineLedger(path));

            Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class FakeClock(FakeTimeProvider time) : ILedgerClock
    {
        public Task<DateTimeOffset> NowAsync() => Task.FromResult(time.GetUtcNow());

        public Task AdvanceAsync(TimeSpan elapsed)
        {
            time.Advance(elapsed);
            return Task.CompletedTask;
        }
    }
}
