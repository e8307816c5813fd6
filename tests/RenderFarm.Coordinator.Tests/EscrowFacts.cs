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
using RenderFarm.Testing;

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
        JobSummary job = await StartPaidJobAsync(farm, ledger, "1-2", tokens: 10);
        Assert.Equal(BigInteger.Zero, await ledger.GetBalanceAsync(client));

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

    // Guards the audit's finding that anyone could squat a job id by locking 1 wei on it first.
    [Fact]
    public async Task An_escrow_another_address_locked_for_the_job_id_neither_blocks_nor_starts_the_job()
    {
        const string squatter = "0x0000000000000000000000000000000000005a75";
        await using TestFarm farm = await TestFarm.StartAsync();
        string client = farm.ClientAddress;
        var ledger = (OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        await ledger.MintAsync(client, TokenUnits.FromTokens(10));
        await ledger.MintAsync(squatter, TokenUnits.FromTokens(20));
        JobSummary job = await farm.SubmitAsync(frames: "1", budget: 10);

        await ledger.Account(squatter).LockAsync(job.Id, TokenUnits.FromTokens(20));
        string detail = await TestFarm.ExpectProblemAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.Conflict);
        Assert.Contains($"by its payer {client}", detail, StringComparison.OrdinalIgnoreCase);

        await ledger.Account(client).LockAsync(job.Id, TokenUnits.FromTokens(10));
        await TestFarm.ExpectAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.OK);
        Assert.Equal(BigInteger.Zero, await ledger.GetBalanceAsync(client));
    }

    // The account that signs in pays for its own jobs: a request naming another payer is refused.
    [Fact]
    public async Task A_paid_job_naming_another_payer_is_refused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded scene = await farm.UploadSceneAsync();

        string detail = await TestFarm.ExpectProblemAsync(
            await farm.Client.PostAsJsonAsync(
                "api/jobs", new SubmitJobRequest(scene.Sha256, "1", Budget: 5, Payer: "0x0000000000000000000000000000000000005a75"), TestFarm.Json),
            HttpStatusCode.BadRequest);

        Assert.StartsWith("A job is paid from its own account's escrow", detail, StringComparison.Ordinal);
    }

    // Guards the audit's finding that a locked budget had no deadline: once the client reclaims it, settling the job
    // pays nothing more and does not fail.
    [Fact]
    public async Task A_job_whose_client_reclaimed_the_escrow_after_its_deadline_settles_without_paying_again()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var ledger = (OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        string client = farm.ClientAddress;
        JobSummary job = await StartPaidJobAsync(farm, ledger, "1-2", tokens: 10);
        Assert.Equal("ReclaimNotDue", (await Assert.ThrowsAsync<LedgerException>(() => ledger.Account(client).ReclaimAsync(job.Id))).Reason);

        farm.Time.Advance(LedgerDefaults.ReclaimDelay);
        await ledger.Account(client).ReclaimAsync(job.Id);
        await TestFarm.ExpectAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/cancel", null), HttpStatusCode.OK);

        JobDetails details = await CheckFrames.WaitForSettlementAsync(farm, job.Id);
        Assert.Empty(details.Settlement!.Payouts);
        Assert.Equal(TokenUnits.FromTokens(10), await ledger.GetBalanceAsync(client));
        Assert.False((await ledger.GetEscrowAsync(client, job.Id))!.Open);
    }

    // Guards the audit's finding that a coordinator started with a key that is not the escrow's verifier; every settlement then failed.
    [Fact]
    [Trait("Category", "Integration")]
    public async Task A_verifier_key_that_is_not_the_escrows_verifier_stops_the_start_with_both_addresses()
    {
        await using HardhatNode node = await HardhatNode.StartAsync();
        var deployer = new Nethereum.Web3.Web3(new Nethereum.Web3.Accounts.Account(node.PrivateKeys[0], HardhatNode.ChainId), node.RpcUrl.ToString());
        string verifier = deployer.TransactionManager.Account.Address;
        EvmContractAddresses contracts = await EvmDeployment.DeployAsync(deployer, verifier, new EscrowTerms { Treasury = verifier });
        var settings = new Dictionary<string, string?>
        {
            ["Ledger:Evm:RpcUrl"] = node.RpcUrl.ToString(),
            ["Ledger:Evm:ChainId"] = "31337",
            ["Ledger:Evm:VerifierKey"] = node.PrivateKeys[3],
            ["Ledger:Evm:EscrowAddress"] = contracts.EscrowAddress,
        };

        var refused = await Assert.ThrowsAsync<LedgerException>(
            () => LedgerConfiguration.OpenAsync(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()));
        settings["Ledger:Evm:VerifierKey"] = node.PrivateKeys[0];
        settings["Ledger:Evm:Confirmations"] = "1";
        using var opened = (EvmLedger)(await LedgerConfiguration.OpenAsync(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()))!;

        Assert.Equal("NotVerifier", refused.Reason);
        Assert.Contains(new Nethereum.Web3.Accounts.Account(node.PrivateKeys[3]).Address, refused.Message, StringComparison.Ordinal);
        Assert.Contains(verifier, refused.Message, StringComparison.Ordinal);
        Assert.Equal(verifier, opened.Address);
    }

    // Guards the audit's finding that two coordinators sharing the verifier key took the same nonces.
    [Fact]
    [Trait("Category", "Integration")]
    public async Task Coordinators_sharing_a_postgresql_database_send_with_the_verifier_key_one_at_a_time()
    {
        await using PostgresServer postgres = await PostgresServer.StartAsync();
        string connectionString = await postgres.CreateDatabaseAsync();
        await using HardhatNode node = await HardhatNode.StartAsync();
        var deployer = new Nethereum.Web3.Web3(new Nethereum.Web3.Accounts.Account(node.PrivateKeys[0], HardhatNode.ChainId), node.RpcUrl.ToString());
        string verifier = deployer.TransactionManager.Account.Address;
        EvmContractAddresses contracts = await EvmDeployment.DeployAsync(deployer, verifier, new EscrowTerms { Treasury = verifier });
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = connectionString,
            ["Ledger:Evm:RpcUrl"] = node.RpcUrl.ToString(),
            ["Ledger:Evm:ChainId"] = "31337",
            ["Ledger:Evm:VerifierKey"] = node.PrivateKeys[0],
            ["Ledger:Evm:EscrowAddress"] = contracts.EscrowAddress,
        }).Build();
        using var ledger = (EvmLedger)(await LedgerConfiguration.OpenAsync(configuration))!;

        // Another coordinator holds the key's lock: this one's send waits for it, then goes through.
        await using var other = new Npgsql.NpgsqlConnection(connectionString);
        await other.OpenAsync();
        long key = PostgresLedgerWriterLock.Key(HardhatNode.ChainId, verifier);
        await ExecuteAsync(other, $"SELECT count(*) FROM (SELECT pg_advisory_lock({key})) AS taken");
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Task<LedgerReceipt> proposal = ledger.ProposeVerifierAsync(new Nethereum.Web3.Accounts.Account(node.PrivateKeys[4]).Address, guard.Token);
        while (await ExecuteAsync(other, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 0)
        {
            Assert.False(proposal.IsCompleted, "The send did not wait for the lock another coordinator holds.");
            await Task.Delay(50, guard.Token);
        }

        Assert.False(proposal.IsCompleted);
        Assert.Null(await ledger.GetPendingVerifierAsync());
        await ExecuteAsync(other, $"SELECT pg_advisory_unlock({key})::int");
        Assert.True((await proposal).Changed);
        Assert.NotNull(await ledger.GetPendingVerifierAsync());

        static async Task<long> ExecuteAsync(Npgsql.NpgsqlConnection connection, string sql)
        {
            await using var command = new Npgsql.NpgsqlCommand(sql, connection);
            return Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    [Theory]
    [InlineData("RpcUrl", "ftp://chain", "Ledger:Evm:RpcUrl must be an http(s) URL")]
    [InlineData("Confirmations", "0", "Ledger:Evm:Confirmations must be a whole number from 1 to 64")]
    [InlineData("ReceiptTimeoutSeconds", "forever", "Ledger:Evm:ReceiptTimeoutSeconds must be a whole number from 1 to 3600")]
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

    // Mints the farm's client the budget, submits a paid job, locks the budget in its escrow and confirms it.
    private static async Task<JobSummary> StartPaidJobAsync(TestFarm farm, OfflineLedger ledger, string frames, long tokens)
    {
        await ledger.MintAsync(farm.ClientAddress, TokenUnits.FromTokens(tokens));
        JobSummary job = await farm.SubmitAsync(frames: frames, budget: tokens);
        await ledger.Account(farm.ClientAddress).LockAsync(job.Id, TokenUnits.FromTokens(tokens));
        await TestFarm.ExpectAsync(await farm.Client.PostAsync($"api/jobs/{job.Id}/escrow", null), HttpStatusCode.OK);
        return job;
    }
}
