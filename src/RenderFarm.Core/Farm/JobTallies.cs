namespace RenderFarm.Core.Farm;

/// <summary>What a job's tallies count: each is a number of the job's tasks.</summary>
public enum JobTallyKind
{
    /// <summary>Tasks of the job.</summary>
    Tasks,

    /// <summary>Tasks not (yet) <see cref="FarmTaskState.Succeeded"/>.</summary>
    Unfinished,

    /// <summary>Tasks with at least one canary check.</summary>
    Canaried,

    /// <summary>Tasks the provider failed (it is in <see cref="TaskRecord.FailedBy"/>).</summary>
    Failed,

    /// <summary>Tasks whose output by the provider was proven wrong (it is in <see cref="TaskRecord.RejectedBy"/>).</summary>
    Rejected,

    /// <summary>Tasks with a live whole-output check (not a canary, not cancelled) of the provider's output.</summary>
    Sampled,
}

/// <summary>A job's counts of its tasks, kept by the store with every task write (see <see cref="JobTallies"/>).</summary>
/// <param name="Tasks">Tasks of the job.</param>
/// <param name="Unfinished">Tasks not succeeded.</param>
/// <param name="Canaried">Tasks with a canary check.</param>
public sealed record JobTally(int Tasks, int Unfinished, int Canaried);

/// <summary>One provider's counts within one job.</summary>
/// <param name="Failed">Tasks of the job the provider failed.</param>
/// <param name="Rejected">Tasks of the job whose output by the provider was proven wrong.</param>
/// <param name="Sampled">Tasks of the job with a live whole-output check of the provider's output.</param>
public sealed record ProviderTally(int Failed, int Rejected, int Sampled);

/// <summary>
/// The counters a store keeps per job, so that a lease or a completion asks about a job in constant time instead of
/// reading all of its tasks: each task contributes one to each (provider, kind) below, and a task write applies the
/// difference between the old and the new record's contributions in the same transaction. Providers are keyed in
/// lowercase; job-wide kinds have the provider "".
/// </summary>
public static class JobTallies
{
    /// <summary>What one task contributes (each pair counts one).</summary>
    public static IEnumerable<(string Provider, JobTallyKind Kind)> Of(TaskRecord task)
    {
        ArgumentNullException.ThrowIfNull(task);
        yield return (string.Empty, JobTallyKind.Tasks);
        if (task.State != FarmTaskState.Succeeded)
        {
            yield return (string.Empty, JobTallyKind.Unfinished);
        }

        if (task.Checks.Any(c => c.Canary))
        {
            yield return (string.Empty, JobTallyKind.Canaried);
        }

        foreach (string provider in task.FailedBy.Select(Key).Distinct(StringComparer.Ordinal))
        {
            yield return (provider, JobTallyKind.Failed);
        }

        foreach (string provider in task.RejectedBy.Select(Key).Distinct(StringComparer.Ordinal))
        {
            yield return (provider, JobTallyKind.Rejected);
        }

        foreach (string provider in task.Checks.Where(c => c.WholeFrame && !c.Canary && c.State != SpotCheckState.Cancelled)
            .Select(c => Key(c.RenderedBy)).Distinct(StringComparer.Ordinal))
        {
            yield return (provider, JobTallyKind.Sampled);
        }
    }

    /// <summary>The changes a write from <paramref name="before"/> to <paramref name="after"/> makes, without zeros, in key order.</summary>
    public static IReadOnlyList<(string Provider, JobTallyKind Kind, int Delta)> Difference(TaskRecord? before, TaskRecord after)
    {
        var deltas = new Dictionary<(string, JobTallyKind), int>();
        foreach ((string, JobTallyKind) key in Of(after))
        {
            deltas[key] = deltas.GetValueOrDefault(key) + 1;
        }

        foreach ((string, JobTallyKind) key in before is null ? [] : Of(before))
        {
            deltas[key] = deltas.GetValueOrDefault(key) - 1;
        }

        // A fixed order, so two writers that touch the same counters lock them in the same order.
        return [.. deltas.Where(d => d.Value != 0)
            .Select(d => (d.Key.Item1, d.Key.Item2, d.Value))
            .OrderBy(d => d.Item1, StringComparer.Ordinal).ThenBy(d => d.Item2)];
    }

    /// <summary>The key a provider's address is counted under.</summary>
    public static string Key(string provider) => provider.ToLowerInvariant();
}
