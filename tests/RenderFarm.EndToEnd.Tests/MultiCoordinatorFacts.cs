using System.Globalization;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// Several coordinator processes behind one farm: they share one PostgreSQL database (Hangfire and farm records), one
/// S3 bucket and one set of secrets, so any provider or client may reach any of them, and one may die at any moment.
/// </summary>
[Collection(FarmCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class MultiCoordinatorFacts
{
    // Tiny frames: the farm's plumbing is under test. The kill comes the moment B's worker reports its lease, before
    // it has downloaded the scene, so it still comes mid-task.
    private const string Size = "24x24";
    private const int Samples = 1;

    private readonly PostgresFixture _postgres;
    private readonly S3Fixture _s3;
    private readonly ITestOutputHelper _output;

    public MultiCoordinatorFacts(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output)
    {
        _postgres = postgres;
        _s3 = s3;
        _output = output;
    }

    // Coordinator B is killed (SIGKILL) while its worker holds a lease it granted, and while B may be anywhere in a lease
    // of its own (between fetching a queue entry and recording it, say). A's maintenance puts the lapsed lease back,
    // the entries B held come back after the invisibility timeout, and A's workers finish the job.
    [Fact]
    public async Task TwoCoordinators_OneKilledMidJob_EveryFrameOnce_NobodyCharged()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            (FarmProcess b, Uri bAddress) = await farm.StartPeerCoordinatorAsync("coordinator-b");
            FarmWorker[] workers = await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b", bAddress));
            string scene = await farm.UploadSceneAsync();

            // The split runs on whichever coordinator's Hangfire server takes it, A or B.
            JobSummary submitted = await farm.SubmitAsync(new SubmitJobRequest(scene, "1-4", ChunkSize: 1, Size: Size, SamplesPerPixel: Samples, Seed: 23));
            Assert.Equal(4, submitted.TasksTotal);

            string leasedLine = await workers[1].Process.WaitForLineAsync(l => l.StartsWith("Leased task ", StringComparison.Ordinal), "a lease from coordinator B", TimeSpan.FromSeconds(60));
            b.KillNow();
            Assert.True(await b.WaitForExitAsync(TimeSpan.FromSeconds(10)), "Coordinator B did not die on SIGKILL.");
            farm.Note($"coordinator-b killed while worker-b held task {leasedLine.Split(' ')[2]}");

            // The load balancer sends B's providers to A: one more worker on A, so frames keep being cross-checked by two.
            FarmWorker c = await farm.StartWorkerAsync("c");
            JobDetails job = await farm.WaitForCompletionAsync(submitted.Id, TimeSpan.FromMinutes(3));

            Assert.All(job.Tasks, t => Assert.Equal(FarmTaskState.Succeeded, t.State));
            Assert.Equal(Enumerable.Range(1, 4), job.Tasks.SelectMany(t => t.Frames).Select(f => f.Frame).Order());

            // Nobody is charged: no provider was proven wrong (so none is slashed), and every frame was accepted once,
            // so it is paid once.
            Assert.All(job.Tasks, t => Assert.Empty(t.RejectedBy ?? []));
            IReadOnlyList<string> stored = FarmFacts.AcceptedFrames(await farm.ListObjectsAsync($"jobs/{submitted.Id:N}/frames/"));
            Assert.Equal(Enumerable.Range(1, 4), stored.Select(key => int.Parse(Path.GetFileName(key).Split('.')[0], CultureInfo.InvariantCulture)).Order());
            string[] live = [workers[0].Address, c.Address, workers[1].Address];
            Assert.All(job.Tasks, t => Assert.Contains(t.Provider, live, StringComparer.OrdinalIgnoreCase));
            foreach (FrameLink link in job.Tasks.SelectMany(t => t.Frames))
            {
                byte[] png = await farm.DownloadAsync(link.Url);
                Assert.Equal(link.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png)));
            }

            farm.Note($"done by {string.Join(", ", job.Tasks.Select(t => $"{t.Index}:{t.Provider}×{t.Attempts}"))}");
        });
    }
}
