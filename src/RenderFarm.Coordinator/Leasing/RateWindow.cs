using System.Collections.Concurrent;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Counts events per key in fixed one-minute windows on the coordinator's clock (per coordinator process): logins per
/// provider and per remote address, failure reports per provider. Bounded: when it tracks too many keys, windows that
/// ended are dropped.
/// </summary>
internal sealed class RateWindow(TimeProvider time)
{
    private const int MaxKeys = 100_000;
    private static readonly TimeSpan s_window = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Counts one event for <paramref name="key"/>; false (and not counted) when the key already had <paramref name="limit"/> this window.</summary>
    public bool TryTake(string key, int limit)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_windows.Count >= MaxKeys)
        {
            foreach (KeyValuePair<string, Window> entry in _windows)
            {
                if (entry.Value.Start + s_window <= now)
                {
                    _windows.TryRemove(entry);
                }
            }
        }

        while (true)
        {
            Window current = _windows.GetOrAdd(key, _ => new Window(now, 0));
            (bool allowed, Window next) = Next(current, now, limit, s_window);
            if (!allowed)
            {
                return false;
            }

            if (_windows.TryUpdate(key, next, current))
            {
                return true;
            }
        }
    }

    /// <summary>The decision for one event: a window that ended starts again at <paramref name="now"/>.</summary>
    internal static (bool Allowed, Window Next) Next(Window current, DateTimeOffset now, int limit, TimeSpan length)
    {
        Window window = current.Start + length <= now || now < current.Start ? new Window(now, 0) : current;
        return window.Count >= limit ? (false, window) : (true, window with { Count = window.Count + 1 });
    }

    /// <summary>A window's start and the events counted in it.</summary>
    internal sealed record Window(DateTimeOffset Start, int Count);
}
