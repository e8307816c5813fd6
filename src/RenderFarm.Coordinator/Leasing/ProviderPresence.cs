using System.Collections.Concurrent;
using Hangfire;
using Hangfire.Storage;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Providers that asked for work lately, kept as Hangfire server entries (<c>provider:ADDRESS</c>) so the dashboard
/// shows who works; the entries live in Hangfire's storage, so every coordinator sharing it sees the same providers.
/// A provider's entry is written at most once per <see cref="RefreshInterval"/> by this coordinator: Hangfire drops a
/// server entry only after minutes without a heartbeat, and a write per lease was one statement per task.
/// </summary>
internal sealed class ProviderPresence(JobStorage storage)
{
    /// <summary>The shortest time between two writes of one provider's entry by this coordinator.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    private const string ServerPrefix = "provider:";

    // Bounds the memory of providers seen: past it the record starts over (every provider's next call writes once).
    private const int MaxRemembered = 100_000;

    private readonly ConcurrentDictionary<string, long> _written = new(StringComparer.Ordinal);

    /// <summary>Shows the provider on the dashboard's server list, or refreshes its heartbeat.</summary>
    public void Touch(string provider)
    {
        if (IsFresh(provider))
        {
            return;
        }

        using IStorageConnection connection = storage.GetConnection();
        Write(connection, provider);
    }

    /// <summary>As <see cref="Touch(string)"/>, on a connection the caller holds.</summary>
    public void Touch(IStorageConnection connection, string provider)
    {
        if (!IsFresh(provider))
        {
            Write(connection, provider);
        }
    }

    // Whether this coordinator wrote the provider's entry within the refresh interval; if not, notes a write now.
    private bool IsFresh(string provider)
    {
        long now = Environment.TickCount64;
        if (_written.TryGetValue(provider, out long at) && now - at < (long)RefreshInterval.TotalMilliseconds)
        {
            return true;
        }

        if (_written.Count >= MaxRemembered)
        {
            _written.Clear();
        }

        _written[provider] = now;
        return false;
    }

    private static void Write(IStorageConnection connection, string provider)
    {
        string serverId = ServerPrefix + provider;
        try
        {
            connection.Heartbeat(serverId);
        }
        catch (BackgroundServerGoneException)
        {
            connection.AnnounceServer(serverId, new Hangfire.Server.ServerContext
            {
                Queues = [FarmQueues.Validate, FarmQueues.Inference, FarmQueues.RenderHigh, FarmQueues.RenderNormal, FarmQueues.RenderLow],
                WorkerCount = 1,
            });
        }
    }

    /// <summary>Providers whose server entry is alive (see <see cref="Touch(string)"/>).</summary>
    public IEnumerable<string> SignedIn() =>
        storage.GetMonitoringApi().Servers()
            .Select(server => server.Name)
            .Where(name => name.StartsWith(ServerPrefix, StringComparison.Ordinal))
            .Select(name => name[ServerPrefix.Length..]);
}
