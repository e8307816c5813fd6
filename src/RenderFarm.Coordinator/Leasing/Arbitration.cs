using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>What a judged check decides for its task: see <see cref="Arbitration.Decide"/>.</summary>
/// <param name="Task">The task with the judged check (and, for a disagreement, the next execution) in place.</param>
/// <param name="Done">The judged check as stored.</param>
/// <param name="Cheat">The provider proven wrong by two executions against one (or by an unusable output), or null.</param>
/// <param name="WrongValidator">The first validator, when a third execution sided with the provider; or null.</param>
/// <param name="Next">The execution that settles a disagreement, to be queued; or null.</param>
/// <param name="Undecided">Executions kept disagreeing up to the limit: the output is redone without blame.</param>
/// <param name="Verified">Every output of the task is now verified.</param>
internal sealed record ArbitrationOutcome(
    TaskRecord Task, SpotCheckRecord Done, string? Cheat, string? WrongValidator, SpotCheckRecord? Next, bool Undecided, bool Verified);

/// <summary>
/// Who wins a spot check, as a pure function of the task's checks and a verdict: a first disagreement asks for a third
/// execution; two executions against one prove the provider (or the first validator) wrong; executions that keep
/// disagreeing up to <see cref="CoordinatorOptions.MaxChecksPerFrame"/> redo the output without blame. Also the rules
/// of who may execute a check and when a task counts as verified.
/// </summary>
internal static class Arbitration
{
    /// <summary>Applies <paramref name="verdict"/> of <paramref name="check"/> (a check, not a canary) to <paramref name="task"/>.</summary>
    /// <param name="job">The job (inference and render tasks are verified differently).</param>
    /// <param name="task">The checked task as read.</param>
    /// <param name="check">The judged check as read.</param>
    /// <param name="verdict">The judge's verdict.</param>
    /// <param name="resultKey">Where the validator's result is stored.</param>
    /// <param name="maxChecksPerFrame">Most executions of one output's check before it is redone without blame.</param>
    /// <param name="now">Now.</param>
    public static ArbitrationOutcome Decide(
        JobRecord job, TaskRecord task, SpotCheckRecord check, Verdict verdict, string resultKey, int maxChecksPerFrame, DateTimeOffset now)
    {
        bool stale = task.Outputs.FirstOrDefault(o => o.Frame == check.Frame)?.Sha256 != check.OutputSha256;
        SpotCheckRecord done = Finished(check, verdict, resultKey, stale, now);
        IReadOnlyList<SpotCheckRecord> checks = Replace(task.Checks, done);
        string? cheat = null, wrongValidator = null;
        SpotCheckRecord? next = null;
        if (!stale && !verdict.Pass)
        {
            int sameOutput = checks.Count(c => c.Frame == check.Frame && c.OutputSha256 == check.OutputSha256 && c.WholeFrame == check.WholeFrame && !c.Canary);
            if (verdict.OutputUnusable || verdict.AgreesWithArbitrated == true)
            {
                // Two executions against one (or an output the coordinator itself cannot read): the provider is wrong.
                cheat = check.RenderedBy;
            }
            else if (sameOutput < maxChecksPerFrame)
            {
                // A first disagreement, or a third execution that agrees with nobody: one more execution decides.
                next = check with
                {
                    Number = checks.Max(c => c.Number) + 1,
                    Arbitrates = check.Arbitrates ?? check.Number,
                    State = SpotCheckState.Queued,
                    HangfireJobId = null,
                    Validator = null,
                    LeaseId = null,
                    LeaseExpiresAt = null,
                    TilesKey = null,
                    TilesCompared = 0,
                    TilesFailed = 0,
                    MinPsnr = null,
                    MaxDifference = 0,
                    MaxShareBeyondTolerance = 0,
                    PHashDistance = null,
                    AgreesWithArbitrated = null,
                    Verdict = null,
                    FinishedAt = null,
                };
                checks = [.. checks, next];
            }
        }
        else if (!stale && verdict.AgreesWithArbitrated == false && check.Arbitrates is { } arbitrated)
        {
            // The third execution sides with the provider: the first validator was wrong.
            wrongValidator = task.Checks.FirstOrDefault(c => c.Number == arbitrated)?.Validator;
        }

        bool undecided = !stale && !verdict.Pass && cheat is null && next is null;
        TaskRecord updated = task with
        {
            Checks = checks,
            RejectedBy = wrongValidator is null || task.RejectedBy.Contains(wrongValidator, StringComparer.OrdinalIgnoreCase)
                ? task.RejectedBy
                : [.. task.RejectedBy, wrongValidator],
        };
        bool verified = !stale && cheat is null && !undecided && IsVerified(job, updated);
        if (verified)
        {
            updated = updated with { State = FarmTaskState.Succeeded, FinishedAt = now };
        }

        return new ArbitrationOutcome(updated, done, cheat, wrongValidator, next, undecided, verified);
    }

