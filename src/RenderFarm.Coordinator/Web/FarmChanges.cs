namespace RenderFarm.Coordinator.Web;

/// <summary>
/// Tells the web app's live streams that the farm's records changed: every job, task or provider change made through
/// this coordinator bumps one version and wakes every waiting stream, which then renders its page part again and sends
/// it only when it differs. Changes made by other coordinators sharing the database are picked up by the streams' slow
/// periodic refresh.
/// </summary>
internal sealed class FarmChanges
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _version;

    /// <summary>How many changes were signalled so far.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>Records a change and wakes every waiting stream.</summary>
    public void Signal()
    {
        TaskCompletionSource woken;
        lock (_lock)
        {
            _version++;
            woken = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        woken.TrySetResult();
    }

    /// <summary>Waits until a change after <paramref name="seen"/>, or <paramref name="timeout"/>, whichever comes first.</summary>
    public async Task WaitAsync(long seen, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task next;
        lock (_lock)
        {
            if (_version != seen)
            {
                return;
            }

            next = _next.Task;
        }

        try
        {
            await next.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The periodic refresh.
        }
    }
}
