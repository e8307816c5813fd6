using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// What happens to a provider within a job: blocked from more of its work once proven wrong or after too many failures;
/// a provider proven wrong has every task of the job it rendered redone elsewhere and is counted as caught (sampled at
/// the suspect rate from then on, slashed at settlement).
/// </summary>
internal sealed partial class ProviderSanctions
{
    private readonly IFarmStore _store;
    private readonly TaskTransitions _transitions;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly ILogger _logger;

    public ProviderSanctions(IFarmStore store, TaskTransitions transitions, TimeProvider time, CoordinatorOptions options, ILogger logger)
    {
        _store = store;
        _transitions = transitions;
        _time = time;
        _options = options;
        _logger = logger;
    }

    /// <summary>Whether <paramref name="provider"/> may take no more work of the job: proven wrong in it, or failed too many of its tasks.</summary>
    public async Task<bool> IsBlockedAsync(Guid jobId, string provider, CancellationToken cancellationToken)
    {
        // Proven wrong by a spot check: no more work of this job, of either kind. Counted by the store, so a lease asks
        // in constant time however many tasks the job has.
        return IsBlocked(await _store.GetProviderTallyAsync(jobId, provider, cancellationToken));
    }

    /// <summary>As <see cref="IsBlockedAsync"/>, from the provider's tallies in the job as read (with the task, on the lease path).</summary>
    public bool IsBlocked(ProviderTally tally) => tally.Rejected > 0 || tally.Failed >= _options.MaxFailuresPerProviderPerJob;

    /// <summary>Counts a catch against a provider proven wrong by 2 of 3 (or by a canary).</summary>
    public Task RecordCaughtAsync(string provider, CancellationToken cancellationToken) =>
        _store.AddProviderCountsAsync(provider, 0, 1, cancellationToken);

    /// <summary>A provider proven wrong: every task of the job it rendered goes back to the queue and it gets no more work of the job.</summary>
    public Task RejectProviderAsync(JobRecord job, string cheat, string reason, CancellationToken cancellationToken)
    {
        LogCheatCaught(job.Id, cheat, reason);
        return RedoWorkOfAsync(job, cheat, reason, "The checked output was rejected.", proven: true, cancellationToken);
    }

    /// <summary>
    /// A provider under suspicion, not proven wrong: while the job runs, every task of it the provider holds or delivered
    /// goes back to the queue, each counted as its failure (so the job's failure cap stops it taking more).
    /// </summary>
    public Task RedoOnSuspicionAsync(JobRecord job, string provider, string reason, string checksReason, CancellationToken cancellationToken) =>
        RedoWorkOfAsync(job, provider, reason, checksReason, proven: false, cancellationToken);

    // Sends the provider's leased, verifying and succeeded tasks of the job back to the queue, blaming it as rejected
    // (proven) or failed (suspected). A suspicion re-reads the job each time: one that completed or stopped meanwhile
    // keeps its tasks. It also leaves alone a task whose output awaits a third execution: cancelling that would spare a
    // cheat the 2-of-3 proof (and its slash) that is already on its way.
    private async Task RedoWorkOfAsync(JobRecord job, string provider, string reason, string checksReason, bool proven, CancellationToken cancellationToken)
    {
        foreach (TaskRecord listed in await _store.GetTasksAsync(job.Id, cancellationToken))
        {
            for (TaskRecord? task = listed; task is not null; task = await _store.GetTaskAsync(job.Id, listed.Index, cancellationToken))
            {
                JobRecord? current = proven ? job : await _store.GetJobAsync(job.Id, cancellationToken);
                bool theirs = (proven || current is { State: JobState.Running })
                    && string.Equals(task.Provider, provider, StringComparison.OrdinalIgnoreCase)
                    && task.State is FarmTaskState.Verifying or FarmTaskState.Succeeded or FarmTaskState.Leased
                    && (proven || !task.Checks.Any(c => c.Arbitrates is not null && c.State is SpotCheckState.Queued or SpotCheckState.Leased));
                if (!theirs)
                {
                    break;
                }

                TaskRecord redo = task with
                {
                    State = FarmTaskState.Queued,
                    Outputs = [],
                    Provider = null,
                    LeaseId = null,
                    LeaseExpiresAt = null,
                    FinishedAt = null,
                    Checks = Arbitration.CancelOpenChecks(task.Checks, _time.GetUtcNow(), checksReason),
                    Error = reason,
                };
                redo = proven
                    ? redo with { RejectedBy = WithProvider(task.RejectedBy, provider) }
                    : redo with { FailedBy = WithProvider(task.FailedBy, provider) };
                if (await _transitions.RedoAsync(task, current!, redo, reason, cancellationToken))
                {
                    break;
                }
            }
        }
    }

    private static IReadOnlyList<string> WithProvider(IReadOnlyList<string> providers, string provider) =>
        providers.Contains(provider, StringComparer.OrdinalIgnoreCase) ? providers : [.. providers, provider];

    /// <summary>Checks kept disagreeing with each other: the output is redone elsewhere, counted as a failure of its provider.</summary>
    public async Task RedoWithoutBlameAsync(JobRecord job, int index, string provider, CancellationToken cancellationToken)
    {
        for (TaskRecord? task = await _store.GetTaskAsync(job.Id, index, cancellationToken); task is { State: FarmTaskState.Verifying }; task = await _store.GetTaskAsync(job.Id, index, cancellationToken))
        {
            TaskRecord redo = task with
            {
                State = FarmTaskState.Queued,
                Outputs = [],
                Provider = null,
                Checks = Arbitration.CancelOpenChecks(task.Checks, _time.GetUtcNow(), "Checks disagreed; the output is redone."),
                FailedBy = task.FailedBy.Contains(provider, StringComparer.OrdinalIgnoreCase) ? task.FailedBy : [.. task.FailedBy, provider],
                Error = $"Spot checks of the output of {provider} disagreed {_options.MaxChecksPerFrame} times; redone.",
            };
            if (await _transitions.RedoAsync(task, job, redo, null, cancellationToken))
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: provider {Provider} caught: {Reason}")]
    private partial void LogCheatCaught(Guid jobId, string provider, string reason);
}
