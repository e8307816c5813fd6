namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The in-process wake-up of lease long-polls, per queue. A waiting poll registers for its queues and awaits a task
/// completion: no thread, no database connection. <see cref="Signal"/> (work may have arrived on a queue) wakes one
/// waiting poll of that queue, which then looks once; a poll that finds work wakes the next (see
/// <see cref="QueueFetcher"/>), so a burst drains without waking every poll for every task.
/// </summary>
/// <remarks>
/// A signal that finds no idle poll is kept as a permit (at most <see cref="MaxPermits"/> per queue): a poll busy
/// looking when the signal came takes it before it goes idle and looks again, so a task enqueued while the look ran
/// is never missed.
/// </remarks>
internal sealed class QueueSignals
{
    /// <summary>Signals kept per queue while no poll waits on it; each costs one extra look at most.</summary>
    public const int MaxPermits = 16;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedList<Waiter>> _idle = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _permits = new(StringComparer.Ordinal);

    // Every queue a poll has waited on (validated names, so few): where a signal for "some queue" may leave permits.
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private int _idleCount;

    /// <summary>Polls idle at this moment (awaiting a signal).</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _idleCount;
            }
        }
    }

    /// <summary>A waiter for <paramref name="queues"/>; dispose it when the poll ends.</summary>
    public Waiter Register(string[] queues) => new(this, queues);

    /// <summary>Work may have arrived on <paramref name="queue"/>: wakes one idle poll of it, or keeps a permit.</summary>
    public void Signal(string queue)
    {
        lock (_gate)
        {
            SignalUnderGate(queue);
        }
    }

    private void SignalUnderGate(string queue)
    {
        if (_idle.TryGetValue(queue, out LinkedList<Waiter>? waiters) && waiters.First is { } first)
        {
            Wake(first.Value);
            return;
        }

        _permits[queue] = Math.Min(_permits.GetValueOrDefault(queue) + 1, MaxPermits);
    }

    /// <summary>
    /// Work may have arrived on some queue, which one unknown (Hangfire.PostgreSql's <c>new_job</c> notification carries
    /// no queue; a periodic fallback): wakes one idle poll of every queue polls have waited on, or keeps a permit.
    /// </summary>
    public void SignalEveryQueue()
    {
        lock (_gate)
        {
            foreach (string queue in _known)
            {
                SignalUnderGate(queue);
            }
        }
    }

    // Under _gate: takes the waiter out of every queue it waits on and completes its wait.
    private void Wake(Waiter waiter)
    {
        waiter.Unlink();
        waiter.Pending!.TrySetResult(true);
        waiter.Pending = null;
    }

    /// <summary>One poll's registration. Not thread-safe: one poll awaits it at a time.</summary>
    internal sealed class Waiter : IDisposable
    {
        private readonly QueueSignals _owner;
        private readonly string[] _queues;
        private readonly LinkedListNode<Waiter>?[] _nodes;

        internal Waiter(QueueSignals owner, string[] queues)
        {
            _owner = owner;
            _queues = queues;
            _nodes = new LinkedListNode<Waiter>?[queues.Length];
        }

        // Set while idle; completed (under the owner's gate) by a signal.
        internal TaskCompletionSource<bool>? Pending { get; set; }

        /// <summary>Waits for a signal on any of the queues, up to <paramref name="timeout"/>.</summary>
        /// <returns>True when signalled (look again), false when the time ran out.</returns>
        public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            TaskCompletionSource<bool> pending;
            lock (_owner._gate)
            {
                // A signal that came while this poll was looking: look again instead of waiting.
                foreach (string queue in _queues)
                {
                    if (_owner._permits.TryGetValue(queue, out int permits) && permits > 0)
                    {
                        if (permits == 1)
                        {
                            _owner._permits.Remove(queue);
                        }
                        else
                        {
                            _owner._permits[queue] = permits - 1;
                        }

                        return true;
                    }
                }

                if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
                {
                    return false;
                }

                pending = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                Pending = pending;
                Link();
            }

            try
            {
                return await pending.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                lock (_owner._gate)
                {
                    if (Pending == pending)
                    {
                        Unlink();
                        Pending = null;
                    }
                }

                // Woken in the same instant it gave up: the signal is not lost, it is passed on below.
                if (pending.Task.IsCompletedSuccessfully)
                {
                    PassOn();
                }

                if (ex is OperationCanceledException)
                {
                    throw;
                }

                return false;
            }
        }

        /// <summary>Passes a signal this poll will not use to another poll of its queues.</summary>
        public void PassOn()
        {
            foreach (string queue in _queues)
            {
                _owner.Signal(queue);
            }
        }

        /// <summary>Leaves every queue.</summary>
        public void Dispose()
        {
            lock (_owner._gate)
            {
                if (Pending is not null)
                {
                    Unlink();
                    Pending = null;
                }
            }
        }

        // Under the owner's gate.
        private void Link()
        {
            for (int i = 0; i < _queues.Length; i++)
            {
                _owner._known.Add(_queues[i]);
                if (!_owner._idle.TryGetValue(_queues[i], out LinkedList<Waiter>? list))
                {
                    list = new LinkedList<Waiter>();
                    _owner._idle[_queues[i]] = list;
                }

                _nodes[i] = list.AddLast(this);
            }

            _owner._idleCount++;
        }

        // Under the owner's gate.
        internal void Unlink()
        {
            for (int i = 0; i < _queues.Length; i++)
            {
                if (_nodes[i] is { List: { } list } node)
                {
                    list.Remove(node);
                    if (list.Count == 0)
                    {
                        _owner._idle.Remove(_queues[i]);
                    }
                }

                _nodes[i] = null;
            }

            _owner._idleCount--;
        }
    }
}
