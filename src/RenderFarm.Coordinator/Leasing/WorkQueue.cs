using System.Globalization;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using RenderFarm.Coordinator.Jobs;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The farm's queues as Hangfire keeps them: taking a queued entry (fetch), giving it back, removing it, and setting the
/// Hangfire state that mirrors a task's farm record. Only <see cref="TaskTransitions"/> and the lease loop call it, so
/// no other code writes Hangfire state for provider work.
/// </summary>
internal interface IWorkQueue
{
    /// <summary>A connection for one lease request; fetched entries belong to it.</summary>
    IStorageConnection Connect();

    /// <summary>Waits up to <paramref name="wait"/> for an entry on <paramref name="queues"/> and takes it (see <see cref="QueueFetcher"/>).</summary>
    Task<IFetchedJob?> FetchAsync(IStorageConnection connection, string[] queues, TimeSpan wait, CancellationToken cancellationToken);

    /// <summary>The Hangfire job behind an entry: its type and arguments, or null when it is gone.</summary>
    JobData? Describe(IStorageConnection connection, string hangfireJobId);

    /// <summary>The name of the Hangfire job's current state, or null when the job is gone.</summary>
    string? StateOf(IStorageConnection connection, string hangfireJobId);

    /// <summary>The current state of each Hangfire job named (null for a job that is gone), read together where the storage allows.</summary>
    IReadOnlyDictionary<string, string?> StatesOf(IStorageConnection connection, IReadOnlyCollection<string> hangfireJobIds) =>
        hangfireJobIds.Distinct(StringComparer.Ordinal).ToDictionary(id => id, id => StateOf(connection, id), StringComparer.Ordinal);

    /// <summary>Gives a fetched entry back to its queue, for another request to take.</summary>
    void PutBack(IFetchedJob fetched);

    /// <summary>Removes a fetched entry from its queue for good.</summary>
    void Remove(IFetchedJob fetched);

    /// <summary>Creates a spot check's Hangfire job, enqueued on <paramref name="queue"/>.</summary>
    string CreateCheck(Guid jobId, int index, int number, string queue);

    /// <summary>Creates a frame task's Hangfire job in no queue (<see cref="PreparedState"/>), to be linked to its record, then enqueued.</summary>
    string CreateTask(Guid jobId, int index);

    /// <summary>
    /// Moves a Hangfire job to Enqueued on <paramref name="queue"/>, which adds one entry to that queue; when
    /// <paramref name="expectedState"/> is given, only from that state.
    /// </summary>
    /// <returns>False when the job was not in the expected state (or is gone).</returns>
    bool Enqueue(string hangfireJobId, string queue, string? reason, string? expectedState = null);

    /// <summary>
    /// Takes a Hangfire job out of its queue's waiting work (<see cref="PausedState"/>) while its farm job is paused; when
    /// <paramref name="expectedState"/> is given, only from that state. An entry already in the queue is dropped, not put
    /// back, by the fetch that meets it.
    /// </summary>
    /// <returns>False when the job was not in the expected state (or is gone).</returns>
    bool Pause(string hangfireJobId, string? expectedState);

    /// <summary>Marks a Hangfire job as leased; when <paramref name="expectedState"/> is given, only from that state.</summary>
    bool MarkLeased(string hangfireJobId, LeasedState state, string? expectedState);

    /// <summary>Marks a Hangfire job as succeeded, from any state: the farm record has decided.</summary>
    void MarkSucceeded(string hangfireJobId, long milliseconds);

    /// <summary>Marks a Hangfire job as failed for good, from any state: the farm record has decided.</summary>
    void MarkFailed(string hangfireJobId, string error);

    /// <summary>Deletes a Hangfire job from any state; a queue entry left behind is dropped when a lease fetches it.</summary>
    void Delete(string hangfireJobId, string? expectedState = null);

    /// <summary>Enqueues the settlement of a farm job (queue <c>settle</c>).</summary>
    void EnqueueSettlement(Guid jobId);
}

/// <summary>The work queue over Hangfire's public storage and client API; lease polls wait through <paramref name="fetcher"/>.</summary>
/// <remarks>On PostgreSQL, <paramref name="states"/> writes the decided states in one statement each.</remarks>
internal sealed class HangfireWorkQueue(JobStorage storage, IBackgroundJobClient client, QueueFetcher fetcher, PostgresHangfireStates? states = null) : IWorkQueue
{
    private readonly QueueFetcher _fetcher = fetcher;

    /// <summary>A work queue whose polls wait on in-process signals only (tests over one storage).</summary>
    public HangfireWorkQueue(JobStorage storage, IBackgroundJobClient client)
        : this(storage, client, new QueueFetcher())
    {
    }

    /// <inheritdoc/>
    public IStorageConnection Connect() => storage.GetConnection();

