using System.Reflection;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// Creates and enqueues frame tasks' Hangfire jobs a batch at a time, for <see cref="JobSplitter"/>. A batch's jobs are
/// created without a state and expiring (in no queue, invisible to every fetch), then linked to their farm records by
/// the splitter, then enqueued: a split that dies between the steps leaves jobs that expire unseen, or linked jobs that
/// its retry (or the maintenance sweep) enqueues.
/// </summary>
internal interface ITaskBatches
{
    /// <summary>Creates one Hangfire job per task index, without a state, expiring after <paramref name="expireIn"/>.</summary>
    /// <returns>Each index with its new Hangfire job's id.</returns>
    Task<IReadOnlyList<(int Index, string HangfireJobId)>> CreateAsync(Guid jobId, IReadOnlyList<int> indexes, TimeSpan expireIn, CancellationToken cancellationToken);

    /// <summary>
    /// Moves the Hangfire jobs that are still without a state to Enqueued on <paramref name="queue"/>, one queue entry
    /// each, and makes them permanent; all of them or none.
    /// </summary>
    /// <returns>How many were enqueued (a job in some state already is left as it is).</returns>
    Task<int> EnqueueAsync(IReadOnlyList<string> hangfireJobIds, string queue, CancellationToken cancellationToken);
}

/// <summary>
/// Batches through Hangfire's storage API, which works on every storage: one <c>CreateExpiredJob</c> per task (on
/// Hangfire.PostgreSql a transaction each: its write transaction cannot create jobs) and one write transaction for the
/// enqueue (on Hangfire.PostgreSql four statements per task, each a round trip).
/// </summary>
internal sealed class HangfireTaskBatches(JobStorage storage) : ITaskBatches
{
    /// <summary>The method every frame task's Hangfire job names.</summary>
    internal static readonly MethodInfo RenderMethod = typeof(FrameTaskJob).GetMethod(nameof(FrameTaskJob.Render))!;

    /// <inheritdoc/>
    public Task<IReadOnlyList<(int Index, string HangfireJobId)>> CreateAsync(Guid jobId, IReadOnlyList<int> indexes, TimeSpan expireIn, CancellationToken cancellationToken)
    {
        using IStorageConnection connection = storage.GetConnection();
        var parameters = new Dictionary<string, string?>();
        DateTime createdAt = DateTime.UtcNow;
        var created = new List<(int Index, string HangfireJobId)>(indexes.Count);
        foreach (int index in indexes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            created.Add((index, connection.CreateExpiredJob(new Job(RenderMethod, jobId, index), parameters, createdAt, expireIn)));
        }

        return Task.FromResult<IReadOnlyList<(int Index, string HangfireJobId)>>(created);
    }

    /// <inheritdoc/>
    public Task<int> EnqueueAsync(IReadOnlyList<string> hangfireJobIds, string queue, CancellationToken cancellationToken)
    {
        using IStorageConnection connection = storage.GetConnection();
        int enqueued = 0;
        using (IWriteOnlyTransaction transaction = connection.CreateWriteTransaction())
        {
            foreach (string hangfireJobId in hangfireJobIds)
            {
                // Without a state: created by a batch and not enqueued yet (a read, so not atomic with the write; the
                // splitter is the only writer of a job in this state).
                if (connection.GetJobData(hangfireJobId) is { State: null })
                {
                    transaction.SetJobState(hangfireJobId, new EnqueuedState(queue));
                    transaction.AddToQueue(queue, hangfireJobId);
                    transaction.PersistJob(hangfireJobId);
                    enqueued++;
                }
            }

            transaction.Commit();
        }

        return Task.FromResult(enqueued);
    }
}
