using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>The in-process wake-up of waiting lease polls.</summary>
public sealed class QueueSignalsFacts
{
    [Fact]
    public async Task A_signal_wakes_one_waiting_poll_of_its_queue_and_no_other()
    {
        var signals = new QueueSignals();
        using QueueSignals.Waiter first = signals.Register(["render"]);
        using QueueSignals.Waiter second = signals.Register(["render"]);
        using QueueSignals.Waiter other = signals.Register(["validate"]);
        using var stop = new CancellationTokenSource();
        Task<bool> a = first.WaitAsync(Timeout.InfiniteTimeSpan, stop.Token);
        Task<bool> b = second.WaitAsync(Timeout.InfiniteTimeSpan, stop.Token);
        Task<bool> c = other.WaitAsync(Timeout.InfiniteTimeSpan, stop.Token);
        Assert.Equal(3, signals.Waiting);

        signals.Signal("render");

        Assert.True(await Task.WhenAny(a, b).Unwrap());
        Assert.Equal(2, signals.Waiting);
        Assert.False(a.IsCompleted && b.IsCompleted, "One signal woke one poll.");
        Assert.False(c.IsCompleted);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => c);
        Assert.Equal(0, signals.Waiting);
    }

    // Guards against a lost wake-up: work enqueued while the only poll was busy looking (and found nothing, because the
    // look ran before the commit) must make that poll look again rather than sleep through its wait.
    [Fact]
    public async Task A_signal_while_no_poll_waits_is_kept_for_the_next_one_to_go_idle()
    {
        var signals = new QueueSignals();
        using QueueSignals.Waiter waiter = signals.Register(["render"]);

        signals.Signal("render");

        Assert.True(await waiter.WaitAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.False(await waiter.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public async Task Permits_are_bounded_so_a_storm_of_signals_costs_a_bounded_number_of_looks()
    {
        var signals = new QueueSignals();
        using QueueSignals.Waiter waiter = signals.Register(["render"]);
        for (int i = 0; i < 1000; i++)
        {
            signals.Signal("render");
        }

        int looks = 0;
        while (await waiter.WaitAsync(TimeSpan.Zero, CancellationToken.None))
        {
            looks++;
        }

        Assert.Equal(QueueSignals.MaxPermits, looks);
    }

    [Fact]
    public async Task A_signal_for_some_queue_wakes_one_poll_per_queue()
    {
        var signals = new QueueSignals();
        using QueueSignals.Waiter render1 = signals.Register(["render"]);
        using QueueSignals.Waiter render2 = signals.Register(["render"]);
        using QueueSignals.Waiter validate = signals.Register(["validate"]);
        Task<bool> r1 = render1.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);
        Task<bool> r2 = render2.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);
        Task<bool> v = validate.WaitAsync(Timeout.InfiniteTimeSpan, CancellationToken.None);

        signals.SignalEveryQueue();

        Assert.True(await v);
        Assert.True(await Task.WhenAny(r1, r2).Unwrap());
        Assert.Equal(1, signals.Waiting);
        signals.Signal("render");
        Assert.True(await r1 && await r2);
    }

    [Fact]
    public async Task A_poll_whose_wait_ends_leaves_every_queue()
    {
        var signals = new QueueSignals();
        using QueueSignals.Waiter waiter = signals.Register(["validate", "render"]);

        Assert.False(await waiter.WaitAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None));

        Assert.Equal(0, signals.Waiting);

        // The signal finds no poll and becomes a permit rather than waking the one that left.
        signals.Signal("render");
        using QueueSignals.Waiter next = signals.Register(["render"]);
        Assert.True(await next.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }
}
