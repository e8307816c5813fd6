using Hangfire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The recurring Hangfire job (queue <c>maintenance</c>) that repairs the farm's invariant (a Queued
/// task has its Hangfire job waiting in its queue, a Leased one a live lease): it puts lapsed leases
/// back in their queues, puts Queued tasks that fell out of their queue back in
/// (<see cref="InvariantSweep"/>), completes jobs whose last completion raced, and drops providers
/// that went quiet from the dashboard's server list. Any coordinator may run it.
/// </summary>
public sealed partial class FarmMaintenance
{
    /// <summary>The recurring job's id on the dashboard.</summary>
    public const string RecurringJobId = "renderfarm-maintenance";

    private readonly LeaseService _leases;
    private readonly InvariantSweep _sweep;
    private readonly JobStorage _storage;
    private readonly CoordinatorOptions _options;
    private readonly ILogger<FarmMaintenance> _logger;

    internal FarmMaintenance(LeaseService leases, InvariantSweep sweep, JobStorage storage, IOptions<CoordinatorOptions> options, ILogger<FarmMaintenance> logger)
    {
        _leases = leases;
        _sweep = sweep;
        _storage = storage;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Runs one maintenance pass.</summary>
    /// <param name="cancellationToken">Hangfire's shutdown token.</param>
    /// <returns>How many leases and queued tasks were put back.</returns>
    // No DisableConcurrentExecution: its lock outlives a coordinator killed during a pass by the storage's lock timeout,
    // and stopped every pass on every coordinator for that long. Passes may overlap safely: each change they make is a
    // transition decided by the task record's version, and a duplicate queue entry is dropped when fetched.
    [AutomaticRetry(Attempts = 0)]
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        int expired = await _leases.ExpireLapsedLeasesAsync(cancellationToken);
        int repaired = await _sweep.RepairQueuedAsync(cancellationToken);
        int removed;
        using (var connection = _storage.GetConnection())
        {
            // Hangfire's own watchdog does this for its servers too; providers heartbeat only
            // through the lease API, so their entries are pruned here with the provider timeout.
            removed = connection.RemoveTimedOutServers(_options.ProviderTimeout);
        }

        if (expired > 0 || repaired > 0 || removed > 0)
        {
            LogPass(expired, repaired, removed);
        }

        return expired + repaired;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Maintenance: {Expired} lapsed leases re-queued, {Repaired} queued tasks put back in their queue, {Removed} quiet servers removed.")]
    private partial void LogPass(int expired, int repaired, int removed);
}
