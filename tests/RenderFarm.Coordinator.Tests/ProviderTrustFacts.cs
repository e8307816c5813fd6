using System.Net;
using Nethereum.Signer;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// Private farms: providers the operator trusts (<c>Coordinator:Providers:Trusted</c>) deliver frames that are accepted
/// without cross-checks, so a one-worker farm finishes; an untrusted farm with a single provider says that its job
/// waits for a second one, at submission and on the job.
/// </summary>
public sealed class ProviderTrustFacts
{
    private const string A = "0x1111111111111111111111111111111111111111";
    private const string B = "0x2222222222222222222222222222222222222222";

    private static CoordinatorOptions Options(bool spotChecks, params string[] trusted)
    {
        var options = new CoordinatorOptions { SpotChecks = spotChecks };
        foreach (string address in trusted)
        {
            options.Providers.Trusted.Add(address);
        }

        return options;
    }

    [Fact]
    public void Only_an_untrusted_lone_provider_or_none_makes_a_job_wait()
    {
        Assert.Contains("Only one provider (" + A + ")", ProviderTrust.WaitingWarning(Options(true), [A]), StringComparison.Ordinal);
        Assert.Contains("No provider is signed in", ProviderTrust.WaitingWarning(Options(true), []), StringComparison.Ordinal);
        Assert.Null(ProviderTrust.WaitingWarning(Options(true), [A, B]));
        Assert.Null(ProviderTrust.WaitingWarning(Options(true, A.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal)), [A]));
        Assert.Null(ProviderTrust.WaitingWarning(Options(false), [A]));
    }

    [Fact]
    public void Trusted_providers_skip_checks_and_others_do_not()
    {
        CoordinatorOptions options = Options(true, A);

        Assert.False(ProviderTrust.NeedsChecks(options, A));
        Assert.True(ProviderTrust.NeedsChecks(options, B));
        Assert.False(ProviderTrust.NeedsChecks(Options(false), B));
    }

    [Theory]
    [InlineData("0x123")]
    [InlineData("1111111111111111111111111111111111111111")]
    [InlineData("0x111111111111111111111111111111111111111g")]
    public async Task A_trusted_entry_that_is_not_an_address_stops_the_coordinator(string entry)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestFarm.StartAsync(new() { ["Coordinator:Providers:Trusted:0"] = entry }));

        Assert.Contains("Coordinator:Providers:Trusted", error.Message + error.InnerException?.Message, StringComparison.Ordinal);
    }

    // Guards: with cross-checks on, a farm of one provider never finished a job (its frames waited for a second
    // provider forever); a trusted provider's frames are now accepted as delivered.
    [Fact]
    public async Task A_farm_of_one_trusted_provider_finishes_with_cross_checks_on()
    {
        EthECKey key = EthECKey.GenerateKey();
        await using TestFarm farm = await TestFarm.StartAsync(new()
        {
            ["Coordinator:SpotChecks"] = "true",
            ["Coordinator:Providers:Trusted:0"] = key.GetPublicAddress(),
        });
        var trusted = new TestProvider(farm, key);
        await trusted.LoginAsync();
        Assert.Null(await trusted.LeaseAsync(waitSeconds: 0));

        JobSummary job = await farm.SubmitAsync("1-2");
        for (int task = 0; task < 2; task++)
        {
            LeaseGrant grant = await trusted.LeaseRequiredAsync();
            using HttpResponseMessage complete = await trusted.CompleteAsync(grant.LeaseId, await trusted.UploadFramesAsync(grant));
            await TestFarm.ExpectAsync(complete, HttpStatusCode.OK);
        }

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.All(done.Tasks, t => Assert.Empty(t.Checks ?? []));
        Assert.Null(done.Job.Warning);
    }

    // Guards: a job on a farm with a single untrusted provider waited silently for a check that could never come.
    [Fact]
    public async Task A_farm_of_one_untrusted_provider_says_that_the_job_waits()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:SpotChecks"] = "true" });
        TestProvider lone = await farm.LoginAsync();
        Assert.Null(await lone.LeaseAsync(waitSeconds: 0));

        JobSummary job = await farm.SubmitAsync("1");
        LeaseGrant grant = await lone.LeaseRequiredAsync();
        using HttpResponseMessage complete = await lone.CompleteAsync(grant.LeaseId, await lone.UploadFramesAsync(grant));
        await TestFarm.ExpectAsync(complete, HttpStatusCode.OK);

        Assert.Contains($"Only one provider ({lone.Address})", job.Warning, StringComparison.OrdinalIgnoreCase);
        JobDetails waiting = await farm.GetJobAsync(job.Id);
        Assert.Equal(FarmTaskState.Verifying, Assert.Single(waiting.Tasks).State);
        Assert.Contains("waits for a second provider", waiting.Job.Warning, StringComparison.Ordinal);
    }
}
