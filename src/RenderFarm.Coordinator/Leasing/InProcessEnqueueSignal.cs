using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// On Hangfire.InMemory, wakes a waiting lease poll whenever a job enters a queue through Hangfire's state machine (an
/// expired lease put back, a spot check or canary enqueued). Registered as this host's filter provider, so that every
/// host in a process signals only its own polls.
/// </summary>
/// <remarks>
/// The filter runs just before the transaction commits; the woken poll's look waits inside Hangfire.InMemory's own
/// <c>FetchNextJob</c> for up to <see cref="QueueFetcher.LookWindow"/>, which the commit a moment later ends. PostgreSQL
/// needs none of this: the enqueuing transaction NOTIFYs, and the notification arrives after the commit.
/// </remarks>
internal sealed class InProcessEnqueueSignal(QueueSignals signals) : IJobFilterProvider, IApplyStateFilter
{
    /// <summary>Hangfire's global filters plus this one.</summary>
    public IEnumerable<JobFilter> GetFilters(Job job) =>
        JobFilterProviders.Providers.GetFilters(job).Append(new JobFilter(this, JobFilterScope.Global, null));

    /// <summary>Signals the queue a job entered.</summary>
    public void OnStateApplied(ApplyStateContext context, IWriteOnlyTransaction transaction)
    {
        if (context.NewState is EnqueuedState enqueued)
        {
            signals.Signal(enqueued.Queue);
        }
    }

    /// <summary>Nothing to do when a state is left.</summary>
    public void OnStateUnapplied(ApplyStateContext context, IWriteOnlyTransaction transaction)
    {
    }
}
