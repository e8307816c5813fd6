using Hangfire;
using Hangfire.Storage;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Providers that asked for work lately, kept as Hangfire server entries (<c>provider:ADDRESS</c>) so the dashboard
/// shows who works; the entries live in Hangfire's storage, so every coordinator sharing it sees the same providers.
/// </summary>
internal sealed class ProviderPresence(JobStorage storage)
{
    private const string ServerPrefix = "provider:";

    /// <summary>Shows the provider on the dashboard's server list, or refreshes its heartbeat.</summary>
    public void Touch(string provider)
    {
        using IStorageConnection connection = storage.GetConnection();
        Touch(connection, provider);
    }

    /// <summary>As <see cref="Touch(string)"/>, on a connection the caller holds.</summary>
    public static void Touch(IStorageConnection connection, string provider)
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
