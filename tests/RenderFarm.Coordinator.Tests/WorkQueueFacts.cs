using Hangfire;
using Hangfire.Common;
using Hangfire.InMemory;
using Hangfire.States;
using Hangfire.Storage;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Tests;

public sealed class WorkQueueFacts
{
    // Leased and Succeeded are written with Hangfire's write transaction, not its state machine: what the state machine
    // would have written must still be there (the state and its data, the job's expiry, the dashboard's total and its
    // daily and hourly history of succeeded jobs).
    [Fact]
    public void Leased_and_succeeded_are_written_as_Hangfire_states_and_counted_on_the_dashboard()
    {
        using var storage = new InMemoryStorage();
        var client = new BackgroundJobClient(storage);
        var queue = new HangfireWorkQueue(storage, client);
        Guid jobId = Guid.NewGuid();
        string hangfireJobId = client.Create(Job.FromExpression(() => FrameTaskJob.Render(jobId, 0)), new EnqueuedState(FarmQueues.RenderNormal));
        DateTimeOffset now = DateTimeOffset.UtcNow;

        Assert.True(queue.MarkLeased(hangfireJobId, new LeasedState("0xabc", "lease-1", now, now.AddMinutes(1)), null));
        using (IStorageConnection connection = storage.GetConnection())
        {
            StateData leased = connection.GetStateData(hangfireJobId);
            Assert.Equal((LeasedState.StateName, "lease-1", "0xabc"), (leased.Name, leased.Data["LeaseId"], leased.Data["Provider"]));
        }

        queue.MarkSucceeded(hangfireJobId, 1234);

        IMonitoringApi monitoring = storage.GetMonitoringApi();
        Assert.Equal(SucceededState.StateName, monitoring.JobDetails(hangfireJobId).History[0].StateName);
        Assert.NotNull(monitoring.JobDetails(hangfireJobId).ExpireAt);
        Assert.Equal(1, monitoring.GetStatistics().Succeeded);
        Assert.Equal(1, monitoring.HourlySucceededJobs().Values.Sum());
        Assert.Equal(1, monitoring.SucceededByDatesCount().Values.Sum());
    }
}
