namespace RenderFarm.Core.Farm.Protocol;

// The client half of the coordinator's HTTP API (JSON, camelCase; errors are RFC 7807 problem details).
// Every call but the sign-in pair is authenticated: 'Authorization: Bearer TOKEN' from a client sign-in (the same
// EIP-191 challenge as providers, ChallengeRequest/LoginRequest), 'Authorization: ApiKey KEY' (or Bearer KEY), or the
// operator's 'X-Operator-Key'. Uploads and jobs belong to the account that made them; another account gets 404.
//
//   POST /api/clients/challenge        ChallengeRequest       -> ChallengeResponse
//   POST /api/clients/login            LoginRequest           -> LoginResponse (a client token)
//   POST /api/keys                     CreateApiKeyRequest    -> 201 ApiKeyIssued (the key is shown once)
//   DELETE /api/keys/{id}                                     -> 204
//   POST /api/scenes?name=FILE.glb     (raw body, streamed)  -> 201 SceneUploaded
//   POST /api/jobs                     SubmitJobRequest       -> 201 JobSummary
//   POST /api/environments?name=SKY.hdr (raw body: .hdr or .exr) -> 201 EnvironmentUploaded
//   POST /api/models?name=FILE.onnx    (raw body)             -> 201 ModelUploaded
//   POST /api/inputs?name=FILE.npy     (raw body)             -> 201 InputUploaded
//   POST /api/inference-jobs           SubmitInferenceJobRequest -> 201 JobSummary
//   GET  /api/jobs/{id}/outputs/{item}                        -> application/octet-stream (.npy)
//   GET  /api/jobs                                            -> JobSummary[]
//   GET  /api/jobs/{id}                                       -> JobDetails
//   GET  /api/ledger                                          -> LedgerInfo
//   POST /api/jobs/{id}/escrow                                -> JobSummary (after the client locked the budget)
//   POST /api/jobs/{id}/cancel                                -> JobSummary
//   POST /api/jobs/{id}/pause, /resume                        -> JobSummary (queued tasks wait in no queue until resumed)
//   POST /api/jobs/{id}/requeue-failed                        -> JobSummary (a failed job's failed tasks queued again, in place)
//   POST /api/jobs/{id}/requeue                               -> 201 JobSummary (a new job of the frames a failed or cancelled one did not finish)
//   GET  /api/jobs/{id}/frames/{frame}                        -> image/png (frame_NNNN.png), or image/x-exr (frame_NNNN.exr) for an EXR job
//   GET  /api/jobs/{id}/frames.zip                            -> application/zip of every finished frame

/// <summary>A stored scene.</summary>
/// <param name="Sha256">Lowercase hex SHA-256: the scene's id.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="FileName">The name it was uploaded with.</param>
/// <param name="Cameras">The names of the scene's cameras, which a job may pick by name; empty when it has none.</param>
/// <param name="Unsupported">What the scene holds that the renderer does not draw, one line per item; empty when it draws everything.</param>
public sealed record SceneUploaded(string Sha256, long Size, string FileName, IReadOnlyList<string>? Cameras = null, IReadOnlyList<string>? Unsupported = null)
{
    /// <summary>Equal when every field is, the lists compared item by item (the same upload answers equal twice).</summary>
    public bool Equals(SceneUploaded? other) => other is not null
        && Sha256 == other.Sha256 && Size == other.Size && FileName == other.FileName
        && SameItems(Cameras, other.Cameras) && SameItems(Unsupported, other.Unsupported);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Sha256, Size, FileName);

    private static bool SameItems(IReadOnlyList<string>? a, IReadOnlyList<string>? b) => a is null ? b is null : b is not null && a.SequenceEqual(b);
}

/// <summary>A stored environment map (equirectangular Radiance .hdr or OpenEXR) a render job may light its scene with.</summary>
/// <param name="Sha256">Lowercase hex SHA-256: the map's id.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="FileName">The name it was uploaded with.</param>
/// <param name="Width">Its width in pixels.</param>
/// <param name="Height">Its height in pixels.</param>
public sealed record EnvironmentUploaded(string Sha256, long Size, string FileName, int Width, int Height);

