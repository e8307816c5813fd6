using System.Globalization;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Web;

/// <summary>A task's state in plain words, as the job page shows it: a pure function of what the client may see.</summary>
internal static class TaskWords
{
    /// <summary>Describes <paramref name="task"/> at <paramref name="now"/>.</summary>
    /// <param name="task">The task as the API shows it to the job's owner (open canaries already hidden).</param>
    /// <param name="leaseExpiresAt">When its current lease lapses; a heartbeat sets it to then + <paramref name="leaseDuration"/>.</param>
    /// <param name="now">The coordinator's clock.</param>
    /// <param name="leaseDuration">How long a lease lasts from its grant or its last heartbeat.</param>
    public static string Describe(TaskDetails task, DateTimeOffset? leaseExpiresAt, DateTimeOffset now, TimeSpan leaseDuration)
    {
        IReadOnlyList<SpotCheckRecord> checks = task.Checks ?? [];
        TaskFailure? lastFailure = task.Failures?.MaxBy(f => f.At);
        switch (task.State)
        {
            case FarmTaskState.Queued when lastFailure is not null:
                return $"waiting for another provider (it failed on {Short(lastFailure.Provider)}: {lastFailure.Reason})";
            case FarmTaskState.Queued:
                return "waiting for a provider";
            case FarmTaskState.Leased:
            {
                string leased = $"leased by {Short(task.Provider)} {Ago(task.StartedAt, now)}";
                DateTimeOffset? heartbeat = leaseExpiresAt - leaseDuration;
                return heartbeat is { } beat && task.StartedAt is { } started && beat > started
                    ? $"{leased}, last heartbeat {Ago(beat, now)}"
                    : $"{leased}, no heartbeat yet";
            }

            case FarmTaskState.Verifying:
            {
                SpotCheckRecord? running = checks.FirstOrDefault(c => c.State == SpotCheckState.Leased);
                if (running is not null)
                {
                    return $"being checked by {Short(running.Validator)} ({TaskTimeline.Describe(running)})";
                }

                SpotCheckRecord? waiting = checks.FirstOrDefault(c => c.State == SpotCheckState.Queued);
                return waiting?.Arbitrates is not null
                    ? "two providers disagree: waiting for a third provider to settle it"
                    : "waiting for a second provider to check it";
            }

            case FarmTaskState.Succeeded:
            {
                int passed = checks.Count(c => c.State == SpotCheckState.Passed);
                return passed == 0
                    ? $"done by {Short(task.Provider)} (not checked)"
                    : string.Create(CultureInfo.InvariantCulture, $"verified: rendered by {Short(task.Provider)}, {passed} check{(passed == 1 ? "" : "s")} passed");
            }

            case FarmTaskState.Failed:
                return lastFailure is not null
                    ? $"failed on {Short(lastFailure.Provider)}: {lastFailure.Reason}"
                    : $"failed: {task.Error ?? "too many providers failed it"}";
            case FarmTaskState.Cancelled:
                return "cancelled";
            default:
                return task.State.ToString();
        }
    }

    /// <summary>An address as <c>0x12ab…cdef</c>.</summary>
    public static string Short(string? address) =>
        address is null ? "nobody" : address.Length <= 12 ? address : $"{address[..6]}…{address[^4..]}";

    /// <summary>How long ago, in the largest fitting unit: "40 s ago", "3 min ago", "2 h ago".</summary>
    public static string Ago(DateTimeOffset? at, DateTimeOffset now)
    {
        if (at is not { } time)
        {
            return "at an unknown time";
        }

        double seconds = Math.Max(0, (now - time).TotalSeconds);
        return seconds switch
        {
            < 90 => string.Create(CultureInfo.InvariantCulture, $"{seconds:0} s ago"),
            < 5400 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 60:0} min ago"),
            < 172800 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600:0} h ago"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{seconds / 86400:0} days ago"),
        };
    }
}
