using Hangfire.States;
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
/// those still open when it ends are cancelled.
/// </summary>
/// <remarks>
/// Unlike a whole-frame sample, a canary never lets its taker outvote anyone: the taker can only fail itself. That is
/// what keeps canaries safe on the work queues when dishonest providers are many.
/// </remarks>
internal sealed partial class LeaseService
{
    private CanarySelection? _canaries;

    private CanarySelection Canaries => _canaries ??= new CanarySelection(_spotCheckSecret, _options.CanaryRate);

    // A check of a verified output is a canary on the job's own work queue; every other check goes to validate.
    private static string QueueOf(JobRecord job, SpotCheckRecord check) => check.Canary ? FarmQueues.For(job.Spec) : FarmQueues.Validate;

    // The canaries of a task that has just been verified: its outputs with a passed whole-output check, as chosen by
    // the policy, and only while some provider of the job could take them.
    private async Task<IReadOnlyList<SpotCheckRecord>> PlanCanariesAsync(JobRecord job, TaskRecord verified, CancellationToken cancellationToken)
    {
        // Most verified tasks had no whole-output sample: they need neither the job's tasks nor the provider list.
        if (_options.CanaryRate <= 0 || !_options.WholeFrameSamples
            || !verified.Checks.Any(c => c.WholeFrame && !c.Canary && c.State == SpotCheckState.Passed))
        {
            return [];
        }

        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(job.Id, cancellationToken);
        bool first = !tasks.Any(t => t.Index != verified.Index && t.Checks.Any(c => c.Canary)) && !verified.Checks.Any(c => c.Canary);
        string[] blocked = [.. tasks.SelectMany(t => t.RejectedBy).Concat(verified.RejectedBy)];
        string[] workers = [.. SignedInProviders().Where(p => !blocked.Contains(p, StringComparer.OrdinalIgnoreCase))];

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
            if (!workers.Any(w => MayValidate(verified, canary, w)))
            {
                continue;
            }

            CanaryDecision decision = Canaries.Decide(job.Id, output.Frame, output.Sha256, first);
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

    // Providers that asked for work lately: each keeps a Hangfire server entry alive (see TouchProvider).
    private IEnumerable<string> SignedInProviders() =>
        _storage.GetMonitoringApi().Servers()
            .Select(server => server.Name)
            .Where(name => name.StartsWith(ProviderServerPrefix, StringComparison.Ordinal))
            .Select(name => name[ProviderServerPrefix.Length..]);

    // Only a provider with no part in the output: neither its renderer nor anyone who executed any check of it.
    private static bool MayTakeCanary(TaskRecord task, SpotCheckRecord canary, string provider) =>
        !string.Equals(canary.RenderedBy, provider, StringComparison.OrdinalIgnoreCase)
        && !task.Checks.Any(c => c.Frame == canary.Frame && c.OutputSha256 == canary.OutputSha256
            && string.Equals(c.Validator, provider, StringComparison.OrdinalIgnoreCase));

    /// <returns>False when another update came first.</returns>
    private async Task<bool> ApplyCanaryVerdictAsync(
        JobRecord job, TaskRecord task, SpotCheckRecord canary, string taker, string answerKey, Verdict verdict, CancellationToken cancellationToken)
    {
        if ((await _store.GetJobAsync(job.Id, cancellationToken))?.State != JobState.Running)
        {
            throw new CoordinatorException(409, $"Lease {canary.LeaseId} has ended: the job is no longer running.");
        }

        // A known answer the coordinator cannot read any more (or that was replaced) judges nobody.
        bool moot = verdict.OutputUnusable || task.Outputs.FirstOrDefault(o => o.Frame == canary.Frame)?.Sha256 != canary.OutputSha256;
        SpotCheckRecord done = Finished(canary, verdict, answerKey, moot, _time.GetUtcNow());
        bool caught = done.State == SpotCheckState.Failed;
        TaskRecord updated = task with
        {
            Checks = Replace(task.Checks, done),
            RejectedBy = !caught || task.RejectedBy.Contains(taker, StringComparer.OrdinalIgnoreCase) ? task.RejectedBy : [.. task.RejectedBy, taker],
        };
        if (!await _store.TryUpdateTaskAsync(updated, cancellationToken))
        {
            return false;
        }

        if (canary.HangfireJobId is not null)
        {
            _client.ChangeState(canary.HangfireJobId, new SucceededState(null, 0, 0), LeasedState.StateName);
        }

        LogCheckDone(job.Id, task.Index, canary.Number, canary.Frame, canary.RenderedBy, taker, done.State, verdict.Text);
        if (caught)
        {
            await _store.AddProviderCountsAsync(taker, 0, 1, cancellationToken);
            await RejectProviderAsync(
                job, taker, $"Canary {canary.Number} of frame {canary.Frame}: {taker} did not reproduce the output two providers agreed on: {verdict.Text}", cancellationToken);
        }

        return true;
    }

    // Canaries still open when the job ends are cancelled: they never hold up a job or its settlement.
    private async Task CancelOpenCanariesAsync(Guid jobId, string reason, CancellationToken cancellationToken)
    {
        foreach (TaskRecord listed in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            for (TaskRecord? task = listed;
                task is not null && task.Checks.Any(c => c.Canary && c.State is SpotCheckState.Queued or SpotCheckState.Leased);
                task = await _store.GetTaskAsync(jobId, listed.Index, cancellationToken))
            {
                if (await _store.TryUpdateTaskAsync(task with { Checks = CancelOpenChecks(task.Checks, _time.GetUtcNow(), reason) }, cancellationToken))
                {
                    DeleteOpenCheckJobs(task.Checks);
                    foreach (SpotCheckRecord leased in task.Checks.Where(c => c.Canary && c.State == SpotCheckState.Leased))
                    {
                        await DeleteCheckUploadAsync(task, leased, cancellationToken);
                    }

                    break;
                }
            }
        }
    }
}
