using System.Globalization;
using System.IO.Compression;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Farm;
using RenderFarm.Testing;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp;
using Xunit.Abstractions;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// The whole farm as operators run it: a coordinator on PostgreSQL and S3, and provider workers
/// rendering on the local Vulkan device (lavapipe here), each a separate process.
/// </summary>
[Collection(FarmCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class FarmFacts
{
    // Tiny frames: the farm's plumbing is under test, not the renderer.
    private const string TinySize = "24x24";
    private const int TinySamples = 1;

    // About 1.5-2 s per frame on lavapipe with two cores: a two-frame task runs long enough to be
    // caught mid-render.
    private const int SlowWidth = 64;
    private const string SlowSize = "64x64";
    private const int SlowSamples = 32;

    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(2);

    private readonly PostgresFixture _postgres;
    private readonly S3Fixture _s3;
    private readonly ITestOutputHelper _output;

    public FarmFacts(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output)
    {
        _postgres = postgres;
        _s3 = s3;
        _output = output;
    }

    [Fact]
    public async Task MultiFrameJob_IsRenderedByTwoWorkers_EveryFrameOnce()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            FarmWorker[] workers = await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"));
            string scene = await farm.UploadSceneAsync();

            JobSummary submitted = await farm.SubmitAsync(new SubmitJobRequest(scene, "1-8", ChunkSize: 1, Size: TinySize, SamplesPerPixel: TinySamples, Seed: 7));
            Assert.Equal(8, submitted.TasksTotal);
            JobDetails job = await farm.WaitForCompletionAsync(submitted.Id, s_jobTimeout);

            AssertEveryFrameOnce(job, 1, 8);
            string[] addresses = [.. workers.Select(w => w.Address)];
            foreach (TaskDetails task in job.Tasks)
            {
                Assert.True(
                    addresses.Contains(task.Provider, StringComparer.OrdinalIgnoreCase),
                    $"Task {task.Index} was done by {task.Provider}, which is neither worker.");
                Assert.Equal(1, task.Attempts);
            }

            var split = job.Tasks.GroupBy(t => t.Provider!, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Count(), StringComparer.OrdinalIgnoreCase);
            farm.Note($"split: {string.Join(", ", workers.Select(w => $"{w.Process.Name} {split.GetValueOrDefault(w.Address)}"))}");

            // Both workers wait in a long poll when the eight tasks are queued, and a task takes a
            // worker far longer than a wake-up, so both get work.
            foreach (FarmWorker worker in workers)
            {
                Assert.True(split.GetValueOrDefault(worker.Address) > 0, $"{worker.Process.Name} did no task.");
            }

            foreach (TaskDetails task in job.Tasks)
            {
                FrameLink link = Assert.Single(task.Frames);
                byte[] png = await farm.DownloadAsync(link.Url);
                AssertPng(png, 24, 24, link);
            }

            byte[] zipBytes = await farm.DownloadAsync(new Uri(farm.Address, $"api/jobs/{submitted.Id}/frames.zip"));
            using var zip = new ZipArchive(new MemoryStream(zipBytes), ZipArchiveMode.Read);
            Assert.Equal(
                Enumerable.Range(1, 8).Select(f => $"{f:D6}.png"),
                zip.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                int frame = int.Parse(Path.GetFileNameWithoutExtension(entry.Name), CultureInfo.InvariantCulture);
                using var content = new MemoryStream();
                await using (Stream stream = await entry.OpenAsync())
                {
                    await stream.CopyToAsync(content);
                }

                AssertPng(content.ToArray(), 24, 24, job.Tasks.SelectMany(t => t.Frames).Single(f => f.Frame == frame));
            }

            // The bucket holds one accepted copy per frame (keys: frames/{frame:D6}.{leaseId}.png), each beside its
            // thumbnail (.thumb.jpg).
            IReadOnlyList<string> stored = AcceptedFrames(await farm.ListObjectsAsync($"jobs/{submitted.Id:N}/frames/"));
            Assert.Equal(Enumerable.Range(1, 8), stored.Select(FrameOfKey).Order());
        });
    }

    [Fact]
    public async Task WorkerKilledMidTask_JobStillCompletes_EveryFrameOnce()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            FarmWorker a = await farm.StartWorkerAsync("a");
            string scene = await farm.UploadSceneAsync();
            JobSummary submitted = await farm.SubmitAsync(new SubmitJobRequest(scene, "1-2", ChunkSize: 1, Size: SlowSize, SamplesPerPixel: SlowSamples, Seed: 11));
            Assert.Equal(2, submitted.TasksTotal);

            // Killed the moment it reports the lease: a task takes it a second or more (scene
            // download, device set-up, render), so the crash comes mid-task.
            string leasedLine = await a.Process.WaitForLineAsync(l => l.StartsWith("Leased task ", StringComparison.Ordinal), "a lease", TimeSpan.FromSeconds(60));
            a.Process.KillNow();
            Assert.True(await a.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)), "Worker A did not die on SIGKILL.");
            int orphanIndex = int.Parse(leasedLine.Split(' ')[2], CultureInfo.InvariantCulture);
            farm.Note($"killed worker-a holding task {orphanIndex}");

            JobDetails afterKill = await farm.GetJobAsync(submitted.Id);
            TaskDetails orphan = afterKill.Tasks.Single(t => t.Index == orphanIndex);
            Assert.True(
                orphan.State == FarmTaskState.Leased && string.Equals(orphan.Provider, a.Address, StringComparison.OrdinalIgnoreCase) && orphan.Frames.Count == 0,
                $"Task {orphanIndex} should still be leased to the killed worker, unfinished:{Environment.NewLine}{Farm.Describe(afterKill)}");

            // Two live workers, not one: frame verification has another provider re-render parts of
            // each frame, so a farm needs two providers to finish work.
            FarmWorker[] live = await Task.WhenAll(farm.StartWorkerAsync("b"), farm.StartWorkerAsync("c"));
            string[] liveAddresses = [.. live.Select(w => w.Address)];

            // The lapse is recorded as the task's error until it succeeds (success clears it).
            JobDetails lapsed = await farm.WaitForJobAsync(
                submitted.Id,
                d => d.Tasks.Single(t => t.Index == orphanIndex) is var t && !(t.State == FarmTaskState.Leased && t.Attempts == 1),
                $"the lapse of task {orphanIndex}'s lease",
                TimeSpan.FromSeconds(30));
            TaskDetails requeued = lapsed.Tasks.Single(t => t.Index == orphanIndex);
            if (requeued.State != FarmTaskState.Succeeded)
            {
                Assert.Contains("lapsed", requeued.Error ?? "", StringComparison.OrdinalIgnoreCase);
            }

            JobDetails job = await farm.WaitForCompletionAsync(submitted.Id, s_jobTimeout);

            AssertEveryFrameOnce(job, 1, 2);
            TaskDetails redone = job.Tasks.Single(t => t.Index == orphanIndex);
            Assert.True(redone.Attempts >= 2, $"Task {redone.Index} was leased {redone.Attempts} time(s); the lapsed lease should have been granted again.");
            Assert.All(job.Tasks, t => Assert.Contains(t.Provider, liveAddresses, StringComparer.OrdinalIgnoreCase));
            farm.Note($"task {orphanIndex} finished by {redone.Provider} after {redone.Attempts} leases");

            foreach (FrameLink link in job.Tasks.SelectMany(t => t.Frames))
            {
                AssertPng(await farm.DownloadAsync(link.Url), SlowWidth, SlowWidth, link);
            }

            IReadOnlyList<string> stored = AcceptedFrames(await farm.ListObjectsAsync($"jobs/{submitted.Id:N}/frames/"));
            Assert.Equal(Enumerable.Range(1, 2), stored.Select(FrameOfKey).Order());
        });
    }

    [Fact]
    public async Task WorkerStoppedWithSigterm_HandsItsLeaseBack()
    {
        // A 60 s lease: only the hand-back can put the task back within the few seconds allowed below.
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.LongLease);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            FarmWorker a = await farm.StartWorkerAsync("a");
            string scene = await farm.UploadSceneAsync();
            JobSummary submitted = await farm.SubmitAsync(new SubmitJobRequest(scene, "1-2", ChunkSize: 2, Size: SlowSize, SamplesPerPixel: SlowSamples, Seed: 13));
            TaskDetails leased = await WaitForLeaseAsync(farm, submitted.Id, a);

            // Stopped mid-render: the task's two frames take it several seconds.
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            DateTimeOffset stopped = DateTimeOffset.UtcNow;
            a.Process.Terminate();
            Assert.True(await a.Process.WaitForExitAsync(TimeSpan.FromSeconds(15)), "Worker A still runs 15 s after SIGTERM.");
            farm.Note($"worker-a exited {(DateTimeOffset.UtcNow - stopped).TotalSeconds:0.0} s after SIGTERM with code {a.Process.ExitCode}");
            Assert.True(
                a.Process.ExitCode == 0,
                $"Worker A exited with {a.Process.ExitCode} after SIGTERM instead of stopping gracefully with 0 (143 is death by the signal itself: nothing handled it).");
            Assert.Contains($"Handed back task {leased.Index} of job {submitted.Id}.", a.Process.Output, StringComparison.Ordinal);
            Assert.Contains("Worker stopped.", a.Process.Output, StringComparison.Ordinal);

            // Back in the queue at once, far before the lease would have lapsed, with no failure counted.
            JobDetails handedBack = await farm.GetJobAsync(submitted.Id);
            TaskDetails queued = handedBack.Tasks.Single(t => t.Index == leased.Index);
            Assert.True(queued.State == FarmTaskState.Queued, $"Task {leased.Index} is not back in its queue:{Environment.NewLine}{Farm.Describe(handedBack)}");
            Assert.Equal(1, queued.Attempts);
            Assert.True(DateTimeOffset.UtcNow - stopped < TimeSpan.FromSeconds(30), "The hand-back took longer than half the lease; the expiry could explain it.");

            // Two live workers, as a farm needs to verify frames; one of them takes the task over.
            FarmWorker[] live = await Task.WhenAll(farm.StartWorkerAsync("b"), farm.StartWorkerAsync("c"));
            JobDetails job = await farm.WaitForCompletionAsync(submitted.Id, s_jobTimeout);
            AssertEveryFrameOnce(job, 1, 2);
            TaskDetails done = job.Tasks.Single(t => t.Index == leased.Index);
            Assert.Equal(2, done.Attempts);
            Assert.Contains(done.Provider, live.Select(w => w.Address), StringComparer.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public async Task CoordinatorRestart_WorkersCarryOn()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            FarmWorker[] workers = await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"));
            string scene = await farm.UploadSceneAsync();
            JobSummary before = await farm.SubmitAsync(new SubmitJobRequest(scene, "1-2", ChunkSize: 1, Size: TinySize, SamplesPerPixel: TinySamples, Seed: 17));
            await farm.WaitForCompletionAsync(before.Id, s_jobTimeout);

            // A crash, then the same coordinator again: same port, database, bucket and signing key.
            farm.Coordinator!.KillNow();
            Assert.True(await farm.Coordinator.WaitForExitAsync(TimeSpan.FromSeconds(10)), "The coordinator did not die on SIGKILL.");
            farm.Note("coordinator killed");
            await farm.StartCoordinatorAsync();

            // Records from before the crash are still served (the stores are PostgreSQL and S3, not memory).
            JobDetails old = await farm.GetJobAsync(before.Id);
            Assert.Equal(JobState.Completed, old.Job.State);
            AssertEveryFrameOnce(old, 1, 2);
            AssertPng(await farm.DownloadAsync(old.Tasks[0].Frames[0].Url), 24, 24, old.Tasks[0].Frames[0]);

            JobSummary after = await farm.SubmitAsync(new SubmitJobRequest(scene, "1-4", ChunkSize: 1, Size: TinySize, SamplesPerPixel: TinySamples, Seed: 19));
            JobDetails job = await farm.WaitForCompletionAsync(after.Id, s_jobTimeout);
            AssertEveryFrameOnce(job, 1, 4);
            string[] addresses = [.. workers.Select(w => w.Address)];
            Assert.All(job.Tasks, t => Assert.Contains(t.Provider, addresses, StringComparer.OrdinalIgnoreCase));
            foreach (FarmWorker worker in workers)
            {
                // Each was waiting in a lease long poll when the coordinator died, so each saw the outage and retried.
                Assert.False(worker.Process.HasExited, $"{worker.Process.Name} ended while the coordinator was away.");
                Assert.Contains("Retrying in", worker.Process.Output, StringComparison.Ordinal);
            }
        });
    }

    // Polls until a task is leased to the worker and returns it.
    private static async Task<TaskDetails> WaitForLeaseAsync(Farm farm, Guid jobId, FarmWorker worker)
    {
        JobDetails details = await farm.WaitForJobAsync(
            jobId,
            d => d.Tasks.Any(t => t.State == FarmTaskState.Leased && string.Equals(t.Provider, worker.Address, StringComparison.OrdinalIgnoreCase)),
            $"a lease by {worker.Process.Name}",
            TimeSpan.FromSeconds(60));
        TaskDetails leased = details.Tasks.First(t => t.State == FarmTaskState.Leased && string.Equals(t.Provider, worker.Address, StringComparison.OrdinalIgnoreCase));
        farm.Note($"task {leased.Index} leased by {worker.Process.Name}");
        return leased;
    }

    private static void AssertEveryFrameOnce(JobDetails job, int first, int last)
    {
        Assert.All(job.Tasks, t => Assert.Equal(FarmTaskState.Succeeded, t.State));
        Assert.Equal(job.Tasks.Count, job.Job.TasksDone);
        Assert.Equal(Enumerable.Range(first, last - first + 1), job.Tasks.SelectMany(t => t.Frames).Select(f => f.Frame).Order());
        foreach (TaskDetails task in job.Tasks)
        {
            Assert.Equal(Enumerable.Range(task.FirstFrame, task.LastFrame - task.FirstFrame + 1), task.Frames.Select(f => f.Frame).Order());
        }
    }

    private static void AssertPng(byte[] png, int width, int height, FrameLink link)
    {
        Assert.Equal(link.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png)));
        IImageFormat? format = Image.DetectFormat(png);
        Assert.Equal("PNG", format?.Name);
        using Image image = Image.Load(png);
        Assert.Equal((width, height), (image.Width, image.Height));
    }

    // The accepted frames among a job's frame objects, without their thumbnails.
    internal static IReadOnlyList<string> AcceptedFrames(IReadOnlyList<string> keys) =>
        [.. keys.Where(key => key.EndsWith(".png", StringComparison.Ordinal))];

    private static int FrameOfKey(string key) =>
        int.Parse(Path.GetFileName(key).Split('.')[0], CultureInfo.InvariantCulture);
}
