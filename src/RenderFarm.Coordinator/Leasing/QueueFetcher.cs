using Hangfire.Storage;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Takes the next job off Hangfire queues for lease long-polls, so that waiting polls hold no database connection and
/// no thread. Hangfire's <see cref="IStorageConnection.FetchNextJob"/> blocks a thread for as long as it waits and, on
/// PostgreSQL with long polling, holds a LISTEN connection besides its queries: 200 waiting providers took 200
/// connections from Npgsql's pool of 100, and every other request (health, logins, reports) failed or stalled. Here at
/// most <see cref="MaxConcurrentFetches"/> polls are inside <c>FetchNextJob</c> at once, each for at most
/// <see cref="MaxFetchWindow"/>; the rest wait for a turn asynchronously.
/// </summary>
internal sealed class QueueFetcher
{
    /// <summary>
    /// Polls inside <c>FetchNextJob</c> at once: each takes up to two PostgreSQL connections (query and LISTEN) and a
    /// thread, so 16 take at most 32 of the pool's 100 and leave the rest to everything else.
    /// </summary>
    public const int MaxConcurrentFetches = 16;

    /// <summary>
    /// Longest stretch one poll waits inside <c>FetchNextJob</c> before it lets the next poll in, so that waiting polls
    /// take turns and none sits out its whole wait behind others. Long enough for a fetch to run its first query even
    /// on a busy machine (a shorter window can end before it, and the turn finds nothing).
    /// </summary>
    public static readonly TimeSpan MaxFetchWindow = TimeSpan.FromSeconds(2);

    // Shortest stretch inside FetchNextJob, even for a poll whose turn came at the end of its wait: a token that fires
    // before the first query would make the turn find nothing although work is queued.
    private static readonly TimeSpan s_minFetchWindow = TimeSpan.FromMilliseconds(200);

    private readonly SemaphoreSlim _slots = new(MaxConcurrentFetches, MaxConcurrentFetches);

    /// <summary>Waits up to <paramref name="wait"/> for a job on <paramref name="queues"/> and takes it.</summary>
    /// <returns>The fetched job, or null when none came within the wait.</returns>
    public async Task<IFetchedJob?> FetchAsync(IStorageConnection connection, string[] queues, TimeSpan wait, CancellationToken cancellationToken)
    {
        // The wait is transport time, so it runs on the real clock, not the injected TimeProvider.
        long deadline = Environment.TickCount64 + (long)wait.TotalMilliseconds;
        do
        {
            // A poll with no wait left still gets one turn: the caller asked to look at least once.
            TimeSpan remaining = TimeSpan.FromMilliseconds(Math.Max(deadline - Environment.TickCount64, 0));
            if (!await _slots.WaitAsync(remaining < s_minFetchWindow ? s_minFetchWindow : remaining, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            try
            {
                // At least a minimal window, even when the turn came late: the fetch must get to run its query.
                remaining = TimeSpan.FromMilliseconds(Math.Max(deadline - Environment.TickCount64, 0));
                TimeSpan window = remaining < s_minFetchWindow ? s_minFetchWindow : remaining > MaxFetchWindow ? MaxFetchWindow : remaining;
                if (await FetchForAsync(connection, queues, window, cancellationToken).ConfigureAwait(false) is { } fetched)
                {
                    return fetched;
                }
            }
            finally
            {
                _slots.Release();
            }
        }
        while (Environment.TickCount64 < deadline);

        return null;
    }

    private static async Task<IFetchedJob?> FetchForAsync(IStorageConnection connection, string[] queues, TimeSpan window, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(window);

        // FetchNextJob blocks its thread until a job arrives or the token fires; a dedicated thread keeps the
        // (bounded) fetches from starving the thread pool.
        return await Task.Factory.StartNew(
            () =>
            {
                try
                {
                    return connection.FetchNextJob(queues, timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).ConfigureAwait(false);
    }
}
