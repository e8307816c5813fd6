using System.Net;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>The same coordinator on Hangfire.PostgreSql and the PostgreSQL farm store (a throwaway server).</summary>
[Trait("Category", "Integration")]
public sealed class PostgresCoordinatorFacts
{
    [Fact]
    public async Task Priorities_leases_and_completion_work_on_postgresql()
    {
        await using PostgresServer server = await PostgresServer.StartAsync();
        string connectionString = await server.CreateDatabaseAsync();
        string objects = Path.Combine(Path.GetTempPath(), "renderfarm-coordinator-pg-" + Guid.NewGuid().ToString("N"));
        try
        {
            await RunAsync(connectionString, objects);
        }
        finally
        {
            Directory.Delete(objects, recursive: true);
        }
    }

    private static async Task RunAsync(string connectionString, string objects)
    {
        await using TestFarm farm = await TestFarm.StartAsync(
            new()
            {
                ["ConnectionStrings:Postgres"] = connectionString,
                ["Storage:Directory"] = objects,
            },
            fromConfiguration: true);

        JobSummary low = await farm.SubmitAsync("1", priority: -1);
        JobSummary normal = await farm.SubmitAsync("1", priority: 0);
        JobSummary high = await farm.SubmitAsync("1-2", chunkSize: 2, priority: 1);
        foreach (JobSummary job in new[] { low, normal, high })
        {
            for (int i = 0; i < 200 && (await farm.GetJobAsync(job.Id)).Job.State != JobState.Running; i++)
            {
                await Task.Delay(50);
            }
        }

        await farm.WaitForQueuedRenderTasksAsync(3);
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant first = await provider.LeaseRequiredAsync();
        Assert.Equal(high.Id, first.JobId);
        Assert.Equal(normal.Id, (await provider.LeaseRequiredAsync()).JobId);
        Assert.Equal(low.Id, (await provider.LeaseRequiredAsync()).JobId);
        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));

        using HttpResponseMessage done = await provider.CompleteAsync(first.LeaseId, await provider.UploadFramesAsync(first));
        await TestFarm.ExpectAsync(done, HttpStatusCode.OK);
        Assert.Equal(JobState.Completed, (await farm.GetJobAsync(high.Id)).Job.State);
    }
}
