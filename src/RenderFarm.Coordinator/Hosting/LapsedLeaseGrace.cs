using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Hosting;

/// <summary>
/// At start-up, gives every lease that lapsed before this coordinator started a fresh lease duration instead of
/// charging the lapse to its provider. A running coordinator puts a lapsed lease back within one maintenance period,
/// so a lapsed lease found at start-up almost always lapsed while no coordinator ran: its provider could not send a
/// heartbeat to anyone. A provider that is still there heartbeats and carries on; one that is gone lapses again and
/// is charged then, after a full lease duration with a coordinator to talk to.
/// </summary>
internal static class LapsedLeaseGrace
{
    /// <summary>Extends the lapsed task and check leases of running jobs (the newest <see cref="CoordinatorOptions.MaintenanceJobScanLimit"/>).</summary>
    /// <returns>How many tasks had a lease extended.</returns>
    public static async Task<int> ApplyAsync(IFarmStore store, TimeProvider time, CoordinatorOptions options, CancellationToken cancellationToken)
    {
        int extended = 0;
        foreach (JobRecord job in await store.ListJobsAsync(options.MaintenanceJobScanLimit, cancellationToken).ConfigureAwait(false))
        {
            if (job.State != JobState.Running)
            {
                continue;
            }

            foreach (TaskRecord listed in await store.GetTasksAsync(job.Id, cancellationToken).ConfigureAwait(false))
            {
                // A conflicting update means a provider acted on the task meanwhile: read it again and decide again.
                for (TaskRecord? task = listed; task is not null; task = await store.GetTaskAsync(job.Id, listed.Index, cancellationToken).ConfigureAwait(false))
                {
                    DateTimeOffset now = time.GetUtcNow();
                    if (Extend(task, now, now + options.LeaseDuration) is not { } graced)
                    {
                        break;
                    }

                    if (await store.TryUpdateTaskAsync(graced, cancellationToken).ConfigureAwait(false))
                    {
                        extended++;
                        break;
                    }
                }
            }
        }

        return extended;
    }

    /// <summary>
    /// <paramref name="task"/> with its lapsed leases (the task's own and its checks') running until
    /// <paramref name="until"/>, or null when none had lapsed at <paramref name="now"/>.
    /// </summary>
    internal static TaskRecord? Extend(TaskRecord task, DateTimeOffset now, DateTimeOffset until)
    {
        bool taskLapsed = task.State == FarmTaskState.Leased && task.LeaseExpiresAt <= now;
        bool checkLapsed = task.Checks.Any(c => c.State == SpotCheckState.Leased && c.LeaseExpiresAt <= now);
        if (!taskLapsed && !checkLapsed)
        {
            return null;
        }

        return task with
        {
            LeaseExpiresAt = taskLapsed ? until : task.LeaseExpiresAt,
            Checks = [.. task.Checks.Select(c => c.State == SpotCheckState.Leased && c.LeaseExpiresAt <= now ? c with { LeaseExpiresAt = until } : c)],
        };
    }
}
