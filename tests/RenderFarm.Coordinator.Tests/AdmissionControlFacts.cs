using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RenderFarm.Coordinator.Api;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

/// <summary>A saturated coordinator answers 503 with Retry-After, never 500.</summary>
public sealed class AdmissionControlFacts
{
    // Guards availability: polls past what the coordinator could hold were answered 500 (pool exhausted) after long
    // stalls; past the configured number they are now turned away at once with 503 and a Retry-After.
    [Fact]
    public async Task Lease_polls_past_the_limit_get_503_with_Retry_After_and_a_problem_body()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new()
        {
            ["Coordinator:Admission:MaxPolls"] = "1",
            ["Coordinator:Admission:RetryAfterSeconds"] = "7",
        });
        TestProvider first = await farm.LoginAsync();
        TestProvider second = await farm.LoginAsync();
        Task<LeaseGrant?> waiting = first.LeaseAsync(waitSeconds: 30);
        QueueFetcher fetcher = farm.Host.Services.GetRequiredService<QueueFetcher>();
        await WaitUntilAsync(() => fetcher.Signals.Waiting == 1);

        using HttpResponseMessage refused = await second.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 1));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), refused.Headers.RetryAfter?.Delta);
        ProblemDetails problem = (await refused.Content.ReadFromJsonAsync<ProblemDetails>())!;
        Assert.Equal(503, problem.Status);
        Assert.Contains("lease polls waiting", problem.Detail, StringComparison.Ordinal);

        // Other calls are not polls: a job is submitted, and its task wakes the waiting poll.
        await farm.SubmitAsync("1");
        LeaseGrant? grant = await waiting;
        Assert.NotNull(grant);
    }

    [Fact]
    public async Task Calls_past_the_running_and_queued_limits_get_503_while_health_still_answers()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new()
        {
            ["Coordinator:Admission:MaxRequests"] = "1",
            ["Coordinator:Admission:MaxQueued"] = "0",
        });

        // An upload whose body does not arrive yet holds the one slot.
        var release = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        using var body = new StalledContent(started, release.Task);
        Task<HttpResponseMessage> stalled = farm.Client.PostAsync("api/scenes?name=a.glb", body);
        await started.Task;

        // Once the upload is inside the coordinator, a second call finds no slot.
        HttpResponseMessage refused = await farm.Client.GetAsync("api/jobs");
        for (int i = 0; i < 600 && refused.StatusCode == HttpStatusCode.OK; i++)
        {
            refused.Dispose();
            await Task.Delay(50);
            refused = await farm.Client.GetAsync("api/jobs");
        }

        using HttpResponseMessage health = await farm.Client.GetAsync("health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        refused.Dispose();
        release.SetResult();
        (await stalled).Dispose();
    }

    [Fact]
    public void Npgsql_pool_exhaustion_is_recognised_through_wrapping_exceptions()
    {
        var exhausted = new NpgsqlException("The connection pool has been exhausted, either raise 'Max Pool Size' (currently 40) or 'Timeout' (currently 15 seconds) in your connection string.", new TimeoutException());

        Assert.True(AdmissionControl.IsPoolExhausted(exhausted));
        Assert.True(AdmissionControl.IsPoolExhausted(new InvalidOperationException("wrapped", exhausted)));
        Assert.False(AdmissionControl.IsPoolExhausted(new NpgsqlException("Connection refused")));
        Assert.False(AdmissionControl.IsPoolExhausted(new TimeoutException()));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition(), "The condition did not come true within 30 s.");
    }

    // A body that sends one byte, then waits before it ends.
    private sealed class StalledContent(TaskCompletionSource started, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(new byte[] { 0x67 });
            await stream.FlushAsync();
            started.TrySetResult();
            await release;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