    /// <summary>The check's record once judged (cancelled when the output it checked is gone).</summary>
    public static SpotCheckRecord Finished(SpotCheckRecord check, Verdict verdict, string resultKey, bool stale, DateTimeOffset now) => check with
    {
        State = stale ? SpotCheckState.Cancelled : verdict.Pass ? SpotCheckState.Passed : SpotCheckState.Failed,
        LeaseExpiresAt = null,
        TilesKey = resultKey,
        TilesCompared = verdict.TilesCompared,
        TilesFailed = verdict.TilesFailed,
        MinPsnr = verdict.MinPsnr,
        MaxDifference = verdict.MaxDifference,
        MaxShareBeyondTolerance = verdict.MaxShare,
        PHashDistance = verdict.PHashDistance,
        AgreesWithArbitrated = verdict.AgreesWithArbitrated,
        Verdict = verdict.Text,
        FinishedAt = now,
    };

    /// <summary>
    /// Every output has a passed tile check of exactly that output by that provider (a first check, or the execution
    /// that settled a disagreement), and a passed whole-frame check too when one was planned for it. An inference task
    /// is verified when its re-executed items (at least one) all passed. Canaries play no part.
    /// </summary>
    public static bool IsVerified(JobRecord job, TaskRecord task)
    {
        if (job.Spec.Inference is null)
        {
            return IsVerified(task);
        }

        SpotCheckRecord[] mine = [.. task.Checks.Where(c => !c.Canary && string.Equals(c.RenderedBy, task.Provider, StringComparison.OrdinalIgnoreCase)
            && task.Outputs.Any(o => o.Frame == c.Frame && o.Sha256 == c.OutputSha256) && c.State != SpotCheckState.Cancelled)];
        return task.Outputs.Count > 0 && mine.Any(c => c.State == SpotCheckState.Passed)
            && mine.Where(c => c.Arbitrates is null).All(c => c.State == SpotCheckState.Passed || mine.Any(a => a.Arbitrates == c.Number && a.State == SpotCheckState.Passed));
    }

    /// <summary>A check runs while its task is verified; a canary after, on a verified task.</summary>
    public static FarmTaskState CheckedTaskState(SpotCheckRecord check) => check.Canary ? FarmTaskState.Succeeded : FarmTaskState.Verifying;

    /// <summary>Within one kind of check (tiles or whole frame) every execution of an output is by another provider.</summary>
    public static bool MayValidate(TaskRecord task, SpotCheckRecord check, string provider) => check.Canary
        ? MayTakeCanary(task, check, provider)
        : !string.Equals(check.RenderedBy, provider, StringComparison.OrdinalIgnoreCase)
        && !task.Checks.Any(c => c.Number != check.Number && c.Frame == check.Frame && c.OutputSha256 == check.OutputSha256
            && c.WholeFrame == check.WholeFrame && c.State is SpotCheckState.Passed or SpotCheckState.Failed
            && string.Equals(c.Validator, provider, StringComparison.OrdinalIgnoreCase));

    /// <summary>Only a provider with no part in the output: neither its renderer nor anyone who executed any check of it.</summary>
    public static bool MayTakeCanary(TaskRecord task, SpotCheckRecord canary, string provider) =>
        !string.Equals(canary.RenderedBy, provider, StringComparison.OrdinalIgnoreCase)
        && !task.Checks.Any(c => c.Frame == canary.Frame && c.OutputSha256 == canary.OutputSha256
            && string.Equals(c.Validator, provider, StringComparison.OrdinalIgnoreCase));

    /// <summary>The checks with every queued or leased one cancelled for <paramref name="reason"/>.</summary>
    public static IReadOnlyList<SpotCheckRecord> CancelOpenChecks(IReadOnlyList<SpotCheckRecord> checks, DateTimeOffset now, string reason) =>
        [.. checks.Select(c => c.State is SpotCheckState.Queued or SpotCheckState.Leased
            ? c with { State = SpotCheckState.Cancelled, LeaseId = null, LeaseExpiresAt = null, FinishedAt = now, Verdict = reason }
            : c)];

    /// <summary>The checks with the one numbered as <paramref name="check"/> replaced by it.</summary>
    public static IReadOnlyList<SpotCheckRecord> Replace(IReadOnlyList<SpotCheckRecord> checks, SpotCheckRecord check) =>
        [.. checks.Select(c => c.Number == check.Number ? check : c)];

    private static bool IsVerified(TaskRecord task) =>
        task.Outputs.Count > 0 && task.Outputs.All(o =>
        {
            SpotCheckRecord[] checks = [.. task.Checks.Where(c => !c.Canary && c.Frame == o.Frame && c.OutputSha256 == o.Sha256
                && string.Equals(c.RenderedBy, task.Provider, StringComparison.OrdinalIgnoreCase))];
            return checks.Any(c => !c.WholeFrame && c.State == SpotCheckState.Passed)
                && (!checks.Any(c => c.WholeFrame && c.State != SpotCheckState.Cancelled) || checks.Any(c => c.WholeFrame && c.State == SpotCheckState.Passed));
        });
}
