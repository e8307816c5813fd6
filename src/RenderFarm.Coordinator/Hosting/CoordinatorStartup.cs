using Hangfire;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Hosting;

/// <summary>
/// Runs before the Hangfire server starts (it is registered first): prepares the stores and
/// registers the recurring maintenance job.
/// </summary>
internal sealed class CoordinatorStartup(CoordinatorBackends backends, IRecurringJobManager recurring, IOptions<CoordinatorOptions> options) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await backends.InitializeAsync(cancellationToken);
        recurring.AddOrUpdate<FarmMaintenance>(
            FarmMaintenance.RecurringJobId,
            FarmQueues.Maintenance,
            m => m.RunAsync(CancellationToken.None),
            options.Value.MaintenanceCron,
            new RecurringJobOptions());
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
