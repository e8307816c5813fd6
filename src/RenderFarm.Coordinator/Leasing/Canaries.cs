using RenderFarm.Core.Farm;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Known-answer canaries (on the job's work queue): when a task is verified, each of its outputs that also passed a
/// whole-output re-execution is an answer two providers agree on. <see cref="CanarySelection"/> sends some of them
/// again, granted exactly like a one-frame task under a sealed lease id, to a provider that neither produced nor
/// checked that output. Its answer is judged against the known one with the whole-output comparison; a wrong answer
/// proves it wrong at once (the known answer already holds two of three votes): it is caught, blocked from the job,
/// its work in the job is redone and it is slashed at settlement. Canaries are not paid and do not hold up the job:
/// those still open when it ends are cancelled (<see cref="TaskTransitions.CancelOpenCanariesAsync"/>).
/// </summary>
/// <remarks>
/// Unlike a whole-frame sample, a canary never lets its taker outvote anyone: the taker can only fail itself. That is
/// what keeps canaries safe on the work queues when dishonest providers are many.
/// </remarks>
internal sealed class Canaries
{
    private readonly IFarmStore _store;
    private readonly TaskTransitions _transitions;
    private readonly ProviderSanctions _sanctions;
    private readonly ProviderPresence _presence;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly CanarySelection _selection;

    public Canaries(
        IFarmStore store, TaskTransitions transitions, ProviderSanctions sanctions, ProviderPresence presence, TimeProvider time, CoordinatorOptions options, byte[] secret)
    {
        _store = store;
        _transitions = transitions;
        _sanctions = sanctions;
        _presence = presence;
        _time = time;
        _options = options;
        _selection = new CanarySelection(secret, options.CanaryRate);
    }

    /// <summary>A check of a verified output is a canary on the job's own work queue; every other check goes to validate.</summary>
    public static string QueueOf(JobRecord job, SpotCheckRecord check) => check.Canary ? FarmQueues.For(job.Spec) : FarmQueues.Validate;

    /// <summary>
    /// The canaries of a task that has just been verified: its outputs with a passed whole-output check, as chosen by
    /// the policy, and only while some provider of the job could take them.
    /// </summary>
    public async Task<IReadOnlyList<SpotCheckRecord>> PlanCanariesAsync(JobRecord job, TaskRecord verified, CancellationToken cancellationToken)
    {
        // Most verified tasks had no whole-output sample: they need neither the job's tasks nor the provider list.
        if (_options.CanaryRate <= 0 || !_options.WholeFrameSamples
            || !verified.Checks.Any(c => c.WholeFrame && !c.Canary && c.State == SpotCheckState.Passed))
        {
            return [];
        }

        // Checks are only ever added, so a task that had a canary when stored still has one now.
        bool first = (await _store.GetJobTallyAsync(job.Id, cancellationToken)).Canaried == 0 && !verified.Checks.Any(c => c.Canary);
        string[] blocked = [.. (await _store.ListRejectedProvidersAsync(job.Id, cancellationToken)).Concat(verified.RejectedBy)];
        string[] workers = [.. _presence.SignedIn().Where(p => !blocked.Contains(p, StringComparer.OrdinalIgnoreCase))];

        var canaries = new List<SpotCheckRecord>();
        int number = verified.Checks.Max(c => c.Number);
        foreach (FrameOutput output in verified.Outputs)
        {
            SpotCheckRecord? known = verified.Checks.FirstOrDefault(c => c.WholeFrame && !c.Canary && c.State == SpotCheckState.Passed
                && c.Frame == output.Frame && c.OutputSha256 == output.Sha256
                && string.Equals(c.RenderedBy, verified.Provider, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                continue;
            }

            // Nobody left who may take it (a small farm): no canary, rather than one that waits in the queue for nobody.
            var canary = new SpotCheckRecord
            {
                Number = number + 1,
                Frame = output.Frame,
                RenderedBy = known.RenderedBy,
                OutputSha256 = output.Sha256,
                Tiles = known.Tiles,
                WholeFrame = true,
                Canary = true,
            };
            if (!workers.Any(w => Arbitration.MayValidate(verified, canary, w)))
            {
                continue;
            }

            CanaryDecision decision = _selection.Decide(job.Id, output.Frame, output.Sha256, first);
            if (!decision.Chosen)
            {
                continue;
            }

            first = false;
            number++;
            canaries.Add(canary with { SampleRate = decision.Rate, SampleReason = $"{decision.Reason}; the answer of check {known.Number}, agreed by {known.RenderedBy} and {known.Validator}" });
        }

        return canaries;
    }

    /// <summary>Judges a canary's answer: a wrong one catches its taker.</summary>
    /// <returns>The canary as stored, or null when another update came first.</returns>
    public async Task<SpotCheckRecord?> ApplyCanaryVerdictAsync(
        JobRecord job, TaskRecord task, SpotCheckRecord canary, string taker, string answerKey, Verdict verdict, CancellationToken cancellationToken)
    {
        if ((await _store.GetJobAsync(job.Id, cancellationToken))?.State != JobState.Running)
        {
            throw new CoordinatorException(409, $"Lease {canary.LeaseId} has ended: the job is no longer running.");
        }

        // A known answer the coordinator cannot read any more (or that was replaced) judges nobody.
        bool moot = verdict.OutputUnusable || task.Outputs.FirstOrDefault(o => o.Frame == canary.Frame)?.Sha256 != canary.OutputSha256;
        SpotCheckRecord done = Arbitration.Finished(canary, verdict, answerKey, moot, _time.GetUtcNow());
        bool caught = done.State == SpotCheckState.Failed;
        TaskRecord updated = task with
        {
            Checks = Arbitration.Replace(task.Checks, done),
            RejectedBy = !caught || task.RejectedBy.Contains(taker, StringComparer.OrdinalIgnoreCase) ? task.RejectedBy : [.. task.RejectedBy, taker],
        };
        if (!await _transitions.FinishCheckAsync(updated, canary, cancellationToken))
        {
            return null;
        }

        if (caught)
        {
            await _sanctions.RecordCaughtAsync(taker, cancellationToken);
            await _sanctions.RejectProviderAsync(
                job, taker, $"Canary {canary.Number} of frame {canary.Frame}: {taker} did not reproduce the output two providers agreed on: {verdict.Text}", cancellationToken);
        }

        return done;
    }
}
