using System.Globalization;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// Turns one change of a task record into its timeline entries: a pure function of the record before and after, so the
/// timeline needs no hook in the code that leases, checks or fails tasks. Open canaries leave no entry until they are
/// decided: the job's owner may be a provider too, and must not learn which lease is a canary.
/// </summary>
internal static class TaskTimeline
{
    /// <summary>The entries for the change from <paramref name="before"/> to <paramref name="after"/>, in the order they happened.</summary>
    public static IReadOnlyList<TaskEventRecord> Diff(TaskRecord before, TaskRecord after, DateTimeOffset now)
    {
        var events = new List<TaskEventRecord>();
        void Add(TaskEventKind kind, string? provider, string detail) =>
            events.Add(new TaskEventRecord { JobId = after.JobId, TaskIndex = after.Index, At = now, Kind = kind, Provider = provider, Detail = detail });

        // A lease that ended without an upload: a reported failure, a lapse or a hand-back.
        if (before.State == FarmTaskState.Leased && after.State == FarmTaskState.Queued)
        {
            TaskFailure? failure = after.Failures.FirstOrDefault(f => !before.Failures.Contains(f) && string.Equals(f.Provider, before.Provider, StringComparison.OrdinalIgnoreCase));
            Add(
                TaskEventKind.Failed,
                before.Provider,
                failure is not null
                    ? $"Failed on {before.Provider}: {failure.Reason}"
                    : $"{before.Provider} handed the task back; queued again");
        }

        if (after.State == FarmTaskState.Queued && after.HangfireJobId is not null && after.HangfireJobId != before.HangfireJobId)
        {
            Add(TaskEventKind.Queued, null, $"Queued for a provider (Hangfire job {after.HangfireJobId})");
        }

        if (after.State == FarmTaskState.Leased && after.LeaseId != before.LeaseId)
        {
            Add(TaskEventKind.Leased, after.Provider, Invariant($"Leased by {after.Provider} (attempt {after.Attempts}); the lease runs to {after.LeaseExpiresAt:HH:mm:ss} UTC unless heartbeats extend it"));
        }
        else if (after.State == FarmTaskState.Leased && before.State == FarmTaskState.Leased && after.LeaseExpiresAt > before.LeaseExpiresAt)
        {
            Add(TaskEventKind.Heartbeat, after.Provider, Invariant($"Heartbeat from {after.Provider}; the lease runs to {after.LeaseExpiresAt:HH:mm:ss} UTC"));
        }

        if (after.Outputs.Count > 0 && !after.Outputs.Select(o => o.Sha256).SequenceEqual(before.Outputs.Select(o => o.Sha256)))
        {
            string outputs = string.Join("; ", after.Outputs.Select(o => Invariant($"frame {o.Frame}: {o.Size:N0} bytes, SHA-256 {o.Sha256[..12]}…, rendered in {o.RenderSeconds:0.00} s")));
            Add(
                TaskEventKind.Uploaded,
                after.Provider,
                $"{after.Provider} uploaded its output, accepted ({outputs}){(after.State == FarmTaskState.Verifying ? "; checks pending" : "")}");
        }

        foreach (SpotCheckRecord check in after.Checks)
        {
            SpotCheckRecord? old = before.Checks.FirstOrDefault(c => c.Number == check.Number);
            bool decided = check.State is SpotCheckState.Passed or SpotCheckState.Failed or SpotCheckState.Cancelled;
            if (check.Canary && !decided)
            {
                continue;
            }

            if (old is null && !decided)
            {
                Add(TaskEventKind.CheckQueued, check.RenderedBy, $"Check #{check.Number} of frame {check.Frame} planned: {Describe(check)}{(check.SampleReason is { } reason ? $" ({reason})" : "")}");
            }

            if (check.State == SpotCheckState.Leased && (old?.State != SpotCheckState.Leased || old.LeaseId != check.LeaseId))
            {
                Add(TaskEventKind.CheckLeased, check.Validator, $"Check #{check.Number} leased by validator {check.Validator}");
            }

            if (decided && old?.State != check.State)
            {
                Add(TaskEventKind.CheckDecided, check.Validator, Decision(check));
            }
        }

        foreach (string rejected in after.RejectedBy.Except(before.RejectedBy, StringComparer.OrdinalIgnoreCase))
        {
            Add(TaskEventKind.Rejected, rejected, $"The output of {rejected} was proven wrong; its work goes to another provider");
        }

        if (after.State != before.State)
        {
            switch (after.State)
            {
                case FarmTaskState.Succeeded:
                    Add(TaskEventKind.Succeeded, after.Provider, Invariant($"Verified: frames {after.FirstFrame}-{after.LastFrame} of {after.Provider} are the client's"));
                    break;
                case FarmTaskState.Failed:
                    Add(TaskEventKind.FailedForGood, null, $"Failed for good: {after.Error ?? "too many providers failed it"}");
                    break;
                case FarmTaskState.Cancelled:
                    Add(TaskEventKind.Cancelled, null, "Cancelled with its job");
                    break;
            }
        }

        return events;
    }

    /// <summary>What kind of check it is, in words.</summary>
    public static string Describe(SpotCheckRecord check) => check switch
    {
        { Canary: true } => "a known-answer canary",
        { Arbitrates: { } first } => Invariant($"a third execution settling check #{first}"),
        { WholeFrame: true } => "the whole frame re-rendered by another provider",
        _ => Invariant($"{check.Tiles.Count} tile{(check.Tiles.Count == 1 ? "" : "s")} re-rendered by another provider"),
    };

    /// <summary>A decided check's numbers and verdict, in words.</summary>
    public static string Decision(SpotCheckRecord check)
    {
        if (check.State == SpotCheckState.Cancelled)
        {
            return $"Check #{check.Number} cancelled: {check.Verdict ?? "no longer needed"}";
        }

        string psnr = check.MinPsnr is { } value ? Invariant($"lowest PSNR {value:0.0} dB") : "identical pixels";
        string hash = check.PHashDistance is { } distance ? Invariant($", pHash distance {distance}") : "";
        string agrees = check.AgreesWithArbitrated is { } agreement ? $", {(agreement ? "agrees" : "disagrees")} with the first validator" : "";
        return Invariant(
            $"Check #{check.Number} by {check.Validator}: {(check.State == SpotCheckState.Passed ? "passed" : "failed")} — {check.TilesCompared} tiles compared, {check.TilesFailed} failed, {psnr}, largest difference {check.MaxDifference:0.####}, {check.MaxShareBeyondTolerance:P1} beyond tolerance{hash}{agrees}. {check.Verdict}");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
