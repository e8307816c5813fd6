using System.Reflection;
using Hangfire.Storage;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>How lease long-polls wait for queued work.</summary>
public sealed class QueueFetcherFacts
{
    // Guards availability: every waiting poll sat inside FetchNextJob for its whole wait, holding a thread and (on
    // PostgreSQL) database connections; 200 waiting providers exhausted the pool. Now a poll looks once, boundedly, and
    // then waits on an in-process signal with no thread inside FetchNextJob.
    [Fact]
    public async Task Waiting_polls_hold_no_fetch_and_a_signal_makes_exactly_one_look()
    {
        const int Polls = 60;
        await using var fetcher = new QueueFetcher(new QueueSignals(), fetchStorage: null, notifications: null, fallbackInterval: Timeout.InfiniteTimeSpan);
        IStorageConnection connection = CountingConnection.Create(out CountingConnection counter);

        Task<IFetchedJob?>[] polls = [.. Enumerable.Range(0, Polls).Select(_ => fetcher.FetchAsync(connection, ["render"], TimeSpan.FromSeconds(60), CancellationToken.None))];
        await WaitUntilAsync(() => fetcher.Signals.Waiting == Polls);

        Assert.Equal(0, counter.Inside);
        Assert.Equal(Polls, counter.Calls);
        Assert.InRange(counter.MostAtOnce, 1, QueueFetcher.MaxConcurrentFetches);

        fetcher.Signals.Signal("render");
        await WaitUntilAsync(() => counter.Calls == Polls + 1 && fetcher.Signals.Waiting == Polls);
        Assert.All(polls, poll => Assert.False(poll.IsCompleted));
    }

    [Fact]
    public async Task A_poll_without_a_signal_answers_empty_after_its_wait()
    {
        await using var fetcher = new QueueFetcher(new QueueSignals(), fetchStorage: null, notifications: null, fallbackInterval: Timeout.InfiniteTimeSpan);
        IStorageConnection connection = CountingConnection.Create(out CountingConnection counter);

        Assert.Null(await fetcher.FetchAsync(connection, ["render"], TimeSpan.FromMilliseconds(200), CancellationToken.None));
        Assert.Equal(1, counter.Calls);
        Assert.Equal(0, fetcher.Signals.Waiting);
    }

    // Guards queue precedence: Hangfire.PostgreSql orders a fetch over several queues by queue name, so asking for
    // [validate, render] in one call served every render task before any spot check.
    [Fact]
    public void Queues_out_of_alphabetical_order_are_looked_at_in_separate_fetches_in_the_order_asked()
    {
        string[] expanded = FarmQueues.Expand(["render", "inference", "validate"]);

        string[][] order = QueueFetcher.FetchOrder(expanded);

        Assert.Equal([FarmQueues.Validate], order[0]);
        Assert.Equal([FarmQueues.Inference, FarmQueues.RenderHigh, FarmQueues.RenderNormal, FarmQueues.RenderLow], order[1]);
        Assert.Equal(2, order.Length);
        Assert.Single(QueueFetcher.FetchOrder(FarmQueues.Expand(["render"])));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition(), "The condition did not come true within 30 s.");
    }

    /// <summary>A storage connection whose queues stay empty: FetchNextJob waits for its token, counting callers.</summary>
    public class CountingConnection : DispatchProxy
    {
        private int _inside;
        private int _mostAtOnce;
        private int _calls;

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public int Calls => Volatile.Read(ref _calls);

        public int Inside => Volatile.Read(ref _inside);

        public static IStorageConnection Create(out CountingConnection counter)
        {
            IStorageConnection connection = Create<IStorageConnection, CountingConnection>();
            counter = (CountingConnection)(object)connection;
            return connection;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IStorageConnection.FetchNextJob))
            {
                throw new NotSupportedException(targetMethod?.Name);
            }

            Interlocked.Increment(ref _calls);
            int inside = Interlocked.Increment(ref _inside);
            int most;
            while (inside > (most = Volatile.Read(ref _mostAtOnce)) && Interlocked.CompareExchange(ref _mostAtOnce, inside, most) != most)
            {
            }

            try
            {
                var token = (CancellationToken)args![1]!;
                token.WaitHandle.WaitOne();
                token.ThrowIfCancellationRequested();
                return null;
            }
            finally
            {
                Interlocked.Decrement(ref _inside);
            }
        }
    }
}
