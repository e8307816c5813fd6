using System.Collections.Concurrent;
using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Takes the next job off Hangfire queues for lease long-polls. A waiting poll holds no thread and no database
/// connection: it awaits an in-process signal (<see cref="QueueSignals"/>, fed on PostgreSQL by one shared
/// LISTEN connection, see <see cref="PostgresQueueNotifications"/>) and only then looks, with one short, bounded
/// <see cref="IStorageConnection.FetchNextJob"/> on one of <see cref="MaxConcurrentFetches"/> fetch threads.
/// </summary>
/// <remarks>
/// Measured before this design: each waiting poll sat inside <c>FetchNextJob</c> with a thread and, on PostgreSQL with
/// long polling, a LISTEN connection of its own; 200 waiting providers took Npgsql's whole pool of 100 and every other
/// request failed or stalled.
/// </remarks>
internal sealed class QueueFetcher : IDisposable, IAsyncDisposable
{
    /// <summary>
    /// Looks at once, one fetch thread each. A look holds one Hangfire connection for one query (PostgreSQL), so this is
    /// also the most connections fetching takes from the Hangfire pool.
    /// </summary>
    public const int MaxConcurrentFetches = 16;

    /// <summary>
    /// How long one look may wait inside <c>FetchNextJob</c> for its first query's answer before it gives up. The query
    /// always runs (the token is checked before it, and armed just before the call); a miss then returns as the token
    /// fires. On Hangfire.InMemory the window also covers an enqueue whose commit follows its in-process signal.
    /// </summary>
    public static readonly TimeSpan LookWindow = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Every this often one waiting poll per queue looks even without a signal: the floor under a lost notification, a
    /// LISTEN connection that is down, or a job whose fetch lapsed (Hangfire's invisibility timeout).
    /// </summary>
    public static readonly TimeSpan FallbackInterval = TimeSpan.FromSeconds(2);

    // A look queued behind others may still run this long past its poll's deadline: a poll asked to look at least once.
    private static readonly TimeSpan s_lookGrace = TimeSpan.FromSeconds(1);

    private readonly BlockingCollection<Look> _looks = new(new ConcurrentQueue<Look>());
    private readonly Lock _startGate = new();
    private readonly Timer _fallback;
    private readonly JobStorage? _fetchStorage;
    private readonly PostgresQueueNotifications? _notifications;
    private bool _started;

    /// <summary>A fetcher whose signals are all in-process (Hangfire.InMemory, or a single process in tests).</summary>
    public QueueFetcher()
        : this(new QueueSignals(), fetchStorage: null, notifications: null)
    {
    }

    /// <summary>A fetcher woken through <paramref name="signals"/>.</summary>
    /// <param name="signals">The per-queue wake-up.</param>
    /// <param name="fetchStorage">
    /// Storage that looks run on instead of the caller's connection (PostgreSQL: the same database without a LISTEN
    /// connection per fetch); null to use the caller's connection.
    /// </param>
    /// <param name="notifications">
    /// The PostgreSQL listener that feeds <paramref name="signals"/> and announces put-back jobs to every coordinator;
    /// owned by the fetcher from now on. Null to signal in-process only.
    /// </param>
    /// <param name="fallbackInterval">How often a poll per queue looks unsignalled; <see cref="FallbackInterval"/> when null, never when infinite.</param>
    public QueueFetcher(QueueSignals signals, JobStorage? fetchStorage, PostgresQueueNotifications? notifications, TimeSpan? fallbackInterval = null)
    {
        Signals = signals;
        _fetchStorage = fetchStorage;
        _notifications = notifications;
        TimeSpan interval = fallbackInterval ?? FallbackInterval;
        _fallback = new Timer(static state => ((QueueSignals)state!).SignalEveryQueue(), signals, interval, interval);
    }

