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
    public void Lease_ids_carry_their_task_sealed_so_that_providers_cannot_read_or_forge_them()
    {
        var jobId = Guid.NewGuid();
        var ids = new LeaseId("secret"u8.ToArray());
        string leaseId = ids.Create(jobId, 42);
        Assert.True(ids.TryParse(leaseId, out Guid parsedJob, out int parsedIndex));
        Assert.Equal((jobId, 42), (parsedJob, parsedIndex));
        Assert.NotEqual(leaseId, ids.Create(jobId, 42));

        // A check's lease looks like a task's: same length and alphabet, nothing of the job in clear.
        string checkId = ids.CreateCheck(jobId, 42, 3);
        Assert.Equal(leaseId.Length, checkId.Length);
        Assert.DoesNotContain(jobId.ToString("N"), leaseId, StringComparison.OrdinalIgnoreCase);
        Assert.False(ids.TryParse(checkId, out _, out _));
        Assert.True(ids.TryParse(checkId, out _, out int index, out int check));
        Assert.Equal((42, 3), (index, check));

        // Another coordinator's secret, a flipped character or garbage: refused.
        Assert.False(new LeaseId("other"u8.ToArray()).TryParse(leaseId, out _, out _));
        char flipped = leaseId[10] == 'a' ? 'b' : 'a';
        Assert.False(ids.TryParse(leaseId[..10] + flipped + leaseId[11..], out _, out _));
        Assert.False(ids.TryParse($"{jobId:N}-42-abc", out _, out _));
        Assert.False(ids.TryParse(null, out _, out _));
    }
}
