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
    public async Task RejectProviderAsync(JobRecord job, string cheat, string reason, CancellationToken cancellationToken)
    {
        LogCheatCaught(job.Id, cheat, reason);
        foreach (TaskRecord listed in await _store.GetTasksAsync(job.Id, cancellationToken))
        {
            for (TaskRecord? task = listed; task is not null; task = await _store.GetTaskAsync(job.Id, listed.Index, cancellationToken))
            {
                bool theirs = string.Equals(task.Provider, cheat, StringComparison.OrdinalIgnoreCase)
                    && task.State is FarmTaskState.Verifying or FarmTaskState.Succeeded or FarmTaskState.Leased;
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
                    Checks = Arbitration.CancelOpenChecks(task.Checks, _time.GetUtcNow(), "The checked output was rejected."),
                    RejectedBy = task.RejectedBy.Contains(cheat, StringComparer.OrdinalIgnoreCase) ? task.RejectedBy : [.. task.RejectedBy, cheat],
                    Error = reason,
                };
                if (await _transitions.RedoAsync(task, job, redo, reason, cancellationToken))
                {
                    break;
                }
            }
        }
    }

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
