using System.Text.Json.Serialization;

namespace RenderFarm.Core.Farm;

/// <summary>What happened to a task, as its timeline shows it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TaskEventKind>))]
public enum TaskEventKind
{
    /// <summary>The task's Hangfire job was queued (at the split, or again after a lapsed or failed lease).</summary>
    Queued,

    /// <summary>A provider leased the task.</summary>
    Leased,

    /// <summary>The provider holding the lease sent a heartbeat.</summary>
    Heartbeat,

    /// <summary>The provider's outputs were uploaded and accepted.</summary>
    Uploaded,

    /// <summary>The provider reported a failure, or its lease lapsed, or its output was refused.</summary>
    Failed,

    /// <summary>A check of a delivered output was planned.</summary>
    CheckQueued,

    /// <summary>A validator leased a check.</summary>
    CheckLeased,

    /// <summary>A check ended with its numbers and verdict.</summary>
    CheckDecided,

    /// <summary>A provider's output was proven wrong (2 of 3).</summary>
    Rejected,

    /// <summary>Every check passed; the task's outputs are the client's.</summary>
    Succeeded,

    /// <summary>The task failed for good.</summary>
    FailedForGood,

    /// <summary>The task's job was cancelled.</summary>
    Cancelled,
}

/// <summary>One entry of a task's timeline.</summary>
public sealed record TaskEventRecord
{
    /// <summary>The longest <see cref="Detail"/> a store keeps; longer text is cut.</summary>
    public const int MaxDetailLength = 1000;

    /// <summary>The job of the task.</summary>
    public required Guid JobId { get; init; }

    /// <summary>The task's index in its job.</summary>
    public required int TaskIndex { get; init; }

    /// <summary>When it happened (as the coordinator saw it).</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>What happened.</summary>
    public required TaskEventKind Kind { get; init; }

    /// <summary>The provider it concerns (renderer or validator), or null.</summary>
    public string? Provider { get; init; }

    /// <summary>For people: the numbers and words of the event, at most <see cref="MaxDetailLength"/> characters.</summary>
    public required string Detail { get; init; }
}
