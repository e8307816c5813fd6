using System.Globalization;
using System.Net;
using System.Numerics;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core.Ledger;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

using static RenderFarm.Coordinator.Tests.CheckFrames;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Whole-frame samples of delivered frames and their arbitration.</summary>
public sealed partial class SpotCheckFacts
{
    [Fact]
    public async Task A_whole_frame_sample_of_an_honest_frame_passes_and_counts_the_verified_frame()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await CompleteWithImageAsync(farm, renderer, render, Scene(1));

        (LeaseGrant whole, LeaseGrant tiles) = await LeaseBothChecksAsync(validator);
        Assert.Null(whole.Validation);
        await TestFarm.ExpectAsync(await validator.CompleteAsync(whole.LeaseId, await UploadFrameAsync(farm, Scene(1), whole)), HttpStatusCode.OK);
        await TestFarm.ExpectAsync(await validator.CompleteAsync(tiles.LeaseId, TilesOf(Scene(1), tiles)), HttpStatusCode.OK);

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        SpotCheckRecord sample = Assert.Single(done.Tasks[0].Checks!, c => c.WholeFrame);
        Assert.Equal(SpotCheckState.Passed, sample.State);
        Assert.Equal([new PixelTile(0, 0, 32, 32)], sample.Tiles);
        Assert.Equal((16, 0, 0), (sample.TilesCompared, sample.TilesFailed, sample.PHashDistance));
        Assert.Null(sample.MinPsnr);
        // A provider with no verified frames yet is new: its frames are sampled at the new-provider rate, and its first
        // frame of the job always.
        Assert.Equal(0.25, sample.SampleRate);
        Assert.StartsWith("first frame of the provider in the job", sample.SampleReason, StringComparison.Ordinal);
        Assert.All(done.Tasks[0].Checks!, c => Assert.Equal(0.25, c.SampleRate));

