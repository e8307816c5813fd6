using RenderFarm.Coordinator.Web;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Web.Tests;

/// <summary>A task's state in plain words.</summary>
public sealed class TaskWordsFacts
{
    private const string Alice = "0x12ab000000000000000000000000000000003456";
    private const string Bob = "0x9f00000000000000000000000000000000007777";
    private static readonly DateTimeOffset s_now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan s_lease = TimeSpan.FromSeconds(60);

    private static TaskDetails Task(FarmTaskState state, string? provider = null, DateTimeOffset? started = null, IReadOnlyList<SpotCheckRecord>? checks = null, IReadOnlyList<TaskFailure>? failures = null) =>
        new(0, 1, 1, state, provider, 1, started, null, null, [], checks ?? [], [], failures ?? []);

    [Fact]
    public void A_leased_task_says_who_since_when_and_its_last_heartbeat()
    {
        // Granted 40 s ago, heartbeat 3 s ago: the lease now lapses 57 s from now.
        string words = TaskWords.Describe(Task(FarmTaskState.Leased, Alice, s_now.AddSeconds(-40)), s_now.AddSeconds(57), s_now, s_lease);
        Assert.Equal("leased by 0x12ab…3456 40 s ago, last heartbeat 3 s ago", words);

        string fresh = TaskWords.Describe(Task(FarmTaskState.Leased, Alice, s_now.AddSeconds(-2)), s_now.AddSeconds(58), s_now, s_lease);
        Assert.Equal("leased by 0x12ab…3456 2 s ago, no heartbeat yet", fresh);
    }

    [Fact]
    public void A_delivered_frame_waits_for_a_second_provider_then_a_third_on_disagreement()
    {
        var check = new SpotCheckRecord { Number = 1, Frame = 1, RenderedBy = Alice, OutputSha256 = "ab", Tiles = [] };
        Assert.Equal("waiting for a second provider to check it", TaskWords.Describe(Task(FarmTaskState.Verifying, Alice, checks: [check]), null, s_now, s_lease));
        Assert.Equal(
            "two providers disagree: waiting for a third provider to settle it",
            TaskWords.Describe(Task(FarmTaskState.Verifying, Alice, checks: [check with { State = SpotCheckState.Failed }, check with { Number = 2, Arbitrates = 1 }]), null, s_now, s_lease));
        Assert.StartsWith(
            "being checked by 0x9f00…7777",
            TaskWords.Describe(Task(FarmTaskState.Verifying, Alice, checks: [check with { State = SpotCheckState.Leased, Validator = Bob }]), null, s_now, s_lease),
            StringComparison.Ordinal);
    }

    [Fact]
    public void Failures_name_the_provider_and_the_reason()
    {
        TaskFailure failure = new(Bob, "out of device memory", s_now, false, 1);
        Assert.Equal("failed on 0x9f00…7777: out of device memory", TaskWords.Describe(Task(FarmTaskState.Failed, failures: [failure]), null, s_now, s_lease));
        Assert.Equal(
            "waiting for another provider (it failed on 0x9f00…7777: out of device memory)",
            TaskWords.Describe(Task(FarmTaskState.Queued, failures: [failure]), null, s_now, s_lease));
        Assert.Equal("waiting for a provider", TaskWords.Describe(Task(FarmTaskState.Queued), null, s_now, s_lease));
    }
}
