using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The recurring Hangfire job (queue <c>maintenance</c>) that puts lapsed leases back in their
/// queues, completes jobs whose last completion raced, and drops providers that went quiet from
/// the dashboard's server list.
/// </summary>
public sealed partial class FarmMaintenance
{
    /// <summary>The recurring job's id on the dashboard.</summary>
    public const string RecurringJobId = "renderfarm-maintenance";

    private readonly LeaseService _leases;
    private readonly JobStorage _storage;
    private readonly CoordinatorOptions _options;
    private readonly ILogger<FarmMaintenance> _logger;

    internal FarmMaintenance(LeaseService leases, JobStorage storage, IOptions<CoordinatorOptions> options, ILogger<FarmMaintenance> logger)
    {
        _leases = leases;
        _storage = storage;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Runs one maintenance pass.</summary>
    /// <param name="cancellationToken">Hangfire's shutdown token.</param>
    /// <returns>How many leases were put back.</returns>
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(timeoutInSeconds: 60)]
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        int expired = await _leases.ExpireLapsedLeasesAsync(cancellationToken);
        int removed;
        using (var connection = _storage.GetConnection())
        {
            // Hangfire's own watchdog does this for its servers too; providers heartbeat only
            // through the lease API, so their entries are pruned here with the provider timeout.
            removed = connection.RemoveTimedOutServers(_options.ProviderTimeout);
        }

        if (expired > 0 || removed > 0)
        {
            LogPass(expired, removed);
        }

        return expired;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Maintenance: {Expired} lapsed leases re-queued, {Removed} quiet servers removed.")]
    private partial void LogPass(int expired, int removed);
}
