using System.Globalization;
using System.Net;
using System.Numerics;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core.Ledger;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

using static RenderFarm.Coordinator.Tests.CheckFrames;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Spot checks and settlement: verified frames paid, proven cheats slashed.</summary>
public sealed partial class SpotCheckFacts
{
    [Fact]
    public async Task Settlement_pays_verified_frames_slashes_the_cheat_and_refunds_the_rest_once()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        var ledger = (RenderFarm.Ledger.OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        JobSummary job = await farm.SubmitAsync(frames: "1-2");
        TestProvider cheat = await farm.LoginAsync();
        TestProvider first = await farm.LoginAsync();
        TestProvider second = await farm.LoginAsync();
        await LockBudgetAndStakeAsync(farm, job, cheat);

        // Frame 1: the cheat delivers a wrong frame and is caught (2 of 3); first redoes it. Frame 2: second renders it.
        LeaseGrant wrong = await cheat.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, cheat, wrong, seed: 8);
        LeaseGrant honest = await second.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, second, honest, seed: 20 + honest.FirstFrame);
        await ValidateAsync(first, seedOf: f => f == wrong.FirstFrame ? 7 : 20 + f);
        await ValidateAsync(second, seedOf: f => f == wrong.FirstFrame ? 7 : 20 + f);
        LeaseGrant redo = await first.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, first, redo, seed: 7);
        await ValidateAsync(second, seedOf: _ => 7);

        JobDetails done = await WaitForSettlementAsync(farm, job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        JobSettlement settlement = done.Settlement!;
        Assert.Null(settlement.Note);
        BigInteger price = TokenUnits.FromTokens(50);
        Assert.Equal(price.ToString(CultureInfo.InvariantCulture), settlement.PricePerFrame);
        Assert.Equal(
            new[] { first.Address, second.Address }.Select(a => a.ToLowerInvariant()).Order(),
            settlement.Payouts.Select(p => p.Provider.ToLowerInvariant()).Order());
        Assert.All(settlement.Payouts, p => Assert.Equal((1, price.ToString(CultureInfo.InvariantCulture)), (p.Frames, p.Amount)));
        Assert.All(settlement.Payouts, p => Assert.Equal($"{job.Id:N}:{p.Provider.ToLowerInvariant()}", p.BatchId));
        Assert.All(settlement.Payouts, p => Assert.False(string.IsNullOrEmpty(p.TransactionId)));
        ProviderSlash slash = Assert.Single(settlement.Slashes);
        Assert.Equal(cheat.Address, slash.Provider, ignoreCase: true);
        Assert.Equal(TokenUnits.FromTokens(10).ToString(CultureInfo.InvariantCulture), slash.Amount);
        Assert.NotNull(settlement.RefundTransactionId);

        Assert.Equal(price, await ledger.GetBalanceAsync(first.Address));
        Assert.Equal(price, await ledger.GetBalanceAsync(second.Address));
        Assert.Equal(BigInteger.Zero, await ledger.GetBalanceAsync(cheat.Address));
        Assert.Equal(TokenUnits.FromTokens(40), await ledger.GetStakeAsync(cheat.Address));
        // The slashed stake went to the treasury, never to the client, who paid exactly the two verified frames.
        Assert.Equal(TokenUnits.FromTokens(10), await ledger.GetBalanceAsync(ledger.Treasury));
        Assert.Equal(BigInteger.Zero, await ledger.GetBalanceAsync(farm.ClientAddress));

        // A retried settlement pays nothing twice.
        await farm.Host.Services.GetRequiredService<Jobs.SettlementJob>().SettleAsync(job.Id, CancellationToken.None);
        Assert.Equal(price, await ledger.GetBalanceAsync(first.Address));

        async Task ValidateAsync(TestProvider validator, Func<int, int> seedOf)
        {
            while (await validator.LeaseAsync(1, "validate") is { } check)
            {
                await TestFarm.ExpectAsync(await validator.CompleteAsync(check.LeaseId, await CheckReportAsync(farm, Noise(seedOf(check.FirstFrame)), check)), HttpStatusCode.OK);
            }
        }
    }

    [Fact]
    public async Task Without_spot_checks_nothing_is_verified_so_nothing_is_paid()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var ledger = (RenderFarm.Ledger.OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        JobSummary job = await farm.SubmitAsync(frames: "1");
        string client = farm.ClientAddress;
        await ledger.MintAsync(client, TokenUnits.FromTokens(5));
        await ledger.Account(client).LockAsync(job.Id, TokenUnits.FromTokens(5));
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, provider, grant, seed: 1);

        JobSettlement settlement = (await WaitForSettlementAsync(farm, job.Id)).Settlement!;
        Assert.Empty(settlement.Payouts);
        Assert.Equal(BigInteger.Zero, await ledger.GetBalanceAsync(provider.Address));
        Assert.Equal(TokenUnits.FromTokens(5), await ledger.GetBalanceAsync(client));
    }
}
