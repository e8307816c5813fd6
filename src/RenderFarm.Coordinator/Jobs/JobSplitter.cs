using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The Hangfire job (queue <c>split</c>) that turns an accepted job's task records into one Hangfire
/// job per task on the job's render queue. Idempotent, so Hangfire's retries are safe.
/// </summary>
/// <remarks>
/// Tasks go in batches of <see cref="BatchSize"/> (see <see cref="ITaskBatches"/>): their Hangfire jobs are created
/// without a state (invisible to every queue), linked to their farm records in one store call, then enqueued together
/// and announced to waiting polls once; <see cref="ConcurrentBatches"/> batches run at once. On PostgreSQL each step is
/// one statement per batch (<see cref="PostgresTaskBatches"/>). One task at a time (a job created in a state, a record
/// update, a state change under Hangfire's distributed lock) cost about 13 ms per task on PostgreSQL; the storage API's
/// batches, a job and four queued commands per task, about 3 ms.
/// </remarks>
public sealed partial class JobSplitter
{
    /// <summary>Tasks per batch: three statements on PostgreSQL (create, link, enqueue).</summary>
    internal const int BatchSize = 500;

    /// <summary>Batches in flight at once, each on its own connections.</summary>
    internal const int ConcurrentBatches = 4;

    // A created job stays without a state only until its batch is enqueued. Should the split die between linking and
    // enqueueing, its retry enqueues the linked job, so the job must outlive Hangfire's retries of the split.
    private static readonly TimeSpan s_unqueuedExpiry = TimeSpan.FromDays(7);

    private readonly IFarmStore _store;
    private readonly QueueFetcher _fetcher;
    private readonly ITaskBatches _batches;
    private readonly ILogger<JobSplitter> _logger;

    internal JobSplitter(IFarmStore store, QueueFetcher fetcher, ITaskBatches batches, ILogger<JobSplitter> logger)
    {
        _store = store;
        _fetcher = fetcher;
        _batches = batches;
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
        var fresh = new List<int>();
        var linked = new List<string>();
        long started = Stopwatch.GetTimestamp();
        foreach (TaskRecord task in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            if (task.State == FarmTaskState.Queued)
            {
                if (task.HangfireJobId is null)
                {
                    fresh.Add(task.Index);
                }
                else
                {
                    linked.Add(task.HangfireJobId);
                }
            }
        }

        // Linked by an earlier attempt that died before enqueueing them: jobs still without a state are enqueued, the
        // rest (queued already, or beyond) left as they are. A Prepared job (a relink that died half-way) is the
        // maintenance sweep's to enqueue.
        foreach (string[] chunk in linked.Chunk(BatchSize))
        {
            int enqueued = await _batches.EnqueueAsync(chunk, queue, cancellationToken);
            if (enqueued > 0)
            {
                created += enqueued;
                _fetcher.AnnounceEnqueued(queue);
            }
        }

        // Each batch is a few round trips per task; several at once keep the database busy while one waits on the wire.
        var timings = new SplitTimings();
        List<List<int>> batches = [.. fresh.Chunk(BatchSize).Select(chunk => chunk.ToList())];
        await Parallel.ForEachAsync(
            batches,
            new ParallelOptions { MaxDegreeOfParallelism = ConcurrentBatches, CancellationToken = cancellationToken },
            async (batch, token) => Interlocked.Add(ref created, await SplitBatchAsync(jobId, batch, queue, timings, token)));

        LogSplit(jobId, created, queue, Stopwatch.GetElapsedTime(started).TotalMilliseconds, timings.CreateMs, timings.LinkMs, timings.EnqueueMs);
    }

    /// <summary>How many tasks <paramref name="frames"/> make in chunks of <paramref name="chunkSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkSize"/> is below 1.</exception>
    internal static int TaskCount(FrameRange frames, int chunkSize) => frames.ChunkCount(chunkSize);

    /// <summary>
    /// The first and last frame (or item) of each task: up to <paramref name="chunkSize"/> consecutive frames of the
    /// range (a frame list's gaps end a chunk early).
    /// </summary>
    internal static IReadOnlyList<(int First, int Last)> Chunks(FrameRange frames, int chunkSize) => frames.Chunks(chunkSize);

    private async Task<int> SplitBatchAsync(Guid jobId, List<int> indexes, string queue, SplitTimings timings, CancellationToken cancellationToken)
    {
        // Created without a state and outside any queue, and linked before it is enqueued, so a lease never fetches a
        // Hangfire job whose farm record does not name it yet.
        long phase = Stopwatch.GetTimestamp();
        IReadOnlyList<(int Index, string HangfireJobId)> links = await _batches.CreateAsync(jobId, indexes, s_unqueuedExpiry, cancellationToken);
        phase = timings.AddCreate(phase);
        var linked = new HashSet<int>(await _store.LinkHangfireJobsAsync(jobId, links, cancellationToken));
        phase = timings.AddLink(phase);

        // A task that changed meanwhile (cancelled, linked by a concurrent attempt) keeps its own; the job created for it
        // here never enters a queue and expires.
        int enqueued = await _batches.EnqueueAsync([.. links.Where(l => linked.Contains(l.Index)).Select(l => l.HangfireJobId)], queue, cancellationToken);
        timings.AddEnqueue(phase);
        _fetcher.AnnounceEnqueued(queue);
        return enqueued;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Split of job {JobId} skipped: no such job.")]
    private partial void LogMissingJob(Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} split: {Count} tasks enqueued on {Queue} in {Milliseconds:0} ms (batches summed: create {CreateMs:0} ms, link {LinkMs:0} ms, enqueue {EnqueueMs:0} ms).")]
    private partial void LogSplit(Guid jobId, int count, string queue, double milliseconds, double createMs, double linkMs, double enqueueMs);

    // Where a split's time goes, summed over its batches (which overlap, so the sum may exceed the wall time).
    private sealed class SplitTimings
    {
        private long _create;
        private long _link;
        private long _enqueue;

        public double CreateMs => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _create)).TotalMilliseconds;

        public double LinkMs => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _link)).TotalMilliseconds;

        public double EnqueueMs => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _enqueue)).TotalMilliseconds;

        public long AddCreate(long since) => Add(ref _create, since);

        public long AddLink(long since) => Add(ref _link, since);

        public long AddEnqueue(long since) => Add(ref _enqueue, since);

        private static long Add(ref long total, long since)
        {
            long now = Stopwatch.GetTimestamp();
            Interlocked.Add(ref total, now - since);
            return now;
        }
    }
}
