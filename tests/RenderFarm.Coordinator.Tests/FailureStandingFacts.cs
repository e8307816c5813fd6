using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Worker;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// Fresh identities cost nothing, so their failures cannot fail a job: before, five fresh keys and seven failure
/// reports failed any job for good (three distinct providers per task, whoever they were).
/// </summary>
public sealed class FailureStandingFacts
{
    [Fact]
    public async Task Twenty_fresh_keys_that_fail_every_lease_cannot_stop_two_honest_workers()
    {
        // All 22 providers log in from this machine's one address within the minute.
        await using TestFarm farm = await TestFarm.StartAsync(new()
        {
            ["Coordinator:Providers:MaxLoginsPerAddressPerMinute"] = "30",

            // Every key fails from loopback: what is measured here is the standing rule, not the per-address limit.
            ["Coordinator:Providers:MaxFailuresPerAddressPerMinute"] = "0",
        });
        JobSummary job = await farm.SubmitAsync("1-10");
        var griefers = new List<TestProvider>();
        for (int i = 0; i < 20; i++)
        {
            griefers.Add(await farm.LoginAsync());
        }

        using var stop = new CancellationTokenSource();
        Task[] attacks = [.. griefers.Select(g => FailEverythingAsync(g, stop.Token))];

        // The griefers go first, until they have failed tasks more than enough times to fail the job under the old rule.
        await farm.WaitForJobAsync(job.Id, d => d.Tasks.Sum(t => t.Failures!.Count) >= 20, TimeSpan.FromMinutes(2));
        JobDetails done;
        await using (var first = new InProcessWorker(farm, new NoiseRenderer()))
        await using (var second = new InProcessWorker(farm, new NoiseRenderer()))
        {
            done = await farm.WaitForJobEndAsync(job.Id, TimeSpan.FromMinutes(2));
        }

        await stop.CancelAsync();
        await Task.WhenAll(attacks);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Equal(10, done.Tasks.Sum(t => t.Frames.Count));
        Assert.All(done.Tasks, t => Assert.DoesNotContain(t.Provider, griefers.Select(g => g.Address), StringComparer.OrdinalIgnoreCase));

        // The client sees each failure with its reason; none of these providers had standing.
        TaskFailure[] failures = [.. done.Tasks.SelectMany(t => t.Failures!)];
        Assert.True(failures.Length >= 20, $"{failures.Length} failures recorded");
        Assert.All(failures, f => Assert.Contains("griefing", f.Reason, StringComparison.Ordinal));
        Assert.All(failures, f => Assert.False(f.Standing));
        Assert.Contains(done.Tasks, t => t.Failures!.Count >= 3);
    }

    [Fact]
    public async Task Fresh_providers_failures_requeue_the_task_until_the_distinct_provider_cap()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxFailingProvidersPerTask"] = "5" });
        JobSummary job = await farm.SubmitAsync("1");
        for (int i = 1; i <= 5; i++)
        {
            // Each from its own address, as five machines would.
            TestProvider provider = await farm.LoginFromAsync(IPAddress.Parse($"127.0.0.{i + 1}"));
            LeaseGrant grant = await provider.LeaseRequiredAsync();
            await TestFarm.ExpectAsync(await provider.FailAsync(grant.LeaseId, $"out of memory {i}"), HttpStatusCode.OK);

            JobDetails details = await farm.GetJobAsync(job.Id);
            TaskDetails task = Assert.Single(details.Tasks);
            Assert.Equal(i, task.Failures!.Count);
            Assert.Contains($"out of memory {i}", task.Failures[^1].Reason, StringComparison.Ordinal);
            Assert.Equal(provider.Address, task.Failures[^1].Provider, StringComparer.OrdinalIgnoreCase);
            Assert.Equal(i < 5 ? FarmTaskState.Queued : FarmTaskState.Failed, task.State);
            Assert.Equal(i < 5 ? JobState.Running : JobState.Failed, details.Job.State);
        }

