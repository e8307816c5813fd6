using Hangfire;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The Hangfire job that carries one frame task through the provider queues. Providers take it
/// through the lease API; no coordinator Hangfire server listens on those queues, so
/// <see cref="Render"/> only exists to give the job a name and arguments on the dashboard.
/// </summary>
public static class FrameTaskJob
{
    /// <summary>Marks frame task <paramref name="taskIndex"/> of job <paramref name="jobId"/>; never performed by Hangfire.</summary>
    /// <param name="jobId">The farm job.</param>
    /// <param name="taskIndex">The task's index in the job.</param>
    /// <exception cref="InvalidOperationException">Always: a Hangfire server was wrongly told to process a provider queue.</exception>
    // No automatic retry: a task's failures are counted per provider by the lease API, and a
    // FailedState set there must stay final rather than be turned into a scheduled retry.
    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public static void Render(Guid jobId, int taskIndex) => throw new InvalidOperationException(
        $"Frame task {taskIndex} of job {jobId} reached a Hangfire server; provider queues must be served only through the lease API.");
}

/// <summary>
/// The Hangfire job (queue <c>validate</c>) that carries one spot check of a delivered frame; providers take it through
/// the lease API, so <see cref="Validate"/> is never performed by Hangfire.
/// </summary>
public static class SpotCheckJob
{
    /// <summary>Marks spot check <paramref name="check"/> of task <paramref name="taskIndex"/> of job <paramref name="jobId"/>.</summary>
    /// <param name="jobId">The farm job.</param>
    /// <param name="taskIndex">The task whose output is checked.</param>
    /// <param name="check">The check's number within the task.</param>
    /// <exception cref="InvalidOperationException">Always: a Hangfire server was wrongly told to process a provider queue.</exception>
    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public static void Validate(Guid jobId, int taskIndex, int check) => throw new InvalidOperationException(
        $"Spot check {check} of task {taskIndex} of job {jobId} reached a Hangfire server; provider queues must be served only through the lease API.");
}
