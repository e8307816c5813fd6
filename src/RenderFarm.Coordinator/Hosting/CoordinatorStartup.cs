using Hangfire;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Hosting;

/// <summary>
/// Runs before the Hangfire server starts (it is registered first): prepares the stores, gives leases that lapsed
/// while no coordinator ran a fresh lease duration (see <see cref="LapsedLeaseGrace"/>) and registers the recurring
/// maintenance job, whose first pass would otherwise charge those lapses to their providers.
/// </summary>
internal sealed partial class CoordinatorStartup(
    CoordinatorBackends backends,
    IRecurringJobManager recurring,
    TimeProvider time,
    IOptions<CoordinatorOptions> options,
    ILogger<CoordinatorStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await backends.InitializeAsync(cancellationToken);
        int extended = await LapsedLeaseGrace.ApplyAsync(backends.FarmStore, time, options.Value, cancellationToken);
        if (extended > 0)
        {
            LogGrace(extended, options.Value.LeaseDuration);
        }

        recurring.AddOrUpdate<FarmMaintenance>(
            FarmMaintenance.RecurringJobId,
            FarmQueues.Maintenance,
            m => m.RunAsync(CancellationToken.None),
            options.Value.MaintenanceCron,
            new RecurringJobOptions());
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} task(s) had leases that lapsed before this coordinator started; their providers have {LeaseDuration} to send a heartbeat, uncharged.")]
    private partial void LogGrace(int count, TimeSpan leaseDuration);
}