        Assert.Contains("5 providers (0 with standing)", (await farm.GetJobAsync(job.Id)).Job.Error, StringComparison.Ordinal);
    }

    // Fresh keys are free: before failures counted by address, one machine's five new keys failed the task for good.
    [Fact]
    public async Task Fresh_providers_reporting_from_one_address_count_once_towards_the_cap()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxFailingProvidersPerTask"] = "5" });
        JobSummary job = await farm.SubmitAsync("1");
        for (int i = 1; i <= 6; i++)
        {
            TestProvider provider = await farm.LoginAsync();
            LeaseGrant grant = await provider.LeaseRequiredAsync();
            await TestFarm.ExpectAsync(await provider.FailAsync(grant.LeaseId, $"griefing {i}"), HttpStatusCode.OK);
        }

        TaskDetails task = Assert.Single((await farm.GetJobAsync(job.Id)).Tasks);
        Assert.Equal(6, task.Failures!.Count);
        Assert.All(task.Failures, f => Assert.Null(f.Origin)); // recorded, but never shown to the client
        Assert.Equal(FarmTaskState.Queued, task.State);
    }

    [Fact]
    public async Task Failure_reports_are_limited_per_provider()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxFailuresPerProviderPerMinute"] = "1" });
        await farm.SubmitAsync("1-2");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant first = await provider.LeaseRequiredAsync();
        await TestFarm.ExpectAsync(await provider.FailAsync(first.LeaseId), HttpStatusCode.OK);

        LeaseGrant second = await provider.LeaseRequiredAsync();
        string detail = await TestFarm.ExpectProblemAsync(await provider.FailAsync(second.LeaseId), (HttpStatusCode)429);
        Assert.Contains("at most 1 a minute", detail, StringComparison.Ordinal);
        Assert.Equal(FarmTaskState.Leased, (await farm.GetJobAsync(second.JobId)).Tasks[second.TaskIndex].State);

        farm.Time.Advance(TimeSpan.FromSeconds(61));
        await TestFarm.ExpectAsync(await provider.FailAsync(second.LeaseId), HttpStatusCode.OK);
    }

    // Fresh keys are free: without a limit per address one machine could fail tasks as fast as it makes keys.
    [Fact]
    public async Task Failure_reports_are_limited_per_remote_address_across_providers()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxFailuresPerAddressPerMinute"] = "1" });
        await farm.SubmitAsync("1-2");
        TestProvider first = await farm.LoginAsync();
        TestProvider second = await farm.LoginAsync();
        LeaseGrant firstGrant = await first.LeaseRequiredAsync();
        LeaseGrant secondGrant = await second.LeaseRequiredAsync();
        await TestFarm.ExpectAsync(await first.FailAsync(firstGrant.LeaseId), HttpStatusCode.OK);

        string detail = await TestFarm.ExpectProblemAsync(await second.FailAsync(secondGrant.LeaseId), (HttpStatusCode)429);
        Assert.Contains("Too many failure reports from 127.0.0.1", detail, StringComparison.Ordinal);

        farm.Time.Advance(TimeSpan.FromSeconds(61));
        await TestFarm.ExpectAsync(await second.FailAsync(secondGrant.LeaseId), HttpStatusCode.OK);
    }

    // Client sign-ins are limited per address too, counted apart from providers' so neither holds back the other.
    [Fact]
    public async Task Client_logins_are_limited_per_remote_address_apart_from_providers()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxLoginsPerAddressPerMinute"] = "2" });
        await TestFarm.ExpectAsync(await farm.Client.GetAsync("api/jobs"), HttpStatusCode.OK);
        await TestFarm.ExpectAsync(await farm.NewClient().GetAsync("api/jobs"), HttpStatusCode.OK);

        string detail = await TestFarm.ExpectProblemAsync(await farm.NewClient().GetAsync("api/jobs"), (HttpStatusCode)429);
        Assert.Contains("Too many logins from", detail, StringComparison.Ordinal);
        await farm.LoginAsync();
        await farm.LoginAsync();
    }

    [Fact]
    public async Task Logins_are_limited_per_remote_address()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxLoginsPerAddressPerMinute"] = "2" });
        await farm.LoginAsync();
        await farm.LoginAsync();
        var third = new TestProvider(farm, Nethereum.Signer.EthECKey.GenerateKey());
        ChallengeResponse challenge = await third.ChallengeAsync();

        using HttpResponseMessage refused = await third.PostLoginAsync(challenge.Challenge, third.Sign(challenge.Challenge));
        await TestFarm.ExpectProblemAsync(refused, (HttpStatusCode)429);

        farm.Time.Advance(TimeSpan.FromSeconds(61));
        await third.LoginAsync();
    }

    [Fact]
    public async Task Logins_are_limited_per_provider_and_failed_logins_in_its_name_do_not_count()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:Providers:MaxLoginsPerProviderPerMinute"] = "1" });
        var provider = new TestProvider(farm, Nethereum.Signer.EthECKey.GenerateKey());

        // Someone else signs for the provider's address: refused, and the provider can still log in.
        ChallengeResponse forged = await provider.ChallengeAsync();
        using (HttpResponseMessage wrong = await provider.PostLoginAsync(forged.Challenge, provider.Sign(forged.Challenge, Nethereum.Signer.EthECKey.GenerateKey())))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        await provider.LoginAsync();
        ChallengeResponse again = await provider.ChallengeAsync();
        using HttpResponseMessage refused = await provider.PostLoginAsync(again.Challenge, provider.Sign(again.Challenge));
        await TestFarm.ExpectProblemAsync(refused, (HttpStatusCode)429);
    }

    [Fact]
    public void Fresh_providers_from_one_address_are_one_party_and_providers_with_standing_count_apart()
    {
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        IReadOnlyList<TaskFailure> failures = [];
        string[] sameMachine = ["0xa", "0xb", "0xc", "0xd"];
        foreach (string provider in sameMachine)
        {
            failures = TaskFailurePolicy.Record(failures, provider, "crash", now, standing: false, origin: "203.0.113.7");
        }

        Assert.False(TaskFailurePolicy.IsExhausted(sameMachine, failures, maxWithStanding: 3, maxDistinct: 2));

        // A lapse (no address) and a provider with standing behind the same address each count on their own.
        failures = TaskFailurePolicy.Record(failures, "0xe", "lapsed", now, standing: false);
        failures = TaskFailurePolicy.Record(failures, "0xf", "crash", now, standing: true, origin: "203.0.113.7");
        Assert.True(TaskFailurePolicy.IsExhausted([.. sameMachine, "0xe", "0xf"], failures, maxWithStanding: 3, maxDistinct: 3));
        Assert.Equal("203.0.113.7", failures.Single(f => f.Provider == "0xa").Origin);
    }

    [Fact]
    public void Only_providers_with_standing_fail_a_task_after_a_few()
    {
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        IReadOnlyList<TaskFailure> failures = [];
        string[] fresh = ["0xa", "0xb", "0xc", "0xd"];
        foreach (string provider in fresh)
        {
            failures = TaskFailurePolicy.Record(failures, provider, "crash", now, standing: false);
        }

        Assert.False(TaskFailurePolicy.IsExhausted(fresh, failures, maxWithStanding: 3, maxDistinct: 100));
        Assert.True(TaskFailurePolicy.IsExhausted(fresh, failures, maxWithStanding: 3, maxDistinct: 4));

        string[] withStanding = ["0x1", "0x2", "0x3"];
        IReadOnlyList<TaskFailure> proven = [];
        foreach (string provider in withStanding)
        {
            proven = TaskFailurePolicy.Record(proven, provider, "crash", now, standing: true);
        }

        Assert.False(TaskFailurePolicy.IsExhausted(withStanding[..2], proven, maxWithStanding: 3, maxDistinct: 50));
        Assert.True(TaskFailurePolicy.IsExhausted(withStanding, proven, maxWithStanding: 3, maxDistinct: 50));

        // A provider redone by a spot check is in FailedBy without a failure record: it counts as fresh.
        Assert.False(TaskFailurePolicy.IsExhausted(["0x1", "0x2", "0xredone"], proven, maxWithStanding: 3, maxDistinct: 50));
    }

    [Fact]
    public void A_provider_failing_again_updates_its_one_entry()
    {
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        IReadOnlyList<TaskFailure> failures = TaskFailurePolicy.Record([], "0xA", "first", now, standing: false);
        failures = TaskFailurePolicy.Record(failures, "0xa", "second", now.AddSeconds(1), standing: true);

        TaskFailure only = Assert.Single(failures);
        Assert.Equal(("0xA", "second", now.AddSeconds(1), true, 2), (only.Provider, only.Reason, only.At, only.Standing, only.Count));
    }

    [Theory]
    [InlineData(9, null, false)]
    [InlineData(10, null, true)]
    [InlineData(0, 1L, true)]
    [InlineData(0, 0L, false)]
    public void Standing_is_verified_work_or_stake(long verifiedFrames, long? stakedTokens, bool expected)
    {
        var limits = new ProviderLimits();
        System.Numerics.BigInteger? stake = stakedTokens is { } tokens ? TokenUnits.FromTokens(tokens) : null;

        Assert.Equal(expected, TaskFailurePolicy.HasStanding(verifiedFrames, stake, limits));
        Assert.False(TaskFailurePolicy.HasStanding(0, TokenUnits.FromTokens(100), new ProviderLimits { StandingStakeTokens = 0 }));
    }

    [Fact]
    public void A_rate_window_counts_to_its_limit_and_starts_again_when_it_ends()
    {
        DateTimeOffset start = DateTimeOffset.UnixEpoch;
        var window = new RateWindow.Window(start, 0);
        TimeSpan minute = TimeSpan.FromMinutes(1);
        (bool allowed, window) = RateWindow.Next(window, start, 2, minute);
        Assert.True(allowed);
        (allowed, window) = RateWindow.Next(window, start.AddSeconds(30), 2, minute);
        Assert.True(allowed);
        (allowed, window) = RateWindow.Next(window, start.AddSeconds(59), 2, minute);
        Assert.False(allowed);
        (allowed, window) = RateWindow.Next(window, start.AddSeconds(60), 2, minute);
        Assert.True(allowed);
        Assert.Equal(new RateWindow.Window(start.AddSeconds(60), 1), window);
    }

    // Leases whatever it can and fails it at once, until stopped.
    private static async Task FailEverythingAsync(TestProvider griefer, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            LeaseGrant? grant = await griefer.LeaseAsync(waitSeconds: 1);
            if (grant is not null)
            {
                using HttpResponseMessage failed = await griefer.FailAsync(grant.LeaseId, "griefing: refusing to render");
            }
        }
    }

    // An honest renderer for the in-process workers: a noise PNG of the job's size and depth.
    private sealed class NoiseRenderer : IFrameRenderer
    {
        public string DeviceName => "Noise renderer [Cpu]";

        public async Task<RenderedFrame> RenderAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken)
        {
            await File.WriteAllBytesAsync(pngPath, TestFarm.NoisePng(settings.Size.Width, settings.Size.Height, settings.SixteenBit, frame), cancellationToken);
            return new RenderedFrame(TimeSpan.FromMilliseconds(1), settings.SamplesPerFrame);
        }
    }
}
