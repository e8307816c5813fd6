using System.Globalization;
using System.Text;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// Dishonest providers against the spot checks, end to end: one farm of processes in which three honest workers
/// first render a job on their own (the honest run and the reference frames), then nine cheating workers
/// (tests/RenderFarm.CheatingWorker, one per way of faking a frame) join them for the same job again.
/// </summary>
/// <remarks>
/// <para>
/// Why every cheat is caught for sure, not just probably. A 32×32 frame gets one 8×8 spot-check tile, placed from the
/// coordinator's secret. Measured on this very job (Cornell box, 32×32, 8 spp, seed 7, frames 1-24) over every tile a
/// plan can pick, each fake fails every tile, and by a wide margin over the 5 % of a tile's pixels allowed beyond the
/// tolerance: the least share beyond it is 47 % for blank, 95 % noise, 33 % other frame, 62 % mirrored, 58 % shifted,
/// 41 % low spp, 27 % downscaled, 44 % another job's frame and 12.5 % JPEG q85 (see
/// <c>CheatingFrameRenderer.JpegQuality</c> for higher qualities, which slip through). So a cheater's first delivered
/// fake fails its check, and the third execution (2 of 3) agrees with the first validator because honest renders on
/// one device are identical (the honest run shows it: every check passes with no difference at all). A cheater that
/// takes a known-answer canary from the render queue before its own fake is judged is caught by the canary instead.
/// </para>
/// <para>
/// Why every cheater gets a task: all twelve workers wait in a lease long poll when the job's 24 tasks are queued, a
/// PostgreSQL NOTIFY wakes them together, and a task (scene download, render, upload, report) takes far longer than a
/// wake-up; the slowest cheaters take one task each, the instant ones (blank, noise, other job) several.
/// </para>
/// </remarks>
[Collection(FarmCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class CheatFacts
{
    // Tiny frames at few samples: verification is under test, not the renderer. 8 spp, so that low-spp has 1.
    private const string Size = "32x32";
    private const int Samples = 8;
    private const uint Seed = 7;
    private const int FrameCount = 24;

    private static readonly string[] s_cheats =
        ["blank", "noise", "other-frame", "mirrored", "shifted", "low-spp", "downscaled", "other-job", "reencoded"];

    private static readonly string[] s_honest = ["h1", "h2", "h3"];
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromMinutes(3);

    private readonly PostgresFixture _postgres;
    private readonly S3Fixture _s3;
    private readonly ITestOutputHelper _output;

    public CheatFacts(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output)
    {
        _postgres = postgres;
        _s3 = s3;
        _output = output;
    }

    [Fact]
    public async Task Every_cheat_is_caught_and_redone_while_an_honest_run_of_the_same_job_is_fully_verified()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            FarmWorker[] honest = await Task.WhenAll(s_honest.Select(farm.StartWorkerAsync));
            string scene = await farm.UploadSceneAsync();
            var request = new SubmitJobRequest(scene, $"1-{FrameCount}", ChunkSize: 1, Size: Size, SamplesPerPixel: Samples, Seed: Seed);

            // 1. The honest run: every frame accepted and verified (what settlement pays for), no failed check.
            JobSummary honestJob = await farm.SubmitAsync(request);
            JobDetails honestRun = await WaitForSettlementAsync(farm, honestJob.Id);
            AssertHonestRun(honestRun, [.. honest.Select(w => w.Address)]);
            Dictionary<int, Image<Rgb24>> reference = await DownloadFramesAsync(farm, honestRun);

            // 2. The other-job cheater needs a genuine frame of another job first: alone on the farm, it renders one
            // of a job with another seed honestly (its honest peers are stopped meanwhile, or they might take it).
            foreach (FarmWorker worker in honest)
            {
                worker.Process.Terminate();
                Assert.True(await worker.Process.WaitForExitAsync(TimeSpan.FromSeconds(15)), $"{worker.Process.Name} still runs 15 s after SIGTERM.");
            }

            FarmWorker otherJob = await farm.StartCheatingWorkerAsync("other-job", "other-job");
            JobSummary warmUp = await farm.SubmitAsync(request with { Frames = "1", Seed = Seed + 1 });
            await otherJob.Process.WaitForLineAsync(
                l => l.StartsWith($"Completed task 0 of job {warmUp.Id}", StringComparison.Ordinal), "the warm-up task done", TimeSpan.FromSeconds(60));

            // 3. The honest workers come back (same keys) with the other eight cheaters; the warm-up frame is verified.
            FarmWorker[] started = await Task.WhenAll([
                .. s_honest.Select(farm.StartWorkerAsync),
                .. s_cheats.Where(c => c != "other-job").Select(c => farm.StartCheatingWorkerAsync(c, c))]);
            honest = started[..s_honest.Length];
            Dictionary<string, FarmWorker> cheaters = s_cheats.Where(c => c != "other-job")
                .Zip(started[s_honest.Length..])
                .ToDictionary(p => p.First, p => p.Second);
            cheaters["other-job"] = otherJob;
            JobDetails warmUpDone = await farm.WaitForCompletionAsync(warmUp.Id, s_jobTimeout);
            Assert.Equal(otherJob.Address, Assert.Single(warmUpDone.Tasks).Provider, ignoreCase: true);

            // Every worker is back in its lease long poll a few milliseconds after signing in or finishing a check.
            await Task.Delay(TimeSpan.FromMilliseconds(500));

            // 4. The same job again, with the cheaters in the farm.
            JobSummary cheatJob = await farm.SubmitAsync(request);
            JobDetails cheatRun = await WaitForSettlementAsync(farm, cheatJob.Id);
            farm.Note(Report(cheatRun, cheaters));
            string[] honestAddresses = [.. honest.Select(w => w.Address)];

            // Every frame finally delivered is an honest provider's, verified, and the same picture as the honest run's.
            Assert.All(cheatRun.Tasks, t => Assert.Equal(FarmTaskState.Succeeded, t.State));
            Assert.Equal(Enumerable.Range(1, FrameCount), cheatRun.Tasks.SelectMany(t => t.Frames).Select(f => f.Frame).Order());
            foreach (TaskDetails task in cheatRun.Tasks)
            {
                Assert.True(
                    honestAddresses.Contains(task.Provider, StringComparer.OrdinalIgnoreCase),
                    $"Frame {task.FirstFrame} was accepted from {Who(task.Provider, cheaters)}, not from an honest worker.");
                Assert.True(IsVerified(task), $"Frame {task.FirstFrame} of {task.Provider} has no passed check of its output.");
            }

            foreach ((int frame, Image<Rgb24> delivered) in await DownloadFramesAsync(farm, cheatRun))
            {
                using (delivered)
                {
                    int difference = MaxDifference(delivered, reference[frame]);
                    Assert.True(difference <= 1, $"Frame {frame} differs from the honest run's by up to {difference} levels.");
                }
            }

            // Every cheater delivered at least one fake (or answered a canary), was proven wrong, by two executions
            // against its one or by a canary it answered wrongly, and is recorded as rejected; no honest worker is.
            var failures = new List<string>();
            foreach ((string cheat, FarmWorker cheater) in cheaters)
            {
                SpotCheckRecord[] checks = [.. ChecksOf(cheatRun, cheater.Address)];
                SpotCheckRecord[] canaries = [.. CanariesOf(cheatRun, cheater.Address)];
                if (checks.Length == 0 && canaries.Length == 0)
                {
                    failures.Add($"{cheat}: delivered no frame of the job and answered no canary, so it was never put to the test.");
                }
                else if (!checks.Any(c => c.State == SpotCheckState.Failed && c.Arbitrates is not null && c.AgreesWithArbitrated == true)
                    && !canaries.Any(c => c.State == SpotCheckState.Failed))
                {
                    failures.Add($"{cheat}: neither a third execution nor a canary proved it wrong; checks: {string.Join("; ", checks.Concat(canaries).Select(c => $"{c.State} {c.Verdict}"))}");
                }

                if (!cheatRun.Tasks.Any(t => t.RejectedBy!.Contains(cheater.Address, StringComparer.OrdinalIgnoreCase)))
                {
                    failures.Add($"{cheat}: not recorded as rejected on any task.");
                }
            }

            Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
            Assert.All(cheatRun.Tasks, t => Assert.DoesNotContain(t.RejectedBy!, r => honestAddresses.Contains(r, StringComparer.OrdinalIgnoreCase)));

            // Settlement pays only verified frames: none of a cheater's.
            JobSettlement settlement = cheatRun.Settlement!;
            Assert.DoesNotContain(settlement.Payouts, p => cheaters.Values.Any(c => string.Equals(c.Address, p.Provider, StringComparison.OrdinalIgnoreCase)));
            AssertPaysEveryFrame(settlement);
            foreach (Image<Rgb24> image in reference.Values)
            {
                image.Dispose();
            }
        });
    }

    private static void AssertHonestRun(JobDetails job, string[] honest)
    {
        Assert.Equal(JobState.Completed, job.Job.State);
        Assert.Equal(Enumerable.Range(1, FrameCount), job.Tasks.SelectMany(t => t.Frames).Select(f => f.Frame).Order());
        foreach (TaskDetails task in job.Tasks)
        {
            Assert.Equal(FarmTaskState.Succeeded, task.State);
            Assert.Equal(1, task.Attempts);
            Assert.Contains(task.Provider, honest, StringComparer.OrdinalIgnoreCase);
            Assert.Empty(task.RejectedBy!);

            // Every check passed at once, by another provider: no disagreement, so no third execution. Canaries
            // answered by the honest workers passed too; one nobody answered before the job ended is cancelled.
            Assert.NotEmpty(task.Checks!);
            foreach (SpotCheckRecord check in task.Checks!.Where(c => !(c.Canary && c.State == SpotCheckState.Cancelled)))
            {
                Assert.True(
                    check is { State: SpotCheckState.Passed, TilesFailed: 0, Arbitrates: null },
                    $"Honest frame {task.FirstFrame}, check {check.Number}: {check.State}, {check.Verdict}");
                Assert.Equal(task.Provider, check.RenderedBy, ignoreCase: true);
                Assert.NotEqual(check.RenderedBy, check.Validator, StringComparer.OrdinalIgnoreCase);
            }

            Assert.True(IsVerified(task), $"Honest frame {task.FirstFrame} is not verified.");
        }

        Assert.Empty(job.Settlement!.Slashes);
        AssertPaysEveryFrame(job.Settlement);
    }

    // The coordinator pays each verified frame once. Without a ledger or an escrow (these farms have neither yet) the
    // settlement is recorded with nothing paid and says why; with them, the payouts must cover every frame.
    private static void AssertPaysEveryFrame(JobSettlement settlement)
    {
        if (settlement.Payouts.Count > 0)
        {
            Assert.Equal(FrameCount, settlement.Payouts.Sum(p => p.Frames));
        }
        else
        {
            Assert.False(string.IsNullOrEmpty(settlement.Note), "Nothing was paid and the settlement does not say why.");
        }
    }

    // What settlement pays for: a passed check of exactly the accepted output, by its provider.
    private static bool IsVerified(TaskDetails task) => task.Frames.All(f => task.Checks!.Any(c =>
        c.State == SpotCheckState.Passed && c.Frame == f.Frame && c.OutputSha256 == f.Sha256
        && string.Equals(c.RenderedBy, task.Provider, StringComparison.OrdinalIgnoreCase)));

    // Checks of the provider's own outputs.
    private static IEnumerable<SpotCheckRecord> ChecksOf(JobDetails job, string provider) =>
        job.Tasks.SelectMany(t => t.Checks!).Where(c => !c.Canary && string.Equals(c.RenderedBy, provider, StringComparison.OrdinalIgnoreCase));

    // Canaries the provider answered.
    private static IEnumerable<SpotCheckRecord> CanariesOf(JobDetails job, string provider) =>
        job.Tasks.SelectMany(t => t.Checks!).Where(c => c.Canary && string.Equals(c.Validator, provider, StringComparison.OrdinalIgnoreCase));

    private static async Task<JobDetails> WaitForSettlementAsync(Farm farm, Guid jobId)
    {
        await farm.WaitForCompletionAsync(jobId, s_jobTimeout);
        return await farm.WaitForJobAsync(jobId, d => d.Settlement is not null, "settlement", TimeSpan.FromSeconds(30));
    }

    private static async Task<Dictionary<int, Image<Rgb24>>> DownloadFramesAsync(Farm farm, JobDetails job)
    {
        var frames = new Dictionary<int, Image<Rgb24>>();
        foreach (FrameLink link in job.Tasks.SelectMany(t => t.Frames))
        {
            frames[link.Frame] = Image.Load<Rgb24>(await farm.DownloadAsync(link.Url));
        }

        return frames;
    }

    // The largest difference of any channel of any pixel, in 8-bit levels.
    private static int MaxDifference(Image<Rgb24> a, Image<Rgb24> b)
    {
        Assert.Equal((b.Width, b.Height), (a.Width, a.Height));
        int max = 0;
        for (int y = 0; y < a.Height; y++)
        {
            for (int x = 0; x < a.Width; x++)
            {
                Rgb24 p = a[x, y], q = b[x, y];
                max = Math.Max(max, Math.Max(Math.Abs(p.R - q.R), Math.Max(Math.Abs(p.G - q.G), Math.Abs(p.B - q.B))));
            }
        }

        return max;
    }

    private static string Who(string? address, Dictionary<string, FarmWorker> cheaters) =>
        cheaters.FirstOrDefault(c => string.Equals(c.Value.Address, address, StringComparison.OrdinalIgnoreCase)).Key is { } cheat
            ? $"the {cheat} cheater {address}"
            : address ?? "nobody";

    // One line per cheater: how many of its frames were checked, failed, proven wrong, and the figures of its worst tile.
    private static string Report(JobDetails job, Dictionary<string, FarmWorker> cheaters)
    {
        var text = new StringBuilder("cheaters caught:");
        foreach ((string cheat, FarmWorker cheater) in cheaters)
        {
            SpotCheckRecord[] checks = [.. ChecksOf(job, cheater.Address)];
            SpotCheckRecord[] first = [.. checks.Where(c => c.Arbitrates is null && c.State is SpotCheckState.Passed or SpotCheckState.Failed)];
            SpotCheckRecord? worst = first.Where(c => c.State == SpotCheckState.Failed).OrderBy(c => c.MinPsnr ?? double.PositiveInfinity).FirstOrDefault();
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  {cheat,-12} fakes checked {first.Length}, failed {first.Count(c => c.State == SpotCheckState.Failed)}, passed {first.Count(c => c.State == SpotCheckState.Passed)}, ")
                .Append(CultureInfo.InvariantCulture, $"third executions agreeing with the validator {checks.Count(c => c.AgreesWithArbitrated == true)}, cancelled {checks.Count(c => c.State == SpotCheckState.Cancelled)}, ")
                .Append(CultureInfo.InvariantCulture, $"canaries answered wrongly {CanariesOf(job, cheater.Address).Count(c => c.State == SpotCheckState.Failed)}")
                .Append(worst is null ? "" : $"; e.g. {worst.Verdict}");
        }

        return text.ToString();
    }
}
