using System.Net;
using System.Net.Http.Json;
using Nethereum.Signer;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RenderFarm.Coordinator.Leasing;
using Xunit.Abstractions;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Many providers waiting for work at once, on the PostgreSQL backend.</summary>
[Trait("Category", "Integration")]
public sealed class LongPollLoadFacts(ITestOutputHelper output)
{
    private const int Providers = 200;
    private const int WaitSeconds = 8;

    // The coordinator's Hangfire server runs at most 8 workers (CoordinatorServiceCollectionExtensions).
    private const int MaxHangfireWorkers = 8;

    // Guards availability: 200 waiting lease long-polls each held a PostgreSQL connection and a thread, so Npgsql's
    // pool ran dry ("Max Pool Size 100"): 181 of 200 polls answered 500 and /health took 17 s. Waiting polls now hold
    // neither (counted in pg_stat_activity), and fetches share a few connections.
    [Fact]
    public async Task Two_hundred_waiting_long_polls_answer_without_errors_and_health_stays_up()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        string objects = Directory.CreateTempSubdirectory("renderfarm-load-").FullName;
        try
        {
            await using TestFarm farm = await TestFarm.StartAsync(
                new()
                {
                    ["ConnectionStrings:Postgres"] = connectionString,
                    ["Storage:Directory"] = objects,

                    // The 200 providers all sign in from loopback; the per-address login limit is not what is measured.
                    ["Coordinator:Providers:MaxLoginsPerAddressPerMinute"] = "0",
                },
                fromConfiguration: true);
            string[] tokens = await SignInAsync(farm);

            // Each poll on its own connection, as separate provider machines would be.
            using var polls = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Providers + 10 })
            {
                BaseAddress = farm.Host.Address,
                Timeout = TimeSpan.FromSeconds(WaitSeconds + 30),
            };
            Task<HttpResponseMessage>[] waiting = [.. tokens.Select(token => PollAsync(polls, token))];

            // While they wait: health answers within a generous bound, and new work reaches the waiting polls.
            using var health = new HttpClient { BaseAddress = farm.Host.Address, Timeout = TimeSpan.FromSeconds(10) };
            await Task.Delay(TimeSpan.FromSeconds(1));
            for (int i = 0; i < 3; i++)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                using HttpResponseMessage healthy = await health.GetAsync("health");
                Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
                output.WriteLine($"/health answered in {clock.ElapsedMilliseconds} ms with {Providers} polls waiting.");
            }

            // While they wait they hold no Hangfire connection (the one a poll used to sit in): with the pool's idle
            // connections closed, what stays open is the coordinator's own Hangfire server workers, each of which
            // Hangfire.PostgreSql keeps in a LISTEN while it waits for a split, settle or maintenance job, and the one
            // listening session. (The farm store's pool is a data source of its own, which ClearAllPools leaves alone.)
            // Every poll past its first look first: a look holds a connection for its query.
            QueueFetcher fetcher = farm.Host.Services.GetRequiredService<QueueFetcher>();
            for (int i = 0; i < 1200 && fetcher.Signals.Waiting < Providers; i++)
            {
                await Task.Delay(50);
            }

            Assert.Equal(Providers, fetcher.Signals.Waiting);
            NpgsqlConnection.ClearAllPools();
            int held = int.MaxValue;
            for (int i = 0; i < 100 && held > MaxHangfireWorkers; i++)
            {
                await Task.Delay(100);
                held = await CountAsync(connectionString, "renderfarm-hangfire");
            }

            output.WriteLine($"{held} Hangfire connections open with {Providers} polls waiting.");
            Assert.InRange(held, 0, MaxHangfireWorkers);
            Assert.Equal(1, await CountAsync(connectionString, "renderfarm-listen"));

            JobSummary job = await farm.SubmitAsync("1-3");
            HttpResponseMessage[] answers = await Task.WhenAll(waiting);
            try
            {
                HttpResponseMessage[] failed = [.. answers.Where(a => a.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.NoContent))];
                Assert.True(failed.Length == 0, $"{failed.Length} polls failed, e.g. {(failed.Length > 0 ? $"{(int)failed[0].StatusCode}: {await failed[0].Content.ReadAsStringAsync()}" : "")}");
                LeaseGrant[] grants = await Task.WhenAll(answers.Where(a => a.StatusCode == HttpStatusCode.OK)
                    .Select(async a => (await a.Content.ReadFromJsonAsync<LeaseGrant>(TestFarm.Json))!));
                Assert.Equal(3, grants.Length);
                Assert.All(grants, grant => Assert.Equal(job.Id, grant.JobId));
            }
            finally
            {
                foreach (HttpResponseMessage answer in answers)
                {
                    answer.Dispose();
                }
            }

            using HttpResponseMessage after = await health.GetAsync("health");
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        }
        finally
        {
            Directory.Delete(objects, recursive: true);
        }
    }

    private static async Task<int> CountAsync(string connectionString, string applicationName)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "renderfarm-test" }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = @name", connection);
        command.Parameters.AddWithValue("name", applicationName);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<HttpResponseMessage> PollAsync(HttpClient http, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/leases")
        {
            Content = JsonContent.Create(new LeaseRequest(["render"], WaitSeconds), options: TestFarm.Json),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request);
    }

    private static async Task<string[]> SignInAsync(TestFarm farm)
    {
        var tokens = new string[Providers];
        await Parallel.ForAsync(0, Providers, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var provider = new TestProvider(farm, EthECKey.GenerateKey());
            ChallengeResponse challenge = await provider.ChallengeAsync();
            using HttpResponseMessage login = await provider.PostLoginAsync(challenge.Challenge, provider.Sign(challenge.Challenge));
            await TestFarm.ExpectAsync(login, HttpStatusCode.OK);
            tokens[i] = (await login.Content.ReadFromJsonAsync<LoginResponse>(TestFarm.Json))!.Token;
        });
        return tokens;
    }
}
