using RenderFarm.Core.Farm;

namespace RenderFarm.Storage.Tests;

/// <summary>Task timelines and the provider list, as every <see cref="IFarmStore"/> keeps them.</summary>
public abstract partial class FarmStoreContract
{
    [Fact]
    public async Task Task_events_read_back_in_order_per_task_newest_kept_under_the_limit()
    {
        JobRecord job = NewJob(s_start);
        await Store.CreateJobAsync(job, [NewTask(job, 0, 1, 1), NewTask(job, 1, 2, 2)]);
        DateTimeOffset at = s_start.AddMinutes(1);
        TaskEventRecord[] first =
        [
            new() { JobId = job.Id, TaskIndex = 0, At = at, Kind = TaskEventKind.Queued, Detail = "queued" },
            new() { JobId = job.Id, TaskIndex = 1, At = at, Kind = TaskEventKind.Queued, Detail = "queued too" },
            // Same instant as the first: the order given is the order kept.
            new() { JobId = job.Id, TaskIndex = 0, At = at, Kind = TaskEventKind.Leased, Provider = "0xAbC", Detail = "leased" },
        ];
        await Store.AppendTaskEventsAsync(first);
        await Store.AppendTaskEventsAsync([new() { JobId = job.Id, TaskIndex = 0, At = at.AddSeconds(20), Kind = TaskEventKind.Heartbeat, Provider = "0xAbC", Detail = new string('x', 5000) }]);
        await Store.AppendTaskEventsAsync([]);

        IReadOnlyList<TaskEventRecord> events = await Store.GetTaskEventsAsync(job.Id, 0, 100);
        Assert.Equal([TaskEventKind.Queued, TaskEventKind.Leased, TaskEventKind.Heartbeat], events.Select(e => e.Kind));
        Assert.Equal(first[0], events[0]);
        Assert.Equal(first[2], events[1]);
        Assert.Equal(TaskEventRecord.MaxDetailLength, events[2].Detail.Length);
        Assert.Equal(at.AddSeconds(20), events[2].At);

        IReadOnlyList<TaskEventRecord> newest = await Store.GetTaskEventsAsync(job.Id, 0, 2);
        Assert.Equal([TaskEventKind.Leased, TaskEventKind.Heartbeat], newest.Select(e => e.Kind));
        Assert.Equal("queued too", Assert.Single(await Store.GetTaskEventsAsync(job.Id, 1, 10)).Detail);
        Assert.Empty(await Store.GetTaskEventsAsync(job.Id, 2, 10));
        Assert.Empty(await Store.GetTaskEventsAsync(Guid.NewGuid(), 0, 10));
    }

    [Fact]
    public async Task Providers_list_most_recently_seen_first()
    {
        string[] addresses = ["0x00000000000000000000000000000000000000A1", "0x00000000000000000000000000000000000000B2", "0x00000000000000000000000000000000000000C3"];
        for (int i = 0; i < addresses.Length; i++)
        {
            // The middle one was seen last.
            DateTimeOffset seen = s_start.AddMinutes(i == 1 ? 10 : i);
            await Store.UpsertProviderAsync(new ProviderRecord { Address = addresses[i], RegisteredAt = s_start, LastSeenAt = seen, Device = $"device {i}" });
        }

        await Store.AddProviderCountsAsync(addresses[2], 7, 1);

        IReadOnlyList<ProviderRecord> providers = await Store.ListProvidersAsync(10);
        Assert.Equal([addresses[1], addresses[2], addresses[0]], providers.Select(p => p.Address));
        Assert.Equal((7L, 1), (providers[1].VerifiedFrames, providers[1].TimesCaught));
        Assert.Equal([addresses[1]], (await Store.ListProvidersAsync(1)).Select(p => p.Address));
    }
}
