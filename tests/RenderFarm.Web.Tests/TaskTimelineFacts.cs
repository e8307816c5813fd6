using RenderFarm.Coordinator.Web;
using RenderFarm.Core.Farm;

namespace RenderFarm.Web.Tests;

/// <summary>The timeline entries derived from one change of a task record.</summary>
public sealed class TaskTimelineFacts
{
    private const string Alice = "0x00000000000000000000000000000000000000a1";
    private const string Bob = "0x00000000000000000000000000000000000000b2";
    private static readonly DateTimeOffset s_now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static readonly TaskRecord s_queued = new() { JobId = Guid.NewGuid(), Index = 2, FirstFrame = 3, LastFrame = 3, HangfireJobId = "7" };

    private static readonly TaskRecord s_leased = s_queued with
    {
        State = FarmTaskState.Leased, Provider = Alice, LeaseId = "lease-1", Attempts = 1, StartedAt = s_now, LeaseExpiresAt = s_now.AddSeconds(60),
    };

    [Fact]
    public void A_lease_then_a_heartbeat_then_an_upload_each_make_one_entry()
    {
        TaskEventRecord lease = Assert.Single(TaskTimeline.Diff(s_queued, s_leased, s_now));
        Assert.Equal((TaskEventKind.Leased, Alice, s_queued.JobId, 2), (lease.Kind, lease.Provider, lease.JobId, lease.TaskIndex));
        Assert.Contains("attempt 1", lease.Detail, StringComparison.Ordinal);

        TaskRecord beat = s_leased with { LeaseExpiresAt = s_now.AddSeconds(80) };
        Assert.Equal(TaskEventKind.Heartbeat, Assert.Single(TaskTimeline.Diff(s_leased, beat, s_now.AddSeconds(20))).Kind);

        TaskRecord uploaded = beat with
        {
            State = FarmTaskState.Verifying,
            LeaseId = null,
            Outputs = [new FrameOutput(3, "jobs/x/frames/000003.l.png", new string('a', 64), 12_345, 0.5)],
        };
        TaskEventRecord upload = Assert.Single(TaskTimeline.Diff(beat, uploaded, s_now.AddSeconds(30)));
        Assert.Equal(TaskEventKind.Uploaded, upload.Kind);
        Assert.Contains("12,345 bytes", upload.Detail, StringComparison.Ordinal);
        Assert.Contains("checks pending", upload.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reported_failure_names_its_reason_and_a_hand_back_says_so()
    {
        var failure = new TaskFailure(Alice, "out of device memory", s_now, Standing: false, Count: 1, Origin: "10.0.0.9");
        TaskRecord failed = s_leased with { State = FarmTaskState.Queued, LeaseId = null, HangfireJobId = "8", Failures = [failure] };
        IReadOnlyList<TaskEventRecord> events = TaskTimeline.Diff(s_leased, failed, s_now);
        Assert.Equal([TaskEventKind.Failed, TaskEventKind.Queued], events.Select(e => e.Kind));
        Assert.Equal($"Failed on {Alice}: out of device memory", events[0].Detail);

        // The remote address is never shown (it is not the client's to see).
        Assert.DoesNotContain("10.0.0.9", string.Concat(events.Select(e => e.Detail)), StringComparison.Ordinal);

        TaskRecord handedBack = s_leased with { State = FarmTaskState.Queued, LeaseId = null };
        Assert.Contains("handed the task back", Assert.Single(TaskTimeline.Diff(s_leased, handedBack, s_now)).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Checks_are_recorded_when_planned_leased_and_decided_with_their_numbers()
    {
        TaskRecord verifying = s_leased with { State = FarmTaskState.Verifying, LeaseId = null };
        var check = new SpotCheckRecord { Number = 1, Frame = 3, RenderedBy = Alice, OutputSha256 = "ab", Tiles = [new PixelTile(0, 0, 8, 8), new PixelTile(8, 8, 8, 8)] };
        TaskRecord planned = verifying with { Checks = [check] };
        TaskEventRecord plan = Assert.Single(TaskTimeline.Diff(verifying, planned, s_now));
        Assert.Equal(TaskEventKind.CheckQueued, plan.Kind);
        Assert.Contains("2 tiles", plan.Detail, StringComparison.Ordinal);

        TaskRecord leased = planned with { Checks = [check with { State = SpotCheckState.Leased, Validator = Bob, LeaseId = "c1" }] };
        TaskEventRecord lease = Assert.Single(TaskTimeline.Diff(planned, leased, s_now));
        Assert.Equal((TaskEventKind.CheckLeased, Bob), (lease.Kind, lease.Provider));

        TaskRecord passed = leased with
        {
            State = FarmTaskState.Succeeded,
            Checks = [check with { State = SpotCheckState.Passed, Validator = Bob, TilesCompared = 2, MinPsnr = 48.24, Verdict = "Tiles match." }],
        };
        IReadOnlyList<TaskEventRecord> decided = TaskTimeline.Diff(leased, passed, s_now);
        Assert.Equal([TaskEventKind.CheckDecided, TaskEventKind.Succeeded], decided.Select(d => d.Kind));
        Assert.Contains("passed — 2 tiles compared, 0 failed, lowest PSNR 48.2 dB", decided[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_open_canary_leaves_no_entry_until_it_is_decided()
    {
        // Guards the canary's secrecy: the job's owner may be a provider, and must not learn which lease is a canary.
        TaskRecord succeeded = s_leased with { State = FarmTaskState.Succeeded, LeaseId = null };
        var canary = new SpotCheckRecord { Number = 2, Frame = 3, RenderedBy = Alice, OutputSha256 = "ab", Tiles = [new PixelTile(0, 0, 32, 32)], WholeFrame = true, Canary = true };
        TaskRecord queued = succeeded with { Checks = [canary] };
        TaskRecord leased = succeeded with { Checks = [canary with { State = SpotCheckState.Leased, Validator = Bob }] };
        Assert.Empty(TaskTimeline.Diff(succeeded, queued, s_now));
        Assert.Empty(TaskTimeline.Diff(queued, leased, s_now));

        TaskRecord decided = succeeded with { Checks = [canary with { State = SpotCheckState.Failed, Validator = Bob, TilesFailed = 3, TilesCompared = 16 }] };
        Assert.Equal(TaskEventKind.CheckDecided, Assert.Single(TaskTimeline.Diff(leased, decided, s_now)).Kind);
    }
}
