using Microsoft.Extensions.Logging;
using Npgsql;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The one PostgreSQL connection per coordinator that listens for new work and feeds <see cref="QueueSignals"/>:
/// Hangfire.PostgreSql's own <c>new_job</c> notification (sent inside the enqueuing transaction, so it arrives after
/// the commit, from every coordinator process; it names no queue) and <c>renderfarm_queue</c>, whose payload names the
/// queue a fetched job was put back on (Hangfire.PostgreSql notifies on enqueue only).
/// </summary>
/// <remarks>
/// LISTEN needs a session of its own for as long as it listens, so it cannot go through PgBouncer in transaction
/// pooling mode (docs/operations.md). When the connection drops it reconnects with a growing delay, and wakes a poll
/// per queue once it listens again, for whatever was enqueued in between.
/// </remarks>
internal sealed partial class PostgresQueueNotifications : IAsyncDisposable
{
    /// <summary>Hangfire.PostgreSql's channel (PostgreSqlJobQueue, with <c>EnableLongPolling</c>).</summary>
    public const string HangfireChannel = "new_job";

    /// <summary>This coordinator's channel for jobs put back on a queue; the payload is the queue.</summary>
    public const string PutBackChannel = "renderfarm_queue";

    private static readonly TimeSpan s_maxRetryDelay = TimeSpan.FromSeconds(10);

    // Only queue names are signals; anything else in a payload (the channel is open to every session) is ignored.
    private static readonly HashSet<string> s_queues = new(StringComparer.Ordinal)
    {
        FarmQueues.Validate, FarmQueues.Inference, FarmQueues.RenderHigh, FarmQueues.RenderNormal, FarmQueues.RenderLow,
    };

    private readonly string _listenConnectionString;
    private readonly NpgsqlDataSource _notify;
    private readonly QueueSignals _signals;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;

    /// <summary>Prepares the listener; <see cref="Start"/> opens it.</summary>
    /// <param name="connectionString">The Hangfire database.</param>
    /// <param name="signals">What notifications wake.</param>
    /// <param name="logger">Logs lost and regained connections.</param>
    public PostgresQueueNotifications(string connectionString, QueueSignals signals, ILogger logger)
    {
        _signals = signals;
        _logger = logger;

        // Its own unpooled session: a pooled one would be reset (UNLISTEN) when it went back to a pool.
        _listenConnectionString = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            ApplicationName = "renderfarm-listen",
            KeepAlive = 30,
        }.ConnectionString;

        // Put-back notifications: short statements; a few connections at most.
        _notify = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = NotifyPoolSize,
            ApplicationName = "renderfarm-notify",
        }.ConnectionString);
    }

    /// <summary>Most connections the put-back notifications take.</summary>
    public const int NotifyPoolSize = 2;

    /// <summary>Completes once the connection listens (the first time).</summary>
    public Task Listening => _listening.Task;

    /// <summary>Opens the listening connection in the background.</summary>
    public void Start() => _loop ??= Task.Run(() => ListenAsync(_stop.Token));

    /// <summary>Tells every coordinator listening that a job went back to <paramref name="queues"/>; never throws.</summary>
    public void AnnouncePutBack(string[] queues) => _ = AnnouncePutBackAsync(queues);

    /// <summary>Stops listening.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        await _notify.DisposeAsync();
        _stop.Dispose();
    }

    private async Task AnnouncePutBackAsync(string[] queues)
    {
        try
        {
            await using NpgsqlConnection connection = await _notify.OpenConnectionAsync(_stop.Token).ConfigureAwait(false);
            foreach (string queue in queues)
            {
                await using var command = new NpgsqlCommand("SELECT pg_notify(@channel, @queue)", connection);
                command.Parameters.AddWithValue("channel", PutBackChannel);
                command.Parameters.AddWithValue("queue", queue);
                await command.ExecuteNonQueryAsync(_stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            // A lost announcement delays the job by the fallback interval at most; the job itself is back in its queue.
            foreach (string queue in queues)
            {
                _signals.Signal(queue);
            }

            LogAnnounceFailed(ex.Message);
        }
    }

    private async Task ListenAsync(CancellationToken stop)
    {
        TimeSpan retry = TimeSpan.FromSeconds(1);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_listenConnectionString);
                connection.Notification += OnNotification;
                await connection.OpenAsync(stop).ConfigureAwait(false);
                await using (var listen = new NpgsqlCommand($"LISTEN {HangfireChannel}; LISTEN {PutBackChannel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                LogListening();
                _listening.TrySetResult();

                // Work enqueued while nobody listened announced itself to nobody.
                _signals.SignalEveryQueue();
                retry = TimeSpan.FromSeconds(1);
                while (true)
                {
                    await connection.WaitAsync(stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or System.IO.IOException)
            {
                LogListenFailed(retry.TotalSeconds, ex.Message);
                try
                {
                    await Task.Delay(retry, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                retry = retry * 2 > s_maxRetryDelay ? s_maxRetryDelay : retry * 2;
            }
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.Channel == PutBackChannel)
        {
            if (s_queues.Contains(e.Payload))
            {
                _signals.Signal(e.Payload);
            }
        }
        else
        {
            _signals.SignalEveryQueue();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for new work on PostgreSQL.")]
    private partial void LogListening();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The PostgreSQL connection that listens for new work failed; trying again in {Seconds} s: {Reason}")]
    private partial void LogListenFailed(double seconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not announce a job put back on its queue (waiting polls find it within the fallback interval): {Reason}")]
    private partial void LogAnnounceFailed(string reason);
}
