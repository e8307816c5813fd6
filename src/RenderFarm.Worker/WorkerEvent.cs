namespace RenderFarm.Worker;

/// <summary>What a <see cref="WorkerEvent"/> reports.</summary>
public enum WorkerEventKind
{
    /// <summary>A new provider key was generated and saved.</summary>
    KeyCreated,

    /// <summary>The worker signed in to the coordinator.</summary>
    LoggedIn,

    /// <summary>A task was leased.</summary>
    Leased,

    /// <summary>A frame was rendered and uploaded.</summary>
    FrameRendered,

    /// <summary>The coordinator accepted a finished task.</summary>
    Completed,

    /// <summary>A task could not be done here and was reported failed.</summary>
    Failed,

    /// <summary>The lease was taken away (expired or cancelled); its work was dropped.</summary>
    LeaseLost,

    /// <summary>The worker is stopping and gave its lease back to be re-queued.</summary>
    HandedBack,

    /// <summary>A request failed in a way that may pass (coordinator down, 5xx, timeout) and will be retried.</summary>
    Retrying,

    /// <summary>The coordinator held a task back from this worker (its scene is too large for this device); the message says why.</summary>
    NotLeased,
}

/// <summary>One thing that happened in the worker, with a line ready to show to the provider.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Message">One line for people.</param>
public sealed record WorkerEvent(WorkerEventKind Kind, string Message)
{
    /// <summary>The lease the event is about, if any.</summary>
    public string? LeaseId { get; init; }

    /// <summary>The frame number, for <see cref="WorkerEventKind.FrameRendered"/>.</summary>
    public int? Frame { get; init; }

    /// <summary>Render statistics, for <see cref="WorkerEventKind.FrameRendered"/>.</summary>
    public RenderedFrame? Render { get; init; }
}
