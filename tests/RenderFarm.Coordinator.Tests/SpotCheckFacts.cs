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

/// <summary>Spot checks through the provider API, with frames and tiles made here (no GPU).</summary>
public sealed partial class SpotCheckFacts
{
    private static readonly Dictionary<string, string?> s_spotChecks = new() { ["Coordinator:SpotChecks"] = "true" };

    // For the facts about tile checks alone: no whole-frame samples interleave with them in the validate queue.
    private static readonly Dictionary<string, string?> s_tilesOnly = new(s_spotChecks) { ["Coordinator:WholeFrameSamples"] = "false" };

    [Fact]
    public async Task Honest_output_passes_its_check_by_another_provider_and_completes_the_job()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        JobSummary job = await farm.SubmitAsync(frames: "1-2");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();

        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, renderer, render, seed: 1);
        JobDetails verifying = await farm.GetJobAsync(job.Id);
        Assert.Equal(FarmTaskState.Verifying, verifying.Tasks[render.TaskIndex].State);
        Assert.Equal(JobState.Running, verifying.Job.State);
        // Unverified frames are not the client's yet.
        Assert.Empty(verifying.Tasks[render.TaskIndex].Frames);
        using (HttpResponseMessage unverified = await farm.Client.GetAsync($"api/jobs/{job.Id}/frames/{render.FirstFrame}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unverified.StatusCode);
        }

        // The renderer never gets the check of its own output. Its first frame of the job is also re-rendered whole.
        Assert.Null(await renderer.LeaseAsync(1, "validate"));
        (LeaseGrant whole, LeaseGrant check) = await LeaseBothChecksAsync(validator);
        await TestFarm.ExpectAsync(await validator.CompleteAsync(whole.LeaseId, await UploadFrameAsync(farm, Noise(1), whole)), HttpStatusCode.OK);
        Assert.Equal(FarmTaskState.Verifying, (await farm.GetJobAsync(job.Id)).Tasks[render.TaskIndex].State);

        Assert.NotNull(check.Validation);
        Assert.Equal(render.FirstFrame, check.Validation.Frame);
        Assert.Empty(check.Uploads);
        Assert.NotEmpty(check.Validation.Tiles);

        await TestFarm.ExpectAsync(await validator.CompleteAsync(check.LeaseId, TilesOf(Noise(1), check)), HttpStatusCode.OK);

        TaskDetails task = (await farm.GetJobAsync(job.Id)).Tasks[render.TaskIndex];
        Assert.Equal(FarmTaskState.Succeeded, task.State);
        Assert.Single(task.Frames);
        Assert.Equal([true, false], task.Checks!.Select(c => c.WholeFrame));
        Assert.All(task.Checks!, c => Assert.Equal(SpotCheckState.Passed, c.State));
        SpotCheckRecord verdict = task.Checks![1];
        Assert.Equal(SpotCheckState.Passed, verdict.State);
        Assert.Equal(renderer.Address, verdict.RenderedBy, ignoreCase: true);
        Assert.Equal(validator.Address, verdict.Validator, ignoreCase: true);
        Assert.Equal(0, verdict.TilesFailed);
        Assert.Null(verdict.MinPsnr); // identical tiles
        Assert.Contains("pass", verdict.Verdict, StringComparison.Ordinal);

        // The second frame: roles swapped.
        LeaseGrant second = await validator.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, validator, second, seed: 2);
        Assert.Null(await validator.LeaseAsync(1, "validate"));
        (LeaseGrant secondWhole, LeaseGrant secondCheck) = await LeaseBothChecksAsync(renderer);
        await TestFarm.ExpectAsync(await renderer.CompleteAsync(secondWhole.LeaseId, await UploadFrameAsync(farm, Noise(2), secondWhole)), HttpStatusCode.OK);
        await TestFarm.ExpectAsync(await renderer.CompleteAsync(secondCheck.LeaseId, TilesOf(Noise(2), secondCheck)), HttpStatusCode.OK);
        Assert.Equal(JobState.Completed, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Fact]
    public async Task A_check_a_provider_may_not_take_does_not_hide_the_work_queued_behind_it()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        await farm.SubmitAsync(frames: "1-2");
        TestProvider first = await farm.LoginAsync();
        TestProvider second = await farm.LoginAsync();
        LeaseGrant firstFrame = await first.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, first, firstFrame, seed: 1);
        LeaseGrant secondFrame = await second.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, second, secondFrame, seed: 2);

        // The check of its own frame heads the queue; the provider gets the one behind it, and the other provider
        // still gets the one it was held back for.
        LeaseGrant? behind = await first.LeaseAsync(1, "validate");
        Assert.NotNull(behind);
        Assert.Equal(secondFrame.FirstFrame, behind.Validation!.Frame);
        LeaseGrant? heldBack = await second.LeaseAsync(1, "validate");
        Assert.NotNull(heldBack);
        Assert.Equal(firstFrame.FirstFrame, heldBack.Validation!.Frame);
    }

    [Fact]
    public async Task A_wrong_output_is_caught_two_of_three_redone_by_another_and_its_provider_blocked()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider cheat = await farm.LoginAsync();
        TestProvider first = await farm.LoginAsync();
        TestProvider second = await farm.LoginAsync();

        // The "true" frame is Noise(7); the cheat delivers Noise(8).
        LeaseGrant render = await cheat.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, cheat, render, seed: 8);

        LeaseGrant check1 = (await first.LeaseAsync(5, "validate"))!;
        await TestFarm.ExpectAsync(await first.CompleteAsync(check1.LeaseId, TilesOf(Noise(7), check1)), HttpStatusCode.OK);
        TaskDetails afterFirst = (await farm.GetJobAsync(job.Id)).Tasks[0];
        Assert.Equal(FarmTaskState.Verifying, afterFirst.State);
        Assert.Equal([SpotCheckState.Failed, SpotCheckState.Queued], afterFirst.Checks!.Select(c => c.State));
        Assert.True(afterFirst.Checks![0].TilesFailed > 0);
        Assert.NotNull(afterFirst.Checks[0].MinPsnr);

        // The third execution goes to neither the frame's provider nor the first validator.
        Assert.Null(await cheat.LeaseAsync(1, "validate"));
        Assert.Null(await first.LeaseAsync(1, "validate"));
        LeaseGrant check2 = (await second.LeaseAsync(5, "validate"))!;
        Assert.Equal(check1.Validation!.Tiles, check2.Validation!.Tiles);
        await TestFarm.ExpectAsync(await second.CompleteAsync(check2.LeaseId, TilesOf(Noise(7), check2)), HttpStatusCode.OK);

        TaskDetails rejected = (await farm.GetJobAsync(job.Id)).Tasks[0];
        Assert.Equal(FarmTaskState.Queued, rejected.State);
        Assert.Empty(rejected.Frames);
        Assert.Equal(cheat.Address, Assert.Single(rejected.RejectedBy!), ignoreCase: true);
        SpotCheckRecord arbitration = rejected.Checks![1];
        Assert.Equal(SpotCheckState.Failed, arbitration.State);
        Assert.True(arbitration.AgreesWithArbitrated);
        Assert.Equal(1, arbitration.Arbitrates);

        // The cheat is blocked from the job; an honest provider redoes the frame and its check passes.
        Assert.Null(await cheat.LeaseAsync(1, "render", "validate"));
        LeaseGrant redo = await first.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, first, redo, seed: 7);
        Assert.Null(await cheat.LeaseAsync(1, "validate"));
        LeaseGrant check3 = (await second.LeaseAsync(5, "validate"))!;
        await TestFarm.ExpectAsync(await second.CompleteAsync(check3.LeaseId, TilesOf(Noise(7), check3)), HttpStatusCode.OK);

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Equal(SpotCheckState.Passed, done.Tasks[0].Checks![^1].State);
        Assert.Equal(first.Address, done.Tasks[0].Provider, ignoreCase: true);
    }

    [Fact]
    public async Task A_wrong_first_validator_is_outvoted_and_blocked()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider honest = await farm.LoginAsync();
        TestProvider liar = await farm.LoginAsync();
        TestProvider arbiter = await farm.LoginAsync();

        LeaseGrant render = await honest.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, honest, render, seed: 3);
        LeaseGrant check1 = (await liar.LeaseAsync(5, "validate"))!;
        await TestFarm.ExpectAsync(await liar.CompleteAsync(check1.LeaseId, TilesOf(Noise(4), check1)), HttpStatusCode.OK);
        LeaseGrant check2 = (await arbiter.LeaseAsync(5, "validate"))!;
        await TestFarm.ExpectAsync(await arbiter.CompleteAsync(check2.LeaseId, TilesOf(Noise(3), check2)), HttpStatusCode.OK);

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Equal(FarmTaskState.Succeeded, done.Tasks[0].State);
        Assert.False(done.Tasks[0].Checks![1].AgreesWithArbitrated);
        Assert.Contains(done.Tasks[0].RejectedBy!, a => string.Equals(a, liar.Address, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_spot_check_report_must_carry_tiles_of_the_right_size()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        await farm.SubmitAsync(frames: "1");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, renderer, render, seed: 1);
        LeaseGrant check = (await validator.LeaseAsync(5, "validate"))!;

        await TestFarm.ExpectProblemAsync(await validator.CompleteAsync(check.LeaseId, new CompleteRequest([])), HttpStatusCode.BadRequest);
        using var wrong = new Image<Rgb24>(3, 3);
        using var stream = new MemoryStream();
        await wrong.SaveAsPngAsync(stream);
        await TestFarm.ExpectProblemAsync(
            await validator.CompleteAsync(check.LeaseId, new CompleteRequest([], Convert.ToBase64String(stream.ToArray()))), HttpStatusCode.UnprocessableEntity);
        // The renderer cannot act on the validator's lease.
        await TestFarm.ExpectProblemAsync(await renderer.CompleteAsync(check.LeaseId, TilesOf(Noise(1), check)), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_lapsed_spot_check_lease_goes_back_to_the_queue_and_its_lease_is_lost()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_tilesOnly);
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider slow = await farm.LoginAsync();
        TestProvider other = await farm.LoginAsync();
        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, renderer, render, seed: 5);
        LeaseGrant check = (await slow.LeaseAsync(5, "validate"))!;
        await TestFarm.ExpectAsync(await slow.HeartbeatAsync(check.LeaseId), HttpStatusCode.OK);

        farm.Time.Advance(TimeSpan.FromSeconds(61));
        Assert.True(await farm.RunMaintenanceAsync() >= 1);

        await TestFarm.ExpectProblemAsync(await slow.CompleteAsync(check.LeaseId, TilesOf(Noise(5), check)), HttpStatusCode.Conflict);
        LeaseGrant again = (await other.LeaseAsync(5, "validate"))!;
        Assert.Equal(check.Validation!.Tiles, again.Validation!.Tiles);
        await TestFarm.ExpectAsync(await other.CompleteAsync(again.LeaseId, TilesOf(Noise(5), again)), HttpStatusCode.OK);
        Assert.Equal(JobState.Completed, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Fact]
    public async Task Cancelling_a_job_cancels_its_pending_spot_checks()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, renderer, render, seed: 6);

        using HttpResponseMessage cancel = await farm.Client.PostAsync($"api/jobs/{job.Id}/cancel", null);
        await TestFarm.ExpectAsync(cancel, HttpStatusCode.OK);

        TaskDetails task = (await farm.GetJobAsync(job.Id)).Tasks[0];
        Assert.Equal(FarmTaskState.Cancelled, task.State);
        // The tile check and the whole-frame sample of the renderer's first frame.
        Assert.Equal(2, task.Checks!.Count);
        Assert.All(task.Checks!, c => Assert.Equal(SpotCheckState.Cancelled, c.State));
        Assert.Null(await validator.LeaseAsync(1, "validate"));
    }

    [Fact]
    public async Task Spot_check_tiles_are_planned_by_the_coordinator_secret()
    {
        // Same secret, same job and frame: same tiles; the plan is an auditable function of the secret.
        const string secret = "a-spot-check-secret-of-the-test";
        var settings = new Dictionary<string, string?>(s_spotChecks) { ["Coordinator:SpotCheckSecret"] = secret };
        await using TestFarm farm = await TestFarm.StartAsync(settings);
        JobSummary job = await farm.SubmitAsync(frames: "1");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await CompleteWithNoiseAsync(farm, renderer, render, seed: 6);
        (_, LeaseGrant check) = await LeaseBothChecksAsync(validator);

        // 32x32 at 3 % holds no 8x8 tile, so the coordinator allows the one tile a frame needs.
        Verification.SpotCheckPlan plan = Verification.SpotCheckPlan.Create(
            System.Text.Encoding.UTF8.GetBytes(secret), job.Id, 1, 32, 32, 8, 64.0 / 1024);
        Assert.Equal(plan.Tiles.Select(t => new PixelTile(t.X, t.Y, t.Width, t.Height)), check.Validation!.Tiles);
    }
}
