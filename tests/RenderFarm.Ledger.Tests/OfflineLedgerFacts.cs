using System.Numerics;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger.Tests;

public sealed class OfflineLedgerFacts : LedgerContract
{
    private const string Client = "0x1111111111111111111111111111111111111111";
    private const string Provider1 = "0x2222222222222222222222222222222222222222";
    private const string Provider2 = "0x3333333333333333333333333333333333333333";

    protected override async Task<LedgerSetup> CreateAsync()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-ledger-").FullName;
        var ledger = new OfflineLedger(Path.Combine(folder, "ledger.json"));
        await ledger.MintAsync(Client, ClientFunds);
        await ledger.MintAsync(Provider1, ProviderFunds);
        await ledger.MintAsync(Provider2, ProviderFunds);
        return new LedgerSetup(ledger, ledger.Account(Client), ledger.Account(Provider1), ledger.Account(Provider2), () =>
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
                await ledger.ReleaseAsync(job, "batch-1", [new Payout(Provider2, 200)]);
                await ledger.SlashAsync(job, Provider1, 25);
            }

            using var reopened = new OfflineLedger(path);

            Assert.Equal(new EscrowState(Client, 500, 25, 200, 0, Open: true), await reopened.GetEscrowAsync(job));
            Assert.Equal(35, await reopened.GetStakeAsync(Provider1));
            Assert.Equal(200, await reopened.GetBalanceAsync(Provider2));
            Assert.False((await reopened.ReleaseAsync(job, "batch-1", [new Payout(Provider2, 200)])).Changed);
            Assert.False((await reopened.SlashAsync(job, Provider1, 25)).Changed);
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
            () => setup.Ledger.ReleaseAsync(job, $"batch-{i % 40}", [new Payout(setup.Provider1.Address, 10)]))));

        Assert.Equal(40, receipts.Count(receipt => receipt.Changed));
        Assert.Equal(80, receipts.Select(receipt => receipt.TransactionId).Distinct().Count());
        Assert.Equal(ProviderFunds + 400, await setup.Ledger.GetBalanceAsync(setup.Provider1.Address));
        Assert.Equal(new BigInteger(400), (await setup.Ledger.GetEscrowAsync(job))!.Released);
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
}
