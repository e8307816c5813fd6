using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>A coordinator restarted on the same PostgreSQL and object folder, with no secrets configured (Development).</summary>
[Trait("Category", "Integration")]
public sealed class CoordinatorRestartFacts
{
    // Guards restarts: without configured secrets a restarted coordinator made new random keys, so every lease id
    // (404 "not a lease id this coordinator issued"), provider token (401) and presigned URL (403) handed out before was
    // dead, and the maintenance pass charged each lease that lapsed during the downtime to its honest provider (two
    // restarts blocked it from the job). Now the keys are kept in the farm store and the object folder, and a lease
    // that lapsed while no coordinator ran gets a fresh lease duration.
    [Fact]
    public async Task Leases_tokens_and_presigned_urls_outlive_a_restart_and_the_downtime_is_not_charged()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        string objects = Directory.CreateTempSubdirectory("renderfarm-restart-").FullName;
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = connectionString,
            ["Storage:Directory"] = objects,
        };
        try
        {
            JobSummary job;
            LeaseGrant grant;
            string token;
            Nethereum.Signer.EthECKey key = Nethereum.Signer.EthECKey.GenerateKey();
            DateTimeOffset stoppedAt;
            await using (TestFarm before = await TestFarm.StartAsync(new(settings), fromConfiguration: true))
            {
                job = await before.SubmitAsync("1");
                await WaitUntilRunningAsync(before, job.Id);
                var provider = new TestProvider(before, key);
                ChallengeResponse challenge = await provider.ChallengeAsync();
                using (HttpResponseMessage login = await provider.PostLoginAsync(challenge.Challenge, provider.Sign(challenge.Challenge)))
                {
                    await TestFarm.ExpectAsync(login, HttpStatusCode.OK);
                    token = (await login.Content.ReadFromJsonAsync<LoginResponse>(TestFarm.Json))!.Token;
                }

                using HttpResponseMessage leased = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 5), token);
                await TestFarm.ExpectAsync(leased, HttpStatusCode.OK);
                grant = (await leased.Content.ReadFromJsonAsync<LeaseGrant>(TestFarm.Json))!;
                stoppedAt = before.Time.GetUtcNow();
            }

            // Down for five minutes, far past the lease's 60 s; the provider keeps its token, lease id and URLs.
            await using TestFarm after = await TestFarm.StartAsync(new(settings), fromConfiguration: true, time: new FakeTimeProvider(stoppedAt + TimeSpan.FromMinutes(5)));
            await after.RunMaintenanceAsync();
            var same = new TestProvider(after, key);
            using (HttpResponseMessage heartbeat = await same.SendAsync(HttpMethod.Post, $"api/leases/{grant.LeaseId}/heartbeat", token: token))
            {
                await TestFarm.ExpectAsync(heartbeat, HttpStatusCode.OK);
            }

            // The same signed URLs at the restarted coordinator's port (a real restart keeps its address).
            LeaseGrant rebased = grant with
            {
                Uploads = [.. grant.Uploads.Select(u => u with { Upload = u.Upload with { Url = new Uri(after.Host.Address, u.Upload.Url.PathAndQuery) } })],
            };
            CompleteRequest report = await same.UploadFramesAsync(rebased);
            using HttpResponseMessage completed = await same.SendAsync(HttpMethod.Post, $"api/leases/{grant.LeaseId}/complete", report, token);
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);

            TaskRecord task = (await after.Host.Services.GetRequiredService<IFarmStore>().GetTaskAsync(job.Id, 0))!;
            Assert.Equal(FarmTaskState.Succeeded, task.State);
            Assert.Empty(task.FailedBy);
        }
        finally
        {
            Directory.Delete(objects, recursive: true);
        }
    }

    private static async Task WaitUntilRunningAsync(TestFarm farm, Guid jobId)
    {
        for (int i = 0; i < 200 && (await farm.GetJobAsync(jobId)).Job.State != JobState.Running; i++)
        {
            await Task.Delay(50);
        }
    }
}
