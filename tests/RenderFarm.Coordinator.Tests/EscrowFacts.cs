using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;

namespace RenderFarm.Coordinator.Tests;

/// <summary>A paid job waits until the client's budget is locked in its escrow; a cancelled one is refunded.</summary>
public sealed class EscrowFacts
{
    [Fact]
    public async Task A_paid_job_is_not_leased_until_its_budget_is_locked()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var ledger = (OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        string client = farm.ClientAddress;
        await ledger.MintAsync(client, TokenUnits.FromTokens(30));
        JobSummary job = await farm.SubmitAsync(frames: "1", budget: 10);
        Assert.Equal(JobState.AwaitingEscrow, job.State);
        TestProvider provider = await farm.LoginAsync();
        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));

        string detail = await TestFarm.ExpectProblemAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.Conflict);
        Assert.Contains("No escrow is locked", detail, StringComparison.Ordinal);
        Assert.Contains("10 tokens", detail, StringComparison.Ordinal);

        await ledger.Account(client).LockAsync(job.Id, TokenUnits.FromTokens(10));
        using HttpResponseMessage confirmed = await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null);
        await TestFarm.ExpectAsync(confirmed, HttpStatusCode.OK);
        Assert.NotEqual(JobState.AwaitingEscrow, (await confirmed.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!.State);
        Assert.NotNull(await provider.LeaseAsync(waitSeconds: 10));

        // Confirming again changes nothing.
        await TestFarm.ExpectAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.OK);
    }

    [Fact]
    public async Task An_escrow_below_the_budget_is_refused_with_both_amounts()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var ledger = (OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        string client = farm.ClientAddress;
        await ledger.MintAsync(client, TokenUnits.FromTokens(30));
        JobSummary job = await farm.SubmitAsync(frames: "1", budget: 10);
        await ledger.Account(client).LockAsync(job.Id, TokenUnits.FromTokens(4) + (TokenUnits.PerToken / 2));

        string detail = await TestFarm.ExpectProblemAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.Conflict);
        Assert.Contains("holds 4.5 tokens, less than its budget of 10 tokens", detail, StringComparison.Ordinal);
        Assert.Equal(JobState.AwaitingEscrow, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Fact]
    public async Task Cancelling_a_job_that_waits_for_work_refunds_its_escrow()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var ledger = (OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        string client = farm.ClientAddress;
        await ledger.MintAsync(client, TokenUnits.FromTokens(10));
        JobSummary job = await farm.SubmitAsync(frames: "1-2", budget: 10);
        await ledger.Account(client).LockAsync(job.Id, TokenUnits.FromTokens(10));
        Assert.Equal(BigInteger.Zero, await ledger.GetBalanceAsync(client));
        await TestFarm.ExpectAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.OK);

        await TestFarm.ExpectAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/cancel", null), HttpStatusCode.OK);

        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        JobDetails details;
        while ((details = await farm.GetJobAsync(job.Id)).Settlement is null)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Not settled; job is {details.Job.State}.");
            await Task.Delay(100);
        }

        Assert.Equal(JobState.Cancelled, details.Job.State);
        Assert.Empty(details.Settlement!.Payouts);
        Assert.NotNull(details.Settlement.RefundTransactionId);
        Assert.Equal(TokenUnits.FromTokens(10), await ledger.GetBalanceAsync(client));
    }

    // Guards the payer: the escrow must be the job owner's own tokens, not a lock anyone else put on the job's id.
    [Fact]
    public async Task An_escrow_locked_by_another_account_does_not_start_the_job()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var ledger = (OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        const string Stranger = "0x00000000000000000000000000000000000c1e47";
        await ledger.MintAsync(Stranger, TokenUnits.FromTokens(30));
        JobSummary job = await farm.SubmitAsync(frames: "1", budget: 10);
        await ledger.Account(Stranger).LockAsync(job.Id, TokenUnits.FromTokens(10));

        string detail = await TestFarm.ExpectProblemAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.Conflict);
        Assert.Contains("not by the job's owner", detail, StringComparison.Ordinal);
        Assert.Equal(JobState.AwaitingEscrow, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Theory]
    [InlineData("RpcUrl", "ftp://chain", "Ledger:Evm:RpcUrl must be an http(s) URL")]
    [InlineData("ChainId", "-5", "Ledger:Evm:ChainId must be a positive whole number")]
    [InlineData("VerifierKey", "0x1234", "Ledger:Evm:VerifierKey must be a 32-byte private key")]
    [InlineData("EscrowAddress", "0xabc", "Ledger:Evm:EscrowAddress must be an address")]
    [InlineData("EscrowAddress", "", "Ledger:Evm:EscrowAddress is required")]
    public async Task A_malformed_EVM_ledger_setting_is_named(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Ledger:Evm:RpcUrl"] = "http://127.0.0.1:1",
            ["Ledger:Evm:ChainId"] = "31337",
            ["Ledger:Evm:VerifierKey"] = new string('1', 64),
            ["Ledger:Evm:EscrowAddress"] = "0x" + new string('2', 40),
        };
        settings[$"Ledger:Evm:{key}"] = value;
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

        var error = await Assert.ThrowsAsync<UserInputException>(() => LedgerConfiguration.OpenAsync(configuration));
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_chain_is_a_ledger_error_naming_the_endpoint()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ledger:Evm:RpcUrl"] = "http://127.0.0.1:1",
            ["Ledger:Evm:ChainId"] = "31337",
            ["Ledger:Evm:VerifierKey"] = new string('1', 64),
            ["Ledger:Evm:EscrowAddress"] = "0x" + new string('2', 40),
        }).Build();

        var error = await Assert.ThrowsAsync<LedgerException>(() => LedgerConfiguration.OpenAsync(configuration));
        Assert.Contains("127.0.0.1:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_offline_ledger_file_or_none_is_chosen_without_EVM_settings()
    {
        string path = Path.Combine(Path.GetTempPath(), $"renderfarm-ledger-{Guid.NewGuid():N}.json");
        IConfiguration offline = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Ledger:OfflineFile"] = path }).Build();
        IConfiguration none = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>()).Build();
        try
        {
            Assert.IsType<OfflineLedger>(await LedgerConfiguration.OpenAsync(offline));
            Assert.Null(await LedgerConfiguration.OpenAsync(none));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
