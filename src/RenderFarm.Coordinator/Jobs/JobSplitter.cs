using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The Hangfire job (queue <c>split</c>) that turns an accepted job's task records into one Hangfire
/// job per task on the job's render queue. Idempotent, so Hangfire's retries are safe.
/// </summary>
public sealed partial class JobSplitter
{
    private readonly IFarmStore _store;
    private readonly IBackgroundJobClient _client;
    private readonly ILogger<JobSplitter> _logger;

    internal JobSplitter(IFarmStore store, IBackgroundJobClient client, ILogger<JobSplitter> logger)
    {
        _store = store;
        _client = client;
        _logger = logger;
    }

    /// <summary>Enqueues a Hangfire job for every task of <paramref name="jobId"/> that has none yet.</summary>
    /// <param name="jobId">The farm job.</param>
    /// <param name="cancellationToken">Hangfire's shutdown token.</param>
    public async Task SplitAsync(Guid jobId, CancellationToken cancellationToken)
    {
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        if (job is null)
        {
            LogMissingJob(jobId);
            return;
        }

        // Running before the tasks are queued, so a task that finishes at once can complete the job.
        if (job.State == JobState.Queued && !await _store.TryUpdateJobStateAsync(jobId, JobState.Queued, JobState.Running, null, cancellationToken))
        {
            job = await _store.GetJobAsync(jobId, cancellationToken);
        }

        if (job?.State != JobState.Running && job?.State != JobState.Queued)
        {
            return;
        }

        string queue = FarmQueues.For(job.Spec);
        int created = 0;
        foreach (TaskRecord task in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            if (task.State != FarmTaskState.Queued)
            {
                continue;
            }

            string? hangfireJobId = task.HangfireJobId;
            if (hangfireJobId is null)
            {
                // Created outside any queue and linked before it is enqueued, so a lease never
                // fetches a Hangfire job whose farm record does not name it yet.
                int index = task.Index;
                hangfireJobId = _client.Create(Job.FromExpression(() => FrameTaskJob.Render(jobId, index)), new PreparedState());
                if (!await LinkAsync(task, hangfireJobId, cancellationToken))
                {
                    continue;
                }
            }

            // False when a previous attempt already enqueued it: the retry is a no-op.
            if (_client.ChangeState(hangfireJobId, new EnqueuedState(queue), PreparedState.StateName))
            {
                created++;
            }
        }

        LogSplit(jobId, created, queue);
    }

    /// <summary>How many tasks <paramref name="frames"/> make in chunks of <paramref name="chunkSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkSize"/> is below 1.</exception>
    internal static int TaskCount(FrameRange frames, int chunkSize) => frames.ChunkCount(chunkSize);

    /// <summary>
    /// The first and last frame (or item) of each task: up to <paramref name="chunkSize"/> consecutive frames of the
    /// range (a frame list's gaps end a chunk early).
    /// </summary>
    internal static IReadOnlyList<(int First, int Last)> Chunks(FrameRange frames, int chunkSize) => frames.Chunks(chunkSize);

    private async Task<bool> LinkAsync(TaskRecord task, string hangfireJobId, CancellationToken cancellationToken)
    {
        for (TaskRecord? current = task; current is not null; current = await _store.GetTaskAsync(task.JobId, task.Index, cancellationToken))
        {
            if (current.State != FarmTaskState.Queued || current.HangfireJobId is not null)
            {
                _client.Delete(hangfireJobId);
                return false;
            }

            if (await _store.TryUpdateTaskAsync(current with { HangfireJobId = hangfireJobId }, cancellationToken))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Split of job {JobId} skipped: no such job.")]
    private partial void LogMissingJob(Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} split: {Count} tasks enqueued on {Queue}.")]
    private partial void LogSplit(Guid jobId, int count, string queue);
}