/// <summary>A stored ONNX model the farm can run.</summary>
/// <param name="Sha256">Lowercase hex SHA-256: the model's id.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="FileName">The name it was uploaded with.</param>
/// <param name="InputShape">Its (first) input's shape; null entries are free dimensions.</param>
/// <param name="OutputShape">Its (first) output's shape; null entries are free dimensions.</param>
public sealed record ModelUploaded(string Sha256, long Size, string FileName, IReadOnlyList<int?> InputShape, IReadOnlyList<int?> OutputShape);

/// <summary>A stored input: one batch item's tensor (.npy), or its tensors by name (.npz) for a model with several inputs.</summary>
/// <param name="Sha256">Lowercase hex SHA-256: the input's id.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="FileName">The name it was uploaded with.</param>
/// <param name="Shape">Its shape (of the archive's first array, for an .npz).</param>
public sealed record InputUploaded(string Sha256, long Size, string FileName, IReadOnlyList<int> Shape);

/// <summary>Asks for a batch-inference job: the model run once per input.</summary>
/// <param name="ModelSha256">A model uploaded before.</param>
/// <param name="Inputs">Inputs uploaded before, one per batch item, in order.</param>
/// <param name="ItemsPerTask">Items per task (default 1).</param>
/// <param name="Priority">Higher is served first (-10..10).</param>
/// <param name="Budget">Most whole tokens to pay; see <see cref="SubmitJobRequest"/>.</param>
/// <param name="Payer">The address that locks the budget; see <see cref="SubmitJobRequest"/>.</param>
public sealed record SubmitInferenceJobRequest(
    string ModelSha256, IReadOnlyList<string> Inputs, int? ItemsPerTask = null, int? Priority = null, long? Budget = null, string? Payer = null);

/// <summary>Asks for a render job; unset values take the defaults of <see cref="RenderSettings"/>.</summary>
/// <param name="SceneSha256">A scene uploaded before.</param>
/// <param name="Frames">N or FIRST-LAST.</param>
/// <param name="ChunkSize">Frames per task.</param>
/// <param name="Size">WIDTHxHEIGHT.</param>
/// <param name="SamplesPerPixel">Samples per pixel.</param>
/// <param name="Seed">Job seed.</param>
/// <param name="MaxBounces">Most bounces.</param>
/// <param name="ToneMapping">"aces", "filmic" or "standard" (also "clamp"): the PNGs' view transform.</param>
/// <param name="Priority">Higher is served first (-10..10).</param>
/// <param name="Budget">
/// Most whole tokens to pay. With a ledger on the coordinator and a budget above zero the job waits in
/// <see cref="JobState.AwaitingEscrow"/> until the client has locked at least this much in the job's escrow and
/// called <c>POST /api/jobs/{id}/escrow</c>.
/// </param>
/// <param name="ExposureStops">Exposure before tone mapping.</param>
/// <param name="Background">Uniform environment radiance, "V" or "R,G,B".</param>
/// <param name="FramesPerSecond">Animation frames per second.</param>
/// <param name="SixteenBit">Write 16-bit PNGs.</param>
/// <param name="Bsdf">"principled" (default) or "gltf".</param>
/// <param name="Payer">
/// The address that locks the budget; optional, and when given it must be the signed-in account, which always pays
/// for its own jobs (escrows are keyed by client and job, and the coordinator reads the escrow the owner locked).
/// </param>
/// <param name="Camera">The scene camera to render through, by name (<see cref="SceneUploaded.Cameras"/>); default its first.</param>
/// <param name="EnvironmentSha256">An environment map the account uploaded (<c>POST /api/environments</c>), lighting the scene in place of the background.</param>
/// <param name="EnvironmentStrength">Scales the map's radiance (default 1); only with a map.</param>
/// <param name="EnvironmentRotation">Turns the map about the vertical axis, in degrees (default 0); only with a map.</param>
/// <param name="Format">"png" (default) or "exr": linear OpenEXR with albedo, normal and depth AOVs, verified through its R, G, B.</param>
/// <param name="ExrDepth">With "exr": "half" (default) or "float" channels (depth is always float).</param>
/// <param name="Denoise">With "exr": the client will denoise the verified frames (after download; the farm verifies and delivers the noisy frame).</param>
public sealed record SubmitJobRequest(
    string SceneSha256,
    string Frames,
    int? ChunkSize = null,
    string? Size = null,
    int? SamplesPerPixel = null,
    uint? Seed = null,
    int? MaxBounces = null,
    string? ToneMapping = null,
    int? Priority = null,
    long? Budget = null,
    float? ExposureStops = null,
    string? Background = null,
    double? FramesPerSecond = null,
    bool? SixteenBit = null,
    string? Payer = null,
    string? Camera = null,
    string? Bsdf = null,
    string? EnvironmentSha256 = null,
    float? EnvironmentStrength = null,
    float? EnvironmentRotation = null,
    string? Format = null,
    string? ExrDepth = null,
    bool? Denoise = null);

