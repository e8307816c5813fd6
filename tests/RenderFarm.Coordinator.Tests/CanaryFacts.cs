using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Testing;
using static RenderFarm.Coordinator.Tests.CheckFrames;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Known-answer canaries on the render queue, through the provider API, with frames made here (no GPU).</summary>
public sealed class CanaryFacts
{
    private static readonly Dictionary<string, string?> s_canaries = new()
    {
        ["Coordinator:SpotChecks"] = "true",
        ["Coordinator:CanaryRate"] = "0.2",
    };

    [Fact]
    public async Task A_verified_frame_comes_back_on_the_render_queue_as_a_canary_only_for_a_provider_with_no_part_in_it()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_canaries);
        (JobSummary job, TestProvider renderer, TestProvider validator, TestProvider taker, LeaseGrant render) = await KnownAnswerAsync(farm);
        int known = render.FirstFrame;

        // The canary is queued but not shown while open: the job's status is public.
        JobDetails verified = await farm.GetJobAsync(job.Id);
        Assert.Equal(FarmTaskState.Succeeded, verified.Tasks[render.TaskIndex].State);
        Assert.DoesNotContain(verified.Tasks.SelectMany(t => t.Checks!), c => c.Canary);

        // Neither the frame's renderer nor its validator is given the canary; they get the other frame's task or nothing.
        LeaseGrant? task = null;
        TestProvider? taskHolder = null;
        for (int attempt = 0; attempt < 4 && task is null; attempt++)
        {
            foreach (TestProvider involved in (TestProvider[])[validator, renderer])
            {
                if (task is null && await involved.LeaseAsync(1) is { } grant)
                {
                    (task, taskHolder) = (grant, involved);
                }
            }
        }

        Assert.NotNull(task);
        Assert.NotEqual(known, task.FirstFrame);

        // The third provider gets it, granted exactly like a one-frame render task.
        LeaseGrant canary = await taker.LeaseRequiredAsync();
        Assert.Equal((known, known, render.TaskIndex), (canary.FirstFrame, canary.LastFrame, canary.TaskIndex));
        Assert.Null(canary.Validation);
        Assert.Equal(known, Assert.Single(canary.Uploads).Frame);
        Assert.Equal((task.JobId, task.Settings, task.SceneFileName, task.Scene.Sha256, task.LeaseId.Length), (canary.JobId, canary.Settings, canary.SceneFileName, canary.Scene.Sha256, canary.LeaseId.Length));
        Assert.DoesNotContain((await farm.GetJobAsync(job.Id)).Tasks.SelectMany(t => t.Checks!), c => c.Canary);

        await CompleteWithImageAsync(farm, taker, canary, Scene(known));
        await CompleteWithImageAsync(farm, taskHolder!, task, Scene(task.FirstFrame));
        await AnswerChecksAsync(farm, taker);

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        SpotCheckRecord answered = Assert.Single(done.Tasks.SelectMany(t => t.Checks!), c => c.Canary && c.State != SpotCheckState.Cancelled);
        Assert.Equal(SpotCheckState.Passed, answered.State);
        Assert.Equal((known, renderer.Address, taker.Address), (answered.Frame, answered.RenderedBy, answered.Validator!), new AddressComparer());
        Assert.True(answered.WholeFrame);
        Assert.StartsWith("canary: the job's first known answer (rate 0.2)", answered.SampleReason, StringComparison.Ordinal);
        Assert.StartsWith("pass", answered.Verdict, StringComparison.Ordinal);
        Assert.Empty(done.Tasks.SelectMany(t => t.RejectedBy ?? []));

        ProviderVerification report = Assert.Single(done.Verification!, v => string.Equals(v.Provider, taker.Address, StringComparison.OrdinalIgnoreCase));
        Assert.Equal((1, 0, false), (report.Canaries, report.CanariesFailed, report.Caught));
        // The canary is not counted as another sample of the renderer's frame.
        ProviderVerification rendered = Assert.Single(done.Verification!, v => string.Equals(v.Provider, renderer.Address, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(1, rendered.WholeFrameSamples);
    }

    [Fact]
    public async Task A_wrong_answer_to_a_canary_is_proof_its_taker_is_caught_blocked_its_work_redone_and_slashed_even_from_a_pending_withdrawal()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_canaries);
        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        (JobSummary job, TestProvider renderer, TestProvider validator, TestProvider cheat, LeaseGrant render) = await KnownAnswerAsync(farm);
        await LockBudgetAndStakeAsync(farm, job, cheat);
        int known = render.FirstFrame;

        // The cheat takes both grants on the render queue, the other frame's task and the canary, and mirrors both.
        LeaseGrant first = await cheat.LeaseRequiredAsync();
        LeaseGrant second = await cheat.LeaseRequiredAsync();
        LeaseGrant canary = first.FirstFrame == known ? first : second;
        LeaseGrant task = first.FirstFrame == known ? second : first;
        Assert.NotEqual(canary.FirstFrame, task.FirstFrame);
        await CompleteWithImageAsync(farm, cheat, canary, Mirrored(Scene(known)));

        // One wrong canary is enough: no third execution. Its lease on the real task is gone and it gets no more work.
        JobDetails caught = await farm.GetJobAsync(job.Id);
        SpotCheckRecord failed = Assert.Single(caught.Tasks.SelectMany(t => t.Checks!), c => c.Canary);
        Assert.Equal(SpotCheckState.Failed, failed.State);
        Assert.StartsWith("fail", failed.Verdict, StringComparison.Ordinal);
        Assert.Contains(cheat.Address, caught.Tasks[render.TaskIndex].RejectedBy!, StringComparer.OrdinalIgnoreCase);
        Assert.Equal(FarmTaskState.Succeeded, caught.Tasks[render.TaskIndex].State);
        Assert.Equal(FarmTaskState.Queued, caught.Tasks[task.TaskIndex].State);
        Assert.Contains("did not reproduce the output two providers agreed on", caught.Tasks[task.TaskIndex].Error, StringComparison.Ordinal);
        Assert.Equal(1, (await store.GetProviderAsync(cheat.Address))!.TimesCaught);
        await TestFarm.ExpectProblemAsync(await cheat.CompleteAsync(task.LeaseId, await UploadFrameAsync(farm, Scene(task.FirstFrame), task)), HttpStatusCode.Conflict);
        Assert.Null(await cheat.LeaseAsync(1));

        // Asking for its whole stake back does not save it: a pending withdrawal is slashed like stake.
        var ledger = (RenderFarm.Ledger.OfflineLedger)farm.Host.Services.GetRequiredService<ILedger>();
        await ledger.Account(cheat.Address).UnstakeAsync(TokenUnits.FromTokens(50));
        Assert.Equal(BigInteger.Zero, await ledger.GetStakeAsync(cheat.Address));

        // The honest providers finish the job; the cheat is slashed and paid nothing.
        LeaseGrant redo = await validator.LeaseRequiredAsync();
        Assert.Equal(task.FirstFrame, redo.FirstFrame);
        await CompleteWithImageAsync(farm, validator, redo, Scene(redo.FirstFrame));
        await AnswerChecksAsync(farm, renderer);

        JobDetails settled = await WaitForSettlementAsync(farm, job.Id);
        Assert.Equal(JobState.Completed, settled.Job.State);
        ProviderSlash slash = Assert.Single(settled.Settlement!.Slashes);
        Assert.Equal(cheat.Address, slash.Provider, ignoreCase: true);
        Assert.Equal(TokenUnits.FromTokens(10), BigInteger.Parse(slash.Amount, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(TokenUnits.FromTokens(40), (await ledger.GetPendingWithdrawalAsync(cheat.Address))!.Amount);
        Assert.DoesNotContain(settled.Settlement.Payouts, p => string.Equals(p.Provider, cheat.Address, StringComparison.OrdinalIgnoreCase));
        ProviderVerification report = Assert.Single(settled.Verification!, v => string.Equals(v.Provider, cheat.Address, StringComparison.OrdinalIgnoreCase));
        Assert.Equal((1, 1, true), (report.Canaries, report.CanariesFailed, report.Caught));
    }

    [Fact]
    public async Task A_canary_nobody_answered_is_cancelled_when_the_job_completes_and_never_holds_it_up()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_canaries);
        (JobSummary job, TestProvider renderer, TestProvider validator, TestProvider idle, LeaseGrant render) = await KnownAnswerAsync(farm);
        LeaseGrant? other = null;
        for (int attempt = 0; attempt < 4 && other is null; attempt++)
        {
            other = await validator.LeaseAsync(1);
        }

        Assert.NotNull(other);
        await CompleteWithImageAsync(farm, validator, other, Scene(other.FirstFrame));
        await AnswerChecksAsync(farm, renderer);

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        SpotCheckRecord canary = Assert.Single(done.Tasks[render.TaskIndex].Checks!, c => c.Canary);
        Assert.Equal(SpotCheckState.Cancelled, canary.State);
        Assert.Equal("The job completed before the canary was answered.", canary.Verdict);
        Assert.Null(await idle.LeaseAsync(1));
    }

    [Fact]
    public async Task No_canary_is_made_when_no_signed_in_provider_could_take_it()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_canaries);
        JobSummary job = await farm.SubmitAsync(frames: "1-2");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();

        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await VerifyAsync(farm, renderer, render, validator);
        LeaseGrant other = await validator.LeaseRequiredAsync();
        Assert.NotEqual(render.FirstFrame, other.FirstFrame);
        await CompleteWithImageAsync(farm, validator, other, Scene(other.FirstFrame));
        await AnswerChecksAsync(farm, renderer);

        JobDetails done = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.DoesNotContain(done.Tasks.SelectMany(t => t.Checks!), c => c.Canary);
    }

    [Fact]
    public async Task An_inference_item_two_providers_agree_on_is_a_canary_on_the_inference_queue_and_a_wrong_tensor_catches_its_taker()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_canaries);
        ModelUploaded model = await farm.UploadAsync<ModelUploaded>("models", "edge-detect.onnx", await File.ReadAllBytesAsync(RepositoryPaths.Combine("samples/edge-detect/edge-detect.onnx")));
        var inputs = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            inputs.Add((await farm.UploadAsync<InputUploaded>("inputs", $"item{i}.npy", NpyFile.Format(InferenceJobFacts.RandomImage(i)))).Sha256);
        }

        using HttpResponseMessage submitted = await farm.Client.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, inputs, ItemsPerTask: 1));
        await TestFarm.ExpectAsync(submitted, HttpStatusCode.Created);
        JobSummary job = (await submitted.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
        TestProvider executor = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        TestProvider cheat = await farm.LoginAsync();

        // The tensors are made here: the coordinator compares outputs, it does not run the model.
        LeaseGrant run = (await executor.LeaseAsync(5, "inference"))!;
        int known = run.FirstFrame;
        await CompleteWithTensorAsync(farm, executor, run, Output(known, 1f));
        LeaseGrant check = (await validator.LeaseAsync(5, "validate"))!;
        Assert.Equal(known, check.FirstFrame);
        await CompleteWithTensorAsync(farm, validator, check, Output(known, 1f));
        Assert.Equal(FarmTaskState.Succeeded, (await farm.GetJobAsync(job.Id)).Tasks[run.TaskIndex].State);

        LeaseGrant first = (await cheat.LeaseAsync(5, "inference"))!;
        LeaseGrant second = (await cheat.LeaseAsync(5, "inference"))!;
        LeaseGrant canary = first.FirstFrame == known ? first : second;
        Assert.Equal((known, known, run.TaskIndex), (canary.FirstFrame, canary.LastFrame, canary.TaskIndex));
        Assert.Equal(run.Inputs, canary.Inputs, (a, b) => a.Item == b.Item && a.Input.Sha256 == b.Input.Sha256);
        await CompleteWithTensorAsync(farm, cheat, canary, Output(known, 1.5f));

        JobDetails caught = await farm.GetJobAsync(job.Id);
        SpotCheckRecord failed = Assert.Single(caught.Tasks.SelectMany(t => t.Checks!), c => c.Canary);
        Assert.Equal(SpotCheckState.Failed, failed.State);
        Assert.Equal(cheat.Address, failed.Validator, ignoreCase: true);
        Assert.Contains("beyond tolerance", failed.Verdict, StringComparison.Ordinal);
        Assert.Contains(cheat.Address, caught.Tasks[run.TaskIndex].RejectedBy!, StringComparer.OrdinalIgnoreCase);
        Assert.Null(await cheat.LeaseAsync(1, "inference"));
    }

    // A stand-in output tensor of one item, scaled (1 honest, anything else wrong).
    private static Tensor Output(int item, float scale)
    {
        var random = new Random(item);
        return new Tensor([1, 1, 24, 24], [.. Enumerable.Range(0, 24 * 24).Select(_ => (float)random.NextDouble() * scale)]);
    }

    private static async Task CompleteWithTensorAsync(TestFarm farm, TestProvider provider, LeaseGrant grant, Tensor output)
    {
        byte[] npy = NpyFile.Format(output);
        FrameUpload upload = Assert.Single(grant.Uploads);
        using (HttpResponseMessage put = await farm.Client.PutAsync(upload.Upload.Url, new ByteArrayContent(npy)))
        {
            await TestFarm.ExpectAsync(put, HttpStatusCode.OK);
        }

        CompleteRequest report = new([new CompletedFrame(upload.Frame, TestFarm.Sha256(npy), npy.Length, 0.5)]);
        await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, report), HttpStatusCode.OK);
    }

    // A two-frame job with three providers signed in, one of whose frames is verified and passed its whole-frame
    // sample (the renderer's first frame of the job always is): a known answer, so a canary of it is queued.
    private static async Task<(JobSummary Job, TestProvider Renderer, TestProvider Validator, TestProvider Third, LeaseGrant Render)> KnownAnswerAsync(TestFarm farm)
    {
        JobSummary job = await farm.SubmitAsync(frames: "1-2");
        TestProvider renderer = await farm.LoginAsync();
        TestProvider validator = await farm.LoginAsync();
        TestProvider third = await farm.LoginAsync();
        LeaseGrant render = await renderer.LeaseRequiredAsync();
        await VerifyAsync(farm, renderer, render, validator);
        return (job, renderer, validator, third, render);
    }

    // Delivers the grant's frame and has the validator pass both of its checks (the provider's first frame of the job is
    // always re-rendered whole), which verifies the task and makes the frame a known answer.
    private static async Task VerifyAsync(TestFarm farm, TestProvider renderer, LeaseGrant render, TestProvider validator)
    {
        await CompleteWithImageAsync(farm, renderer, render, Scene(render.FirstFrame));
        await AnswerChecksAsync(farm, validator);
    }

    // Answers every check waiting on validate honestly.
    private static async Task AnswerChecksAsync(TestFarm farm, TestProvider validator)
    {
        int answered = 0;
        while (await validator.LeaseAsync(1, "validate") is { } check)
        {
            int frame = check.Validation?.Frame ?? check.FirstFrame;
            await TestFarm.ExpectAsync(await validator.CompleteAsync(check.LeaseId, await CheckReportAsync(farm, Scene(frame), check)), HttpStatusCode.OK);
            answered++;
        }

        Assert.True(answered > 0, "No check was waiting.");
    }

    private sealed class AddressComparer : IEqualityComparer<(int, string, string)>
    {
        public bool Equals((int, string, string) x, (int, string, string) y) =>
            x.Item1 == y.Item1 && string.Equals(x.Item2, y.Item2, StringComparison.OrdinalIgnoreCase) && string.Equals(x.Item3, y.Item3, StringComparison.OrdinalIgnoreCase);

        public int GetHashCode((int, string, string) obj) => obj.Item1;
    }
}
