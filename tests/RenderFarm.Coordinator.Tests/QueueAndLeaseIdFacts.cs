using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Tests;

public sealed class QueueAndLeaseIdFacts
{
    [Fact]
    public void Priority_bands_sort_by_name_in_priority_order()
    {
        // Hangfire.PostgreSql fetches by queue name, Hangfire.InMemory by array order: both must agree.
        string[] queues = FarmQueues.Expand(["render"]);
        Assert.Equal(queues.Order(StringComparer.Ordinal), queues);
        Assert.Equal([FarmQueues.ForPriority(10), FarmQueues.ForPriority(0), FarmQueues.ForPriority(-10)], queues);
        Assert.DoesNotContain(FarmQueues.RenderNormal, FarmQueues.CoordinatorQueues);
    }

    [Fact]
    public void Lease_ids_carry_their_task()
    {
        var jobId = Guid.NewGuid();
        string leaseId = LeaseId.Create(jobId, 42);
        Assert.True(LeaseId.TryParse(leaseId, out Guid parsedJob, out int parsedIndex));
        Assert.Equal((jobId, 42), (parsedJob, parsedIndex));
        Assert.NotEqual(leaseId, LeaseId.Create(jobId, 42));
        Assert.False(LeaseId.TryParse($"{jobId:N}-x-abc", out _, out _));
        Assert.False(LeaseId.TryParse(null, out _, out _));
    }
}
