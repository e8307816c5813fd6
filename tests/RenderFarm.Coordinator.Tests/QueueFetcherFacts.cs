using System.Reflection;
using Hangfire.Storage;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>How lease long-polls wait for queued work.</summary>
public sealed class QueueFetcherFacts
{
    // Guards availability: every waiting poll sat inside FetchNextJob for its whole wait, holding a thread and (on
    // PostgreSQL) database connections; 200 waiting providers exhausted the pool. Now a bounded number fetch at once.
    [Fact]
    public async Task No_more_than_the_bound_of_polls_wait_inside_FetchNextJob_and_each_returns_after_its_wait()
    {
        const int Polls = 60;
        var fetcher = new QueueFetcher();
        IStorageConnection connection = CountingConnection.Create(out CountingConnection counter);

        Task<IFetchedJob?>[] polls = [.. Enumerable.Range(0, Polls).Select(_ => fetcher.FetchAsync(connection, ["render"], TimeSpan.FromSeconds(3), CancellationToken.None))];
        IFetchedJob?[] fetched = await Task.WhenAll(polls).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(fetched, Assert.Null);
        Assert.InRange(counter.MostAtOnce, 1, QueueFetcher.MaxConcurrentFetches);
        Assert.True(counter.Calls > QueueFetcher.MaxConcurrentFetches, "Waiting polls took turns.");
    }

    /// <summary>A storage connection whose queues stay empty: FetchNextJob waits for its token, counting callers.</summary>
    public class CountingConnection : DispatchProxy
    {
        private int _inside;
        private int _mostAtOnce;
        private int _calls;

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public int Calls => Volatile.Read(ref _calls);

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