    /// <inheritdoc/>
    public Task<IFetchedJob?> FetchAsync(IStorageConnection connection, string[] queues, TimeSpan wait, CancellationToken cancellationToken) =>
        _fetcher.FetchAsync(connection, queues, wait, cancellationToken);

    /// <inheritdoc/>
    public JobData? Describe(IStorageConnection connection, string hangfireJobId) => connection.GetJobData(hangfireJobId);

    /// <inheritdoc/>
    public string? StateOf(IStorageConnection connection, string hangfireJobId) => connection.GetJobData(hangfireJobId)?.State;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string?> StatesOf(IStorageConnection connection, IReadOnlyCollection<string> hangfireJobIds) =>
        states?.TryReadStates(hangfireJobIds)
            ?? hangfireJobIds.Distinct(StringComparer.Ordinal).ToDictionary(id => id, id => StateOf(connection, id), StringComparer.Ordinal);

    /// <inheritdoc/>
    public void PutBack(IFetchedJob fetched) => fetched.Requeue();

    /// <inheritdoc/>
    public void Remove(IFetchedJob fetched) => fetched.RemoveFromQueue();

    /// <inheritdoc/>
    public string CreateCheck(Guid jobId, int index, int number, string queue) =>
        client.Create(Job.FromExpression(() => SpotCheckJob.Validate(jobId, index, number)), new EnqueuedState(queue));

    /// <inheritdoc/>
    public string CreateTask(Guid jobId, int index) =>
        client.Create(Job.FromExpression(() => FrameTaskJob.Render(jobId, index)), new PreparedState());

    /// <inheritdoc/>
    public bool Enqueue(string hangfireJobId, string queue, string? reason, string? expectedState = null) =>
        client.ChangeState(hangfireJobId, new EnqueuedState(queue) { Reason = reason }, expectedState);

    /// <inheritdoc/>
    public bool Pause(string hangfireJobId, string? expectedState) =>
        client.ChangeState(hangfireJobId, new PausedState(), expectedState);

    /// <inheritdoc/>
    public bool MarkLeased(string hangfireJobId, LeasedState state, string? expectedState)
    {
        if (expectedState is not null)
        {
            return client.ChangeState(hangfireJobId, state, expectedState);
        }

        // From any state, so nothing needs reading under Hangfire's distributed lock: one write transaction.
        WriteState(hangfireJobId, state, expireIn: null);
        return true;
    }

    /// <inheritdoc/>
    public void MarkSucceeded(string hangfireJobId, long milliseconds) =>
        WriteState(hangfireJobId, new SucceededState(null, 0, milliseconds), storage.JobExpirationTimeout);

    /// <inheritdoc/>
    public void MarkFailed(string hangfireJobId, string error) =>
        client.ChangeState(hangfireJobId, new FailedState(new FrameTaskFailedException(error)), null);

    /// <inheritdoc/>
    public void Delete(string hangfireJobId, string? expectedState = null)
    {
        if (expectedState is null)
        {
            client.Delete(hangfireJobId);
        }
        else
        {
            client.ChangeState(hangfireJobId, new DeletedState(), expectedState);
        }
    }

    /// <inheritdoc/>
    public void EnqueueSettlement(Guid jobId) => SettlementJob.Enqueue(client, jobId);

    // A state change that the farm record has already decided, written the way Hangfire's state machine writes it (the
    // state row and the job's current state; a final state also expires the job and adds to the dashboard's total and
    // its daily and hourly history, as SucceededState's handler and StatisticsHistoryAttribute do) but in one
    // transaction, without the distributed lock, the job read and the filters of ChangeState. Profiled on PostgreSQL,
    // ChangeState cost about nine statements (the lock's insert and two deletes among them) where this costs one or five.
    private void WriteState(string hangfireJobId, IState state, TimeSpan? expireIn)
    {
        if (states?.TryWrite(hangfireJobId, state, expireIn) == true)
        {
            return;
        }

        using IStorageConnection connection = storage.GetConnection();
        using IWriteOnlyTransaction transaction = connection.CreateWriteTransaction();
        transaction.SetJobState(hangfireJobId, state);
        if (expireIn is { } expiry)
        {
            string counter = "stats:" + state.Name.ToLowerInvariant();
            DateTime now = DateTime.UtcNow;
            transaction.ExpireJob(hangfireJobId, expiry);
            transaction.IncrementCounter(counter);
            transaction.IncrementCounter($"{counter}:{now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}", now.AddMonths(1) - now);
            transaction.IncrementCounter($"{counter}:{now.ToString("yyyy-MM-dd-HH", CultureInfo.InvariantCulture)}", TimeSpan.FromDays(1));
        }

        transaction.Commit();
    }
}