    /// <summary>
    /// The fetcher for <paramref name="backends"/>: on PostgreSQL woken by LISTEN/NOTIFY (listening from now on) and
    /// looking through <see cref="CoordinatorBackends.FetchStorage"/>; otherwise in-process.
    /// </summary>
    public static QueueFetcher For(CoordinatorBackends backends, ILoggerFactory loggers)
    {
        var signals = new QueueSignals();
        PostgresQueueNotifications? notifications = null;
        if (backends.QueueNotifications is { } connectionString)
        {
            notifications = new PostgresQueueNotifications(connectionString, signals, loggers.CreateLogger<PostgresQueueNotifications>());
            notifications.Start();
        }

        return new QueueFetcher(signals, backends.FetchStorage, notifications);
    }

    /// <summary>Storage the looks run on when it is not the caller's (PostgreSQL without long polling); null otherwise.</summary>
    public JobStorage? FetchStorage => _fetchStorage;

    /// <summary>
    /// Tells waiting polls, of every coordinator, that jobs were enqueued on <paramref name="queue"/> by a transaction
    /// that has committed (a batch enqueued without Hangfire.PostgreSql's own notification).
    /// </summary>
    public void AnnounceEnqueued(string queue) => AnnouncePutBack([queue]);

    /// <summary>The PostgreSQL listener, when there is one.</summary>
    public PostgresQueueNotifications? Notifications => _notifications;

    /// <summary>The wake-up this fetcher's polls wait on.</summary>
    public QueueSignals Signals { get; }

