using System.Text.Json.Serialization;

namespace RenderFarm.Core.Farm;

/// <summary>Where a job is in its life.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobState>))]
public enum JobState
{
    /// <summary>Accepted; its tasks are being created.</summary>
    Queued,

    /// <summary>Accepted, but waits for the client to lock its budget in the job's escrow before any task is queued.</summary>
    AwaitingEscrow,

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

    /// <summary>Its outputs were uploaded; spot checks on other providers are pending.</summary>
    Verifying,

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

    /// <summary>
    /// The address that locks the job's budget: the ledger keys escrows by client and job, so this names the
    /// escrow that pays for the job. The job's owner for every job submitted with an account; null for older jobs.
    /// </summary>
    public string? Payer { get; init; }

    /// <summary>
    /// Set for a batch-inference job. Then the scene fields name the ONNX model, <see cref="Frames"/> numbers the batch
    /// items (item 1 is the first input) and <see cref="ChunkSize"/> is items per task; <see cref="Settings"/> is unused.
    /// </summary>
    public InferenceJobSpec? Inference { get; init; }

    /// <summary>
    /// The device memory a frame of the scene needs, recorded at submit for a render job (null for older jobs and
    /// inference): a provider that advertises a device too small for it is not leased the job's tasks.
    /// </summary>
    public SceneFootprint? SceneFootprint { get; init; }
}

/// <summary>The inputs of a batch-inference job, one per item.</summary>
public sealed record InferenceJobSpec
{
    /// <summary>Each item's inputs (a .npy array for a model with one input, else an .npz archive of them by name), item 1 first.</summary>
    public required IReadOnlyList<StoredInput> Inputs { get; init; }

    /// <summary>
    /// Whether each item's outputs are an .npz archive of every output by name (a model with several outputs) rather
    /// than one .npy array. False for jobs stored before models with several outputs ran on the farm.
    /// </summary>
    public bool OutputArchive { get; init; }
}

/// <summary>An uploaded input tensor.</summary>
/// <param name="Key">Object key (content-addressed).</param>
/// <param name="Sha256">Lowercase hex SHA-256 of the .npy or .npz file.</param>
/// <param name="Name">The file name it was uploaded with, for output names.</param>
public sealed record StoredInput(string Key, string Sha256, string Name);

/// <summary>A job as the farm stores it.</summary>
public sealed record JobRecord
{
    /// <summary>Job id.</summary>
    public required Guid Id { get; init; }

    /// <summary>What was asked.</summary>
    public required RenderJobSpec Spec { get; init; }

    /// <summary>
    /// The account that submitted the job (a checksummed Ethereum address): the only client that may see, cancel,
    /// download or pay for it. Null only for a job stored before accounts existed, which operators alone see.
    /// </summary>
    public string? Owner { get; init; }

    /// <summary>Current state.</summary>
    public JobState State { get; init; } = JobState.Queued;

    /// <summary>When the job was accepted.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it reached a final state.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>Why it failed, for people.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// Whether the owner paused the job: its queued tasks stay Queued but wait in no queue, so none is leased until it
    /// is resumed; tasks already leased finish normally.
    /// </summary>
    public bool Paused { get; init; }

    /// <summary>What the ledger paid, slashed and refunded for the job, once settled.</summary>
    public JobSettlement? Settlement { get; init; }
}

/// <summary>A job's settlement on the ledger. Amounts are token base units in decimal.</summary>
/// <param name="SettledAt">When the settlement finished.</param>
/// <param name="PricePerFrame">What one verified frame paid.</param>
/// <param name="Payouts">Each honest provider's pay for its verified frames.</param>
/// <param name="Slashes">Stake taken from providers proven to cheat.</param>
/// <param name="RefundTransactionId">The refund of the rest to the client.</param>
/// <param name="Note">For people, e.g. why nothing was paid.</param>
public sealed record JobSettlement(
    DateTimeOffset SettledAt,
    string PricePerFrame,
    IReadOnlyList<ProviderPayout> Payouts,
    IReadOnlyList<ProviderSlash> Slashes,
    string? RefundTransactionId,
    string? Note);