/// <summary>Where a paid job's budget is locked.</summary>
/// <param name="Kind">"evm" (the escrow contract on a chain), "offline" (a ledger file on the coordinator) or "none" (jobs are not paid).</param>
/// <param name="ChainId">For "evm": the chain id.</param>
/// <param name="EscrowAddress">For "evm": the RenderEscrow contract to lock budgets in.</param>
/// <param name="TokenAddress">For "evm": the RenderToken contract.</param>
public sealed record LedgerInfo(string Kind, long? ChainId = null, string? EscrowAddress = null, string? TokenAddress = null);

/// <summary>A job in lists.</summary>
/// <param name="Id">Job id.</param>
/// <param name="State">Job state.</param>
/// <param name="SceneFileName">Scene name.</param>
/// <param name="Frames">Frame range.</param>
/// <param name="TasksTotal">Tasks in the job.</param>
/// <param name="TasksDone">Tasks that succeeded.</param>
/// <param name="CreatedAt">Accepted at.</param>
/// <param name="FinishedAt">Finished at.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="Warning">What may keep the job from finishing as the client expects, e.g. a farm waiting for a second provider to check frames.</param>
/// <param name="Priority">Queue priority: higher is served first.</param>
/// <param name="Paused">Its owner paused it: its queued tasks are not leased until it is resumed.</param>
public sealed record JobSummary(
    Guid Id,
    JobState State,
    string SceneFileName,
    string Frames,
    int TasksTotal,
    int TasksDone,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    string? Warning = null,
    int Priority = 0,
    bool Paused = false);

/// <summary>One task of a job, as clients see it.</summary>
/// <param name="Index">Task index.</param>
/// <param name="FirstFrame">First frame.</param>
/// <param name="LastFrame">Last frame.</param>
/// <param name="State">Task state.</param>
/// <param name="Provider">Provider holding or last holding it.</param>
/// <param name="Attempts">Leases granted.</param>
/// <param name="StartedAt">Lease start.</param>
/// <param name="FinishedAt">Finish.</param>
/// <param name="Error">Last failure reason.</param>
/// <param name="Frames">Finished frames with their download links.</param>
/// <param name="Checks">Every spot check of the task's outputs with its verdict and numbers.</param>
/// <param name="RejectedBy">Providers whose output of the task was proven wrong.</param>
/// <param name="Failures">Each provider that failed the task, with its latest reason and whether it had standing.</param>
public sealed record TaskDetails(
    int Index,
    int FirstFrame,
    int LastFrame,
    FarmTaskState State,
    string? Provider,
    int Attempts,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    IReadOnlyList<FrameLink> Frames,
    IReadOnlyList<SpotCheckRecord>? Checks = null,
    IReadOnlyList<string>? RejectedBy = null,
    IReadOnlyList<TaskFailure>? Failures = null);

