using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Who wins a spot check: <see cref="Arbitration.Decide"/> is a pure function of the task's checks and a verdict.</summary>
public sealed class ArbitrationFacts
{
    private const string Renderer = "0xRenderer";
    private const string First = "0xFirstValidator";
    private const string Third = "0xThirdValidator";
    private const int MaxChecks = 3;
    private static readonly DateTimeOffset s_now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly JobRecord s_job = new()
    {
        Id = Guid.NewGuid(),
        CreatedAt = s_now,
        Spec = new RenderJobSpec
        {
            SceneKey = "scenes/x.glb",
            SceneSha256 = "00",
            SceneFileName = "x.glb",
            Frames = new FrameRange(1, 1),
            Settings = new RenderSettings(),
        },
    };

    [Fact]
    public void A_passed_tile_check_verifies_the_task()
    {
        (TaskRecord task, SpotCheckRecord check) = Verifying(Check(1, First));

        ArbitrationOutcome outcome = Arbitration.Decide(s_job, task, check, Verdict(pass: true), "tiles/1", MaxChecks, s_now);

        Assert.True(outcome.Verified);
        Assert.Equal(FarmTaskState.Succeeded, outcome.Task.State);
        Assert.Equal(SpotCheckState.Passed, outcome.Done.State);
        Assert.Null(outcome.Cheat);
        Assert.Null(outcome.Next);
    }

    [Fact]
    public void A_first_disagreement_asks_for_a_third_execution_and_blames_nobody()
    {
        (TaskRecord task, SpotCheckRecord check) = Verifying(Check(1, First));

        ArbitrationOutcome outcome = Arbitration.Decide(s_job, task, check, Verdict(pass: false), "tiles/1", MaxChecks, s_now);

        Assert.NotNull(outcome.Next);
        Assert.Equal(1, outcome.Next.Arbitrates);
        Assert.Equal(2, outcome.Next.Number);
        Assert.Equal(SpotCheckState.Queued, outcome.Next.State);
        Assert.Contains(outcome.Task.Checks, c => c.Number == 2);
        Assert.Null(outcome.Cheat);
        Assert.False(outcome.Verified);
        Assert.Equal(FarmTaskState.Verifying, outcome.Task.State);
    }

    [Fact]
    public void A_third_execution_that_sides_with_the_first_validator_proves_the_renderer_wrong()
    {
        (TaskRecord task, SpotCheckRecord third) = Verifying(Check(1, First) with { State = SpotCheckState.Failed }, Check(2, Third) with { Arbitrates = 1 });

        ArbitrationOutcome outcome = Arbitration.Decide(s_job, task, third, Verdict(pass: false, agreesWithFirst: true), "tiles/2", MaxChecks, s_now);

        Assert.Equal(Renderer, outcome.Cheat);
        Assert.Null(outcome.WrongValidator);
        Assert.False(outcome.Verified);
    }

    [Fact]
    public void A_third_execution_that_sides_with_the_renderer_proves_the_first_validator_wrong()
    {
        (TaskRecord task, SpotCheckRecord third) = Verifying(Check(1, First) with { State = SpotCheckState.Failed }, Check(2, Third) with { Arbitrates = 1 });

        ArbitrationOutcome outcome = Arbitration.Decide(s_job, task, third, Verdict(pass: true, agreesWithFirst: false), "tiles/2", MaxChecks, s_now);

        Assert.Equal(First, outcome.WrongValidator);
        Assert.Contains(First, outcome.Task.RejectedBy);
        Assert.Null(outcome.Cheat);
        Assert.True(outcome.Verified);
    }

    [Fact]
    public void Executions_that_keep_disagreeing_up_to_the_limit_are_undecided()
    {
        (TaskRecord task, SpotCheckRecord last) = Verifying(
            Check(1, First) with { State = SpotCheckState.Failed },
            Check(2, Third) with { Arbitrates = 1, State = SpotCheckState.Failed },
            Check(3, "0xFourth") with { Arbitrates = 1 });

        ArbitrationOutcome outcome = Arbitration.Decide(s_job, task, last, Verdict(pass: false, agreesWithFirst: false), "tiles/3", MaxChecks, s_now);

        Assert.True(outcome.Undecided);
        Assert.Null(outcome.Next);
        Assert.Null(outcome.Cheat);
    }

    [Fact]
    public void An_unusable_delivered_output_proves_the_renderer_wrong_at_once()
    {
        (TaskRecord task, SpotCheckRecord check) = Verifying(Check(1, First));

        ArbitrationOutcome outcome = Arbitration.Decide(s_job, task, check, Verdict(pass: false) with { OutputUnusable = true }, "tiles/1", MaxChecks, s_now);

        Assert.Equal(Renderer, outcome.Cheat);
        Assert.Null(outcome.Next);
    }

    [Fact]
    public void A_check_of_an_output_that_was_replaced_is_cancelled_and_decides_nothing()
    {
        (TaskRecord task, SpotCheckRecord check) = Verifying(Check(1, First) with { OutputSha256 = "old" });

        ArbitrationOutcome outcome = Arbitration.Decide(s_job, task, check, Verdict(pass: false), "tiles/1", MaxChecks, s_now);

        Assert.Equal(SpotCheckState.Cancelled, outcome.Done.State);
        Assert.Null(outcome.Cheat);
        Assert.Null(outcome.Next);
        Assert.False(outcome.Undecided);
        Assert.False(outcome.Verified);
    }

    [Fact]
    public void Nobody_validates_their_own_output_or_the_same_output_twice()
    {
        (TaskRecord task, SpotCheckRecord check) = Verifying(Check(1, First) with { State = SpotCheckState.Failed }, Check(2, null) with { Arbitrates = 1 });

        Assert.False(Arbitration.MayValidate(task, check, Renderer));
        Assert.False(Arbitration.MayValidate(task, check, First.ToUpperInvariant()));
        Assert.True(Arbitration.MayValidate(task, check, Third));
    }

    private static (TaskRecord Task, SpotCheckRecord Judged) Verifying(params SpotCheckRecord[] checks)
    {
        var task = new TaskRecord
        {
            JobId = s_job.Id,
            Index = 0,
            FirstFrame = 1,
            LastFrame = 1,
            State = FarmTaskState.Verifying,
            Provider = Renderer,
            Outputs = [new FrameOutput(1, "frames/1.png", "sha", 10, 0.1)],
            Checks = checks,
        };
        return (task, checks[^1] with { State = SpotCheckState.Leased });
    }

    private static SpotCheckRecord Check(int number, string? validator) => new()
    {
        Number = number,
        Frame = 1,
        RenderedBy = Renderer,
        OutputSha256 = "sha",
        Tiles = [new PixelTile(0, 0, 8, 8)],
        Validator = validator,
        State = SpotCheckState.Leased,
    };

    private static Verdict Verdict(bool pass, bool? agreesWithFirst = null) =>
        new(pass, 1, pass ? 0 : 1, null, pass ? 0 : 0.5, pass ? 0 : 0.5, null, agreesWithFirst, false, pass ? "pass" : "fail");
}
