using Hangfire;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Hosting;

/// <summary>Healthy when the farm store and Hangfire's storage both answer.</summary>
internal sealed class CoordinatorHealthCheck(IFarmStore store, JobStorage storage) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.ListJobsAsync(1, cancellationToken);
            using var connection = storage.GetConnection();
            connection.GetAllItemsFromSet("recurring-jobs");
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("A store did not answer.", ex);
        }
    }
}