    /// <summary>Waits up to <paramref name="wait"/> for a job on <paramref name="queues"/> and takes it.</summary>
    /// <param name="connection">Hangfire connection of the caller; looks use it unless the fetcher has its own storage.</param>
    /// <param name="queues">The queues, most wanted first (see <see cref="FetchOrder"/>).</param>
    /// <param name="wait">How long to wait; zero looks once.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>The fetched job, or null when none came within the wait.</returns>
    public async Task<IFetchedJob?> FetchAsync(IStorageConnection connection, string[] queues, TimeSpan wait, CancellationToken cancellationToken)
    {
        // The wait is transport time, so it runs on the real clock, not the injected TimeProvider.
        long deadline = Environment.TickCount64 + (long)wait.TotalMilliseconds;
        string[][] groups = FetchOrder(queues);

        // Registered before the first look, so that a signal during the look is kept for this poll (see QueueSignals).
        using QueueSignals.Waiter waiter = Signals.Register(queues);
        while (true)
        {
            if (await LookAsync(connection, groups, deadline, cancellationToken).ConfigureAwait(false) is { } fetched)
            {
                // More may wait behind it: wake another poll per queue of the group. A burst fans out this way, and
                // the first look that finds nothing ends the chain.
                foreach (string queue in fetched.Group)
                {
                    Signals.Signal(queue);
                }

                return new PutBackAnnouncing(fetched.Job, fetched.Group, this);
            }

            TimeSpan remaining = TimeSpan.FromMilliseconds(deadline - Environment.TickCount64);
            if (!await waiter.WaitAsync(remaining, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }
    }

    /// <summary>
    /// The queues in runs that one <c>FetchNextJob</c> may take at once. Hangfire.PostgreSql takes the oldest unfetched
    /// job ordered by queue name, not by the order asked for, so a run may only hold queues already in alphabetical
    /// order: <c>[validate, inference, render_0_high, …]</c> becomes <c>[validate]</c> then <c>[inference, render_0_high,
    /// …]</c>, and spot checks keep their precedence over a render backlog. (Render priorities sort alphabetically by
    /// design: <c>render_0_high</c> &lt; <c>render_1_normal</c> &lt; <c>render_2_low</c>.)
    /// </summary>
    internal static string[][] FetchOrder(string[] queues)
    {
        var groups = new List<string[]>();
        int start = 0;
        for (int i = 1; i <= queues.Length; i++)
        {
            if (i == queues.Length || string.CompareOrdinal(queues[i - 1], queues[i]) >= 0)
            {
                groups.Add(queues[start..i]);
                start = i;
            }
        }

        return [.. groups];
    }

    /// <summary>Stops the fetch threads, the fallback timer and the listener.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Stops the fetch threads, the fallback timer and the listener.</summary>
    public async ValueTask DisposeAsync()
    {
        await _fallback.DisposeAsync().ConfigureAwait(false);
        if (!_looks.IsAddingCompleted)
        {
            _looks.CompleteAdding();
        }

        if (_notifications is not null)
        {
            await _notifications.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Task<Fetched?> LookAsync(IStorageConnection connection, string[][] groups, long deadline, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var look = new Look(connection, groups, Math.Max(deadline, Environment.TickCount64 + (long)s_lookGrace.TotalMilliseconds), cancellationToken);
        _looks.Add(look, CancellationToken.None);
        return look.Result.Task;
    }

    private void EnsureStarted()
    {
        lock (_startGate)
        {
            if (_started)
            {
                return;
            }

            _started = true;
            for (int i = 0; i < MaxConcurrentFetches; i++)
            {
                new Thread(RunLooks) { IsBackground = true, Name = $"lease fetch {i}" }.Start();
            }
        }
    }

    // One fetch thread: FetchNextJob blocks its thread, so the few that may run at once have threads of their own and
    // never take the thread pool's.
    private void RunLooks()
    {
        foreach (Look look in _looks.GetConsumingEnumerable())
        {
            if (look.CancellationToken.IsCancellationRequested)
            {
                look.Result.TrySetCanceled(look.CancellationToken);
                continue;
            }

            if (Environment.TickCount64 > look.NotAfter)
            {
                // Its poll has answered already (or is about to): the turn goes to the next.
                look.Result.TrySetResult(null);
                continue;
            }

            try
            {
                look.Result.TrySetResult(Run(look));
            }
            catch (OperationCanceledException) when (look.CancellationToken.IsCancellationRequested)
            {
                look.Result.TrySetCanceled(look.CancellationToken);
            }
            catch (Exception ex)
            {
                look.Result.TrySetException(ex);
            }
        }
    }

    private Fetched? Run(Look look)
    {
        IStorageConnection? own = _fetchStorage?.GetConnection();
        try
        {
            IStorageConnection connection = own ?? look.Connection;
            foreach (string[] group in look.Groups)
            {
                // Armed here, on the fetch thread, just before the call: FetchNextJob checks the token before its first
                // query, and a token that fired while the look sat in line would make it find nothing.
                using var window = CancellationTokenSource.CreateLinkedTokenSource(look.CancellationToken);
                window.CancelAfter(LookWindow);
                try
                {
                    if (connection.FetchNextJob(group, window.Token) is { } job)
                    {
                        return new Fetched(job, group);
                    }
                }
                catch (OperationCanceledException) when (!look.CancellationToken.IsCancellationRequested)
                {
                    // The window ended with the queues empty.
                }
            }

            return null;
        }
        finally
        {
            own?.Dispose();
        }
    }

    private void AnnouncePutBack(string[] queues)
    {
        if (_notifications is null)
        {
            foreach (string queue in queues)
            {
                Signals.Signal(queue);
            }
        }
        else
        {
            _notifications.AnnouncePutBack(queues);
        }
    }

    private sealed record Fetched(IFetchedJob Job, string[] Group);

    private sealed class Look(IStorageConnection connection, string[][] groups, long notAfter, CancellationToken cancellationToken)
    {
        public IStorageConnection Connection { get; } = connection;

        public string[][] Groups { get; } = groups;

        public long NotAfter { get; } = notAfter;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<Fetched?> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    // A fetched job that, when it goes back to its queue (skipped for this provider, or dropped without removal), wakes
    // a waiting poll: Hangfire.PostgreSql notifies on enqueue only.
    private sealed class PutBackAnnouncing(IFetchedJob inner, string[] queues, QueueFetcher owner) : IFetchedJob
    {
        private bool _done;

        public string JobId => inner.JobId;

        public void RemoveFromQueue()
        {
            inner.RemoveFromQueue();
            _done = true;
        }

        public void Requeue()
        {
            inner.Requeue();
            if (!_done)
            {
                _done = true;
                owner.AnnouncePutBack(queues);
            }
        }

        public void Dispose()
        {
            // Hangfire's fetched jobs put themselves back on Dispose unless removed or requeued.
            inner.Dispose();
            if (!_done)
            {
                _done = true;
                owner.AnnouncePutBack(queues);
            }
        }
    }
}