/// <summary>One provider's pay for a job.</summary>
/// <param name="Provider">Its address.</param>
/// <param name="Frames">Verified frames it delivered.</param>
/// <param name="Amount">Token base units, in decimal.</param>
/// <param name="BatchId">The ledger batch (<c>{jobId:N}:{provider}</c>), unique per job and provider so a retry never pays twice.</param>
/// <param name="TransactionId">The ledger transaction.</param>
public sealed record ProviderPayout(string Provider, int Frames, string Amount, string BatchId, string TransactionId);

/// <summary>Stake slashed from a provider proven to cheat on a job.</summary>
/// <param name="Provider">Its address.</param>
/// <param name="Amount">Token base units, in decimal.</param>
/// <param name="TransactionId">The ledger transaction, or null when it had no stake to take.</param>
public sealed record ProviderSlash(string Provider, string Amount, string? TransactionId);

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

    /// <summary>Spot checks of the task's delivered frames, every one with its verdict, in creation order.</summary>
    public IReadOnlyList<SpotCheckRecord> Checks { get; init; } = [];

    /// <summary>Providers whose output of this task a spot check proved wrong (2 of 3); they get no more work of the job.</summary>
    public IReadOnlyList<string> RejectedBy { get; init; } = [];

    /// <summary>
    /// Each provider that failed the task (or let its lease lapse, or delivered an output that was refused), once, with
    /// its latest reason; shown to the client. Whether it had standing decides how much its failure weighs.
    /// </summary>
    public IReadOnlyList<TaskFailure> Failures { get; init; } = [];

    /// <summary>Optimistic-concurrency version, incremented by every successful update.</summary>
    public long Version { get; init; }
}

/// <summary>One provider's failures of one task.</summary>
/// <param name="Provider">Its address.</param>
/// <param name="Reason">Its latest failure, for people.</param>
/// <param name="At">When that failure was recorded.</param>
/// <param name="Standing">
/// Whether the provider had standing then (verified work on this farm, or stake): only failures from providers with
/// standing can fail a task after a few; failures from fresh identities take many more distinct providers.
/// </param>
/// <param name="Count">How many times this provider failed the task.</param>
/// <param name="Origin">
/// The remote address its latest failure report came from; null for a lapsed lease. Fresh identities are free, so
/// fresh providers reporting from one address count as one towards failing a task.
/// </param>
public sealed record TaskFailure(string Provider, string Reason, DateTimeOffset At, bool Standing, int Count, string? Origin = null);

/// <summary>A rectangle of pixels of a frame.</summary>
/// <param name="X">Left column.</param>
/// <param name="Y">Top row.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
public sealed record PixelTile(int X, int Y, int Width, int Height);

/// <summary>Where one spot check is in its life.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SpotCheckState>))]
public enum SpotCheckState
{
    /// <summary>Waiting in its queue (<c>validate</c>; a canary in the job's work queue).</summary>
    Queued,

    /// <summary>A validator holds a lease on it.</summary>
    Leased,

    /// <summary>The validator's tiles agree with the delivered frame.</summary>
    Passed,

    /// <summary>The validator's tiles disagree with the delivered frame.</summary>
    Failed,

    /// <summary>No longer needed (the output it checked was rejected, or the job ended).</summary>
    Cancelled,
}

/// <summary>
/// One spot check of one delivered frame: a validator other than the frame's provider re-renders a few tiles the
/// provider could not predict, and the coordinator compares them with the same tiles of the delivered PNG.
/// </summary>
public sealed record SpotCheckRecord
{
    /// <summary>Number of the check within its task, from 1.</summary>
    public required int Number { get; init; }

    /// <summary>The frame checked.</summary>
    public required int Frame { get; init; }

    /// <summary>The provider whose output is checked.</summary>
    public required string RenderedBy { get; init; }

    /// <summary>SHA-256 of the delivered PNG checked.</summary>
    public required string OutputSha256 { get; init; }

