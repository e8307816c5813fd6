using System.Text.Json.Serialization;

namespace RenderFarm.Core.Farm;

/// <summary>Where a job is in its life.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobState>))]
public enum JobState
{
    /// <summary>Accepted; its tasks are being created.</summary>
    Queued,

    /// <summary>Tasks exist and providers work on them.</summary>
    Running,

    /// <summary>Every task succeeded.</summary>
    Completed,

    /// <summary>A task failed for good; the job stopped.</summary>
    Failed,

    /// <summary>The client cancelled it.</summary>
    Cancelled,
}

/// <summary>Where one frame task is in its life.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FarmTaskState>))]
public enum FarmTaskState
{
    /// <summary>Waiting in a Hangfire queue for a provider.</summary>
    Queued,

    /// <summary>A provider holds a lease on it.</summary>
    Leased,

    /// <summary>Its outputs were uploaded and accepted.</summary>
    Succeeded,

    /// <summary>It failed for good (too many providers failed it).</summary>
    Failed,

    /// <summary>Its job was cancelled.</summary>
    Cancelled,
}

/// <summary>What a client asked to render.</summary>
public sealed record RenderJobSpec
{
    /// <summary>Object key of the scene (content-addressed by its SHA-256).</summary>
    public required string SceneKey { get; init; }

    /// <summary>Lowercase hex SHA-256 of the scene file.</summary>
    public required string SceneSha256 { get; init; }

    /// <summary>The scene's file name as uploaded, for display; its extension (.glb/.gltf) matters.</summary>
    public required string SceneFileName { get; init; }

    /// <summary>Frames to render.</summary>
    public required FrameRange Frames { get; init; }

    /// <summary>Frames per task.</summary>
    public int ChunkSize { get; init; } = 1;

    /// <summary>Everything that decides the pixels besides the scene.</summary>
    public required RenderSettings Settings { get; init; }

    /// <summary>Queue priority: higher is served first.</summary>
    public int Priority { get; init; }

    /// <summary>Most tokens the client will pay for the job (escrowed by the ledger).</summary>
    public long Budget { get; init; }
}

/// <summary>A job as the farm stores it.</summary>
public sealed record JobRecord
{
    /// <summary>Job id.</summary>
    public required Guid Id { get; init; }

    /// <summary>What was asked.</summary>
    public required RenderJobSpec Spec { get; init; }

    /// <summary>Current state.</summary>
    public JobState State { get; init; } = JobState.Queued;

    /// <summary>When the job was accepted.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it reached a final state.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>Why it failed, for people.</summary>
    public string? Error { get; init; }
}

/// <summary>One frame uploaded by a provider and accepted by the coordinator.</summary>
/// <param name="Frame">Frame number.</param>
/// <param name="Key">Object key of the PNG.</param>
/// <param name="Sha256">Lowercase hex SHA-256 of the PNG, checked by the coordinator.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="RenderSeconds">Render time the provider reported.</param>
public sealed record FrameOutput(int Frame, string Key, string Sha256, long Size, double RenderSeconds);

/// <summary>A frame task: one chunk of a job's frames, one Hangfire job.</summary>
public sealed record TaskRecord
{
    /// <summary>The job the task belongs to.</summary>
    public required Guid JobId { get; init; }

    /// <summary>Position of the task in its job, from 0.</summary>
    public required int Index { get; init; }

    /// <summary>First frame of the chunk.</summary>
    public required int FirstFrame { get; init; }

    /// <summary>Last frame of the chunk (inclusive).</summary>
    public required int LastFrame { get; init; }

    /// <summary>Current state.</summary>
    public FarmTaskState State { get; init; } = FarmTaskState.Queued;

    /// <summary>The Hangfire background job that carries the task through the queues.</summary>
    public string? HangfireJobId { get; init; }

    /// <summary>Ethereum address of the provider holding or last holding the lease.</summary>
    public string? Provider { get; init; }

    /// <summary>Id of the current lease; a provider must present it to act on the task.</summary>
    public string? LeaseId { get; init; }

    /// <summary>When the current lease ends unless heartbeats extend it.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; init; }

    /// <summary>How many leases were granted on the task.</summary>
    public int Attempts { get; init; }

    /// <summary>Providers that failed the task (or let its lease expire), each once.</summary>
    public IReadOnlyList<string> FailedBy { get; init; } = [];

    /// <summary>Accepted outputs, one per frame, once the task succeeded.</summary>
    public IReadOnlyList<FrameOutput> Outputs { get; init; } = [];

    /// <summary>When the current or last lease began.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the task reached a final state.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The last failure reason reported.</summary>
    public string? Error { get; init; }

    /// <summary>Optimistic-concurrency version, incremented by every successful update.</summary>
    public long Version { get; init; }
}

/// <summary>A provider known to the farm, identified by its Ethereum address.</summary>
public sealed record ProviderRecord
{
    /// <summary>Checksummed Ethereum address.</summary>
    public required string Address { get; init; }

    /// <summary>First registration.</summary>
    public required DateTimeOffset RegisteredAt { get; init; }

    /// <summary>Last request seen.</summary>
    public required DateTimeOffset LastSeenAt { get; init; }

    /// <summary>The device it announced, for display.</summary>
    public string? Device { get; init; }
}
