using Hangfire.States;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The Hangfire state of a queued frame task's job while its farm job is paused: in no queue, so nothing waits for a
/// lease, and other jobs' tasks are fetched as if the paused job were not there. Resuming the job enqueues it again.
/// </summary>
internal sealed class PausedState : IState
{
    /// <summary>The state's name in Hangfire's storage.</summary>
    public const string StateName = "Paused";

    /// <inheritdoc/>
    public string Name => StateName;

    /// <inheritdoc/>
    public string Reason => "Its job was paused; enqueued again when the job is resumed";

    /// <inheritdoc/>
    public bool IsFinal => false;

    /// <inheritdoc/>
    public bool IgnoreJobLoadException => false;

    /// <inheritdoc/>
    public Dictionary<string, string> SerializeData() => [];
}