    /// <summary>The tiles re-rendered; for a whole-frame sample one tile covering the frame.</summary>
    public required IReadOnlyList<PixelTile> Tiles { get; init; }

    /// <summary>
    /// A whole-frame sample: the validator re-renders the whole frame and uploads it like a frame; the coordinator
    /// compares every tile-sized block of it with the delivered PNG and their perceptual hashes.
    /// </summary>
    public bool WholeFrame { get; init; }

    /// <summary>
    /// A known-answer canary: an output two providers already agreed on (it passed its whole-output check), granted on
    /// the job's work queue exactly like a one-frame task to a provider that had no part in it. <see cref="Validator"/>
    /// is the provider tested; a wrong answer proves it wrong at once, with no third execution.
    /// </summary>
    public bool Canary { get; init; }

    /// <summary>
    /// The whole-frame sampling rate that applied to the provider when the frame was delivered (on the checks planned
    /// at delivery, sampled or not), so an auditor with the coordinator's secret can recompute the choice.
    /// </summary>
    public double? SampleRate { get; init; }

    /// <summary>Why the frame was or was not re-rendered whole, for people.</summary>
    public string? SampleReason { get; init; }

    /// <summary>The check whose disagreement this one settles (the third execution), or null for a first check.</summary>
    public int? Arbitrates { get; init; }

    /// <summary>Current state.</summary>
    public SpotCheckState State { get; init; } = SpotCheckState.Queued;

    /// <summary>The Hangfire job on queue <c>validate</c>.</summary>
    public string? HangfireJobId { get; init; }

    /// <summary>The validator holding or last holding the lease.</summary>
    public string? Validator { get; init; }

    /// <summary>The current lease.</summary>
    public string? LeaseId { get; init; }

    /// <summary>When the current lease lapses without heartbeats.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; init; }

    /// <summary>Object key of the validator's tiles (a PNG strip, tiles side by side in order).</summary>
    public string? TilesKey { get; init; }

    /// <summary>Tiles compared.</summary>
    public int TilesCompared { get; init; }

    /// <summary>Tiles that did not match.</summary>
    public int TilesFailed { get; init; }

    /// <summary>Lowest PSNR of any tile in dB; null when every tile was identical (infinite PSNR).</summary>
    public double? MinPsnr { get; init; }

    /// <summary>Largest difference of any channel of any pixel, linear light.</summary>
    public double MaxDifference { get; init; }

    /// <summary>Largest share of a tile's pixels beyond the tolerance.</summary>
    public double MaxShareBeyondTolerance { get; init; }

    /// <summary>For a whole-frame sample: the Hamming distance between the pHashes of the re-render and the delivered frame.</summary>
    public int? PHashDistance { get; init; }

    /// <summary>For a third execution: whether its tiles matched the first validator's tiles.</summary>
    public bool? AgreesWithArbitrated { get; init; }

    /// <summary>The decision, for people.</summary>
    public string? Verdict { get; init; }

    /// <summary>When the check ended.</summary>
    public DateTimeOffset? FinishedAt { get; init; }
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

    /// <summary>Frames of its that passed verification, all jobs; changed only through <see cref="IFarmStore.AddProviderCountsAsync"/>.</summary>
    public long VerifiedFrames { get; init; }

    /// <summary>How often it was proven wrong (2 of 3) as a renderer or a validator, all jobs; a caught provider is sampled more.</summary>
    public int TimesCaught { get; init; }
}

/// <summary>An API key: a secret a script presents instead of signing in. Only its hash is stored.</summary>
public sealed record ApiKeyRecord
{
    /// <summary>The key's public id (the part of the key before its secret), unique.</summary>
    public required string Id { get; init; }

    /// <summary>The account the key acts for (a checksummed Ethereum address).</summary>
    public required string Account { get; init; }

    /// <summary>Lowercase hex SHA-256 of the whole key; the key itself is shown once, when issued, and never stored.</summary>
    public required string Sha256 { get; init; }

    /// <summary>When it was issued.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was revoked; a revoked key is refused.</summary>
    public DateTimeOffset? RevokedAt { get; init; }
}