        ProviderRecord counted = (await store.GetProviderAsync(renderer.Address))!;
        Assert.Equal((1L, 0), (counted.VerifiedFrames, counted.TimesCaught));
        Assert.Equal(0, (await store.GetProviderAsync(validator.Address))!.TimesCaught);
    }

    [Theory]
    [InlineData("neighbouring frame")]
    [InlineData("mirrored")]
    public async Task A_cheat_right_in_the_checked_tile_fails_its_whole_frame_sample_two_of_three_and_becomes_suspect(string cheatKind)
    {
        const string secret = "a-spot-check-secret-of-the-test";
        var settings = new Dictionary<string, string?>(s_spotChecks) { ["Coordinator:SpotCheckSecret"] = secret };
        await using TestFarm farm = await TestFarm.StartAsync(settings);
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider cheat = await farm.LoginAsync();
        TestProvider first = await farm.LoginAsync();
        TestProvider second = await farm.LoginAsync();

        // The cheat delivers another picture, but with the one tile the spot check re-renders copied from the true frame.
        Verification.SpotCheckPlan plan = Verification.SpotCheckPlan.Create(
            System.Text.Encoding.UTF8.GetBytes(secret), job.Id, 1, 32, 32, 8, 64.0 / 1024);
        Image<Rgb24> delivered = cheatKind == "mirrored" ? Mirrored(Scene(1)) : Scene(2);
        using (Image<Rgb24> truth = Scene(1))
        {
            foreach (Rectangle tile in plan.Tiles)
            {
                for (int y = tile.Top; y < tile.Bottom; y++)
                {
                    for (int x = tile.Left; x < tile.Right; x++)
                    {
                        delivered[x, y] = truth[x, y];
                    }
                }
            }
        }

        LeaseGrant render = await cheat.LeaseRequiredAsync();
        await CompleteWithImageAsync(farm, cheat, render, delivered);
        (LeaseGrant whole, LeaseGrant tiles) = await LeaseBothChecksAsync(first);
        await TestFarm.ExpectAsync(await first.CompleteAsync(tiles.LeaseId, TilesOf(Scene(1), tiles)), HttpStatusCode.OK);
        await TestFarm.ExpectAsync(await first.CompleteAsync(whole.LeaseId, await UploadFrameAsync(farm, Scene(1), whole)), HttpStatusCode.OK);

        TaskDetails afterFirst = (await farm.GetJobAsync(job.Id)).Tasks[0];
        Assert.Equal(FarmTaskState.Verifying, afterFirst.State);
        Assert.Equal(SpotCheckState.Passed, Assert.Single(afterFirst.Checks!, c => !c.WholeFrame).State);
        SpotCheckRecord failed = afterFirst.Checks!.First(c => c.WholeFrame);
        Assert.Equal(SpotCheckState.Failed, failed.State);
        Assert.True(failed.TilesFailed > 0, failed.Verdict);
        Assert.NotNull(failed.PHashDistance);
        if (cheatKind == "mirrored")
        {
            Assert.True(failed.PHashDistance > 10, failed.Verdict);
        }

        // A third execution of the whole frame, by neither the cheat nor the first validator, decides.
        Assert.Null(await cheat.LeaseAsync(1, "validate"));
        Assert.Null(await first.LeaseAsync(1, "validate"));
        LeaseGrant arbitration = (await second.LeaseAsync(5, "validate"))!;
        Assert.Null(arbitration.Validation);
        await TestFarm.ExpectAsync(await second.CompleteAsync(arbitration.LeaseId, await UploadFrameAsync(farm, Scene(1), arbitration)), HttpStatusCode.OK);

        TaskDetails rejected = (await farm.GetJobAsync(job.Id)).Tasks[0];
        Assert.Equal(FarmTaskState.Queued, rejected.State);
        Assert.Equal(cheat.Address, Assert.Single(rejected.RejectedBy!), ignoreCase: true);
        SpotCheckRecord decided = rejected.Checks!.Single(c => c.Arbitrates == failed.Number);
        Assert.True(decided.WholeFrame);
        Assert.True(decided.AgreesWithArbitrated);
        ProviderRecord caught = (await store.GetProviderAsync(cheat.Address))!;
        Assert.Equal((0L, 1), (caught.VerifiedFrames, caught.TimesCaught));
        Assert.Equal(0, (await store.GetProviderAsync(first.Address))!.TimesCaught);

        // In its next job the caught provider's frames are sampled at the suspect rate.
        JobSummary next = await farm.SubmitAsync(frames: "1");
        // The first job's frame, blocked for the cheat, may come up first and be skipped.
        LeaseGrant? nextRender = null;
        for (int attempt = 0; attempt < 10 && nextRender is null; attempt++)
        {
            nextRender = await cheat.LeaseAsync(2);
        }

        Assert.Equal(next.Id, nextRender?.JobId);

        await CompleteWithImageAsync(farm, cheat, nextRender!, Scene(1));
        TaskDetails nextTask = (await farm.GetJobAsync(next.Id)).Tasks[0];
        Assert.Equal(2, nextTask.Checks!.Count);
        Assert.All(nextTask.Checks!, c => Assert.Equal(0.5, c.SampleRate));
        Assert.Contains("suspect provider", nextTask.Checks!.Single(c => c.WholeFrame).SampleReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_validator_disagreeing_with_a_frame_two_others_agree_on_is_outvoted_caught_and_blocked()
    {
        // The delivered frame is the answer the whole-frame sample already knows; a re-execution that disagrees is put to
        // a third provider.
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider honest = await farm.LoginAsync();
        TestProvider liar = await farm.LoginAsync();
        TestProvider arbiter = await farm.LoginAsync();
        LeaseGrant render = await honest.LeaseRequiredAsync();
        await CompleteWithImageAsync(farm, honest, render, Scene(1));

        (LeaseGrant whole, LeaseGrant tiles) = await LeaseBothChecksAsync(liar);
        await TestFarm.ExpectAsync(await liar.CompleteAsync(whole.LeaseId, await UploadFrameAsync(farm, Mirrored(Scene(1)), whole)), HttpStatusCode.OK);
        await TestFarm.ExpectAsync(await liar.CompleteAsync(tiles.LeaseId, TilesOf(Scene(1), tiles)), HttpStatusCode.OK);
        LeaseGrant arbitration = (await arbiter.LeaseAsync(5, "validate"))!;
        await TestFarm.ExpectAsync(await arbiter.CompleteAsync(arbitration.LeaseId, await UploadFrameAsync(farm, Scene(1), arbitration)), HttpStatusCode.OK);

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        SpotCheckRecord decided = done.Tasks[0].Checks!.Single(c => c.Arbitrates is not null);
        Assert.True(decided.WholeFrame);
        Assert.Equal(SpotCheckState.Passed, decided.State);
        Assert.False(decided.AgreesWithArbitrated);
        Assert.Equal(liar.Address, Assert.Single(done.Tasks[0].RejectedBy!), ignoreCase: true);
        Assert.Equal(1, (await store.GetProviderAsync(liar.Address))!.TimesCaught);
        ProviderRecord counted = (await store.GetProviderAsync(honest.Address))!;
        Assert.Equal((1L, 0), (counted.VerifiedFrames, counted.TimesCaught));
    }

    [Fact]
    public async Task A_whole_frame_report_must_upload_the_frame_at_the_jobs_size()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        await farm.SubmitAsync(frames: "1");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await CompleteWithImageAsync(farm, renderer, render, Scene(1));
        (LeaseGrant whole, LeaseGrant tiles) = await LeaseBothChecksAsync(validator);

        await TestFarm.ExpectProblemAsync(await validator.CompleteAsync(whole.LeaseId, TilesOf(Scene(1), tiles)), HttpStatusCode.BadRequest);
        await TestFarm.ExpectProblemAsync(await validator.CompleteAsync(whole.LeaseId, new CompleteRequest([])), HttpStatusCode.BadRequest);
        CompleteRequest small = await UploadFrameAsync(farm, new Image<Rgb24>(16, 16), whole);
        await TestFarm.ExpectProblemAsync(await validator.CompleteAsync(whole.LeaseId, small), HttpStatusCode.UnprocessableEntity);
        CompleteRequest right = await UploadFrameAsync(farm, Scene(1), whole);
        CompletedFrame reported = right.Frames[0];
        await TestFarm.ExpectProblemAsync(
            await validator.CompleteAsync(whole.LeaseId, new CompleteRequest([reported with { Sha256 = new string('0', 64) }])), HttpStatusCode.UnprocessableEntity);
        await TestFarm.ExpectAsync(await validator.CompleteAsync(whole.LeaseId, right), HttpStatusCode.OK);
    }
}
