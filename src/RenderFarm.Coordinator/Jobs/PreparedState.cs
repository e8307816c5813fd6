using Hangfire.States;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The Hangfire state of a frame task's job between its creation and its enqueueing: in no queue,
/// so no lease can fetch it before the split stored its id in the task's farm record.
/// </summary>
internal sealed class PreparedState : IState
{
    /// <summary>The state's name in Hangfire's storage.</summary>
    public const string StateName = "Prepared";

    /// <inheritdoc/>
    public string Name => StateName;

    /// <inheritdoc/>
    public string Reason => "Created by the split; enqueued once its task record names it";

    /// <inheritdoc/>
    public bool IsFinal => false;

    /// <inheritdoc/>
    public bool IgnoreJobLoadException => false;

    /// <inheritdoc/>
    public Dictionary<string, string> SerializeData() => [];
}