/// <summary>A finished frame.</summary>
/// <param name="Frame">Frame number.</param>
/// <param name="Url">Coordinator URL to download the PNG.</param>
/// <param name="Sha256">Its SHA-256.</param>
/// <param name="RenderSeconds">Render time reported by the provider.</param>
public sealed record FrameLink(int Frame, Uri Url, string Sha256, double RenderSeconds);

/// <summary>A job with its tasks.</summary>
/// <param name="Job">The summary.</param>
/// <param name="Settings">Render settings.</param>
/// <param name="Tasks">Every task.</param>
/// <param name="Settlement">What each provider earned, who was slashed and the refund, with ledger transaction ids, once settled.</param>
/// <param name="Verification">Per provider: what of its output was checked and the odds that cheating would have escaped.</param>
public sealed record JobDetails(
    JobSummary Job,
    RenderSettings Settings,
    IReadOnlyList<TaskDetails> Tasks,
    JobSettlement? Settlement = null,
    IReadOnlyList<ProviderVerification>? Verification = null);

/// <summary>What was checked of one provider's frames in a job.</summary>
/// <param name="Provider">The provider's address.</param>
/// <param name="FramesDelivered">Distinct frames it delivered (accepted or not).</param>
/// <param name="SpotChecks">Finished tile spot checks of its frames.</param>
/// <param name="WholeFrameSamples">Finished whole-frame re-renders of its frames.</param>
/// <param name="ChecksFailed">Checks of its frames that failed (a failure goes to a third execution).</param>
/// <param name="Caught">Whether it was proven wrong (2 of 3, or by a canary) in this job.</param>
/// <param name="Escape">
/// The probability that a provider with exactly these checks, cheating on a share of its frames over a part of each,
/// would not have been caught: <c>((1 − p·w)·(1 − s))^(q·n)</c> with p its whole-frame sampling share, s the chance
/// that a frame's tile spot check catches the cheat and w that a whole-frame check does, both from catch rates measured
/// per cheat class (wrong pixels over a part of the frame; exposure, bounce and sample cuts over all of it).
/// </param>
/// <param name="Canaries">Known-answer canaries it answered (as a taker, not as the renderer of the known answer).</param>
/// <param name="CanariesFailed">Canaries it answered wrongly; one is enough to catch it.</param>
public sealed record ProviderVerification(
    string Provider,
    int FramesDelivered,
    int SpotChecks,
    int WholeFrameSamples,
    int ChecksFailed,
    bool Caught,
    IReadOnlyList<EscapeOdds> Escape,
    int Canaries = 0,
    int CanariesFailed = 0);

/// <summary>The chance that one kind of cheating escaped a job's checks.</summary>
/// <param name="CheatedShare">Share of the provider's frames cheated.</param>
/// <param name="CheatedArea">Share of each cheated frame that is wrong (1 = the whole frame: fewer samples, another frame, blank…).</param>
/// <param name="Probability">Probability that no check caught it; 1 for a cheat the checks are not measured to catch in one frame.</param>
/// <param name="Cheat">The cheat class whose measured catch rates the odds use ("wrong pixels" for the area odds).</param>
public sealed record EscapeOdds(double CheatedShare, double CheatedArea, double Probability, string Cheat = "wrong pixels");

/// <summary>Asks for an API key.</summary>
/// <param name="Account">The account the key acts for: required from the operator; an account may leave it out (itself).</param>
public sealed record CreateApiKeyRequest(string? Account = null);

/// <summary>A new API key.</summary>
/// <param name="Id">Its id, for revoking it (DELETE /api/keys/{id}).</param>
/// <param name="Key">The key: send as <c>Authorization: ApiKey KEY</c>. Shown only now; the coordinator keeps its hash.</param>
/// <param name="Account">The account it acts for.</param>
/// <param name="CreatedAt">When it was issued.</param>
public sealed record ApiKeyIssued(string Id, string Key, string Account, DateTimeOffset CreatedAt);
