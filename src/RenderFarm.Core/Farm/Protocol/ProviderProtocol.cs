namespace RenderFarm.Core.Farm.Protocol;

// The provider half of the coordinator's HTTP API (JSON, camelCase). Providers authenticate with
// an Ethereum key: they sign the server's challenge (EIP-191 personal_sign) and get a short-lived
// bearer token. Every lease call carries the token; a provider can act only on its own leases.
//
//   POST /api/providers/challenge      ChallengeRequest  -> ChallengeResponse
//   POST /api/providers/login          LoginRequest      -> LoginResponse
//   POST /api/leases                   LeaseRequest      -> 200 LeaseGrant | 204 (nothing within the wait)
//   POST /api/leases/{leaseId}/heartbeat                 -> HeartbeatResponse | 409 lease lost
//   POST /api/leases/{leaseId}/complete CompleteRequest  -> 200 | 4xx ProblemDetails
//   POST /api/leases/{leaseId}/fail     FailRequest      -> 200
//   DELETE /api/leases/{leaseId}                         -> 200 (handed back: re-queued, not a failure)

/// <summary>Asks for a login challenge for an address.</summary>
/// <param name="Address">The provider's Ethereum address (0x + 40 hex digits).</param>
public sealed record ChallengeRequest(string Address);

/// <summary>The text to sign and until when it may be used.</summary>
/// <param name="Challenge">The exact message to sign with EIP-191 personal_sign; single use.</param>
/// <param name="ExpiresAt">When the challenge stops being accepted.</param>
public sealed record ChallengeResponse(string Challenge, DateTimeOffset ExpiresAt);

/// <summary>Proves control of an address.</summary>
/// <param name="Address">The provider's address.</param>
/// <param name="Challenge">The challenge as received.</param>
/// <param name="Signature">0x-prefixed 65-byte EIP-191 signature of the challenge.</param>
/// <param name="Device">The provider's device, for display (e.g. "NVIDIA H100 [DiscreteGpu]").</param>
public sealed record LoginRequest(string Address, string Challenge, string Signature, string? Device);

/// <summary>A bearer token for the provider API.</summary>
/// <param name="Token">Send as <c>Authorization: Bearer TOKEN</c>.</param>
/// <param name="ExpiresAt">When the token stops working; log in again before.</param>
public sealed record LoginResponse(string Token, DateTimeOffset ExpiresAt);

/// <summary>Asks for a task, waiting up to <paramref name="WaitSeconds"/> for one.</summary>
/// <param name="Queues">Queues the provider serves: "render" and/or "validate".</param>
/// <param name="WaitSeconds">Long-poll time, at most 30.</param>
/// <param name="Device">
/// What the provider's device can hold; when given, render tasks of a scene too large for it are left for other providers
/// (the answer's <see cref="LeaseDevice.RefusalHeader"/> says why). Null: no such check, as before.
/// </param>
public sealed record LeaseRequest(IReadOnlyList<string> Queues, int WaitSeconds, LeaseDevice? Device = null);

/// <summary>The limits of a provider's device that decide which scenes it can render (Vulkan's names).</summary>
/// <param name="MaxStorageBufferRange">The largest storage buffer one binding can cover, in bytes (maxStorageBufferRange), 1 to <see cref="MaxBytes"/>.</param>
/// <param name="DeviceLocalMemoryBytes">The device-local memory, in bytes, 0 (not known) to <see cref="MaxBytes"/>.</param>
public sealed record LeaseDevice(long MaxStorageBufferRange, long DeviceLocalMemoryBytes)
{
    /// <summary>The largest size either limit may state: 1 PiB.</summary>
    public const long MaxBytes = 1L << 50;

    /// <summary>
    /// The header of a lease answer without a task (204) that names, in one line, a task held back because the scene is
    /// too large for the device the request advertised.
    /// </summary>
    public const string RefusalHeader = "X-RenderFarm-Not-Leased";
}

/// <summary>A presigned location of one object.</summary>
/// <param name="Url">GET or PUT this URL; no credentials needed until it expires.</param>
/// <param name="Sha256">Expected SHA-256 (lowercase hex) when known.</param>
public sealed record ObjectLink(Uri Url, string? Sha256);

/// <summary>Where to upload one frame.</summary>
/// <param name="Frame">Frame number.</param>
/// <param name="Upload">Presigned PUT for the frame's PNG.</param>
public sealed record FrameUpload(int Frame, ObjectLink Upload);

/// <summary>A leased frame task with everything needed to do it.</summary>
/// <param name="LeaseId">Identifies the lease in later calls.</param>
/// <param name="JobId">The job.</param>
/// <param name="TaskIndex">The task's index in the job.</param>
/// <param name="FirstFrame">First frame to render.</param>
/// <param name="LastFrame">Last frame to render (inclusive).</param>
/// <param name="Settings">Render settings.</param>
/// <param name="SceneFileName">The scene's file name (its extension tells .glb from .gltf).</param>
/// <param name="Scene">Presigned GET of the scene, with its SHA-256 (cache key).</param>
/// <param name="Uploads">One presigned PUT per frame.</param>
/// <param name="LeaseExpiresAt">When the lease lapses without a heartbeat.</param>
/// <param name="HeartbeatSeconds">How often to send heartbeats.</param>
/// <param name="Validation">
/// Set for a spot check (queue <c>validate</c>): re-render only these tiles of this frame and complete with
/// <see cref="CompleteRequest.TilesPng"/>; <paramref name="Uploads"/> is then empty.
/// </param>
/// <param name="Inputs">
/// Set for an inference task: each item's input tensor. <paramref name="Scene"/> is then the ONNX model, the frames
/// are the items, and each item's output (float32 .npy) goes to its entry in <paramref name="Uploads"/>.
/// </param>
/// <param name="Environment">
/// Set when <see cref="RenderSettings.Environment"/> names a map: presigned GET of the map file, with its SHA-256.
/// </param>
public sealed record LeaseGrant(
    string LeaseId,
    Guid JobId,
    int TaskIndex,
    int FirstFrame,
    int LastFrame,
    RenderSettings Settings,
    string SceneFileName,
    ObjectLink Scene,
    IReadOnlyList<FrameUpload> Uploads,
    DateTimeOffset LeaseExpiresAt,
    int HeartbeatSeconds,
    ValidationWork? Validation = null,
    IReadOnlyList<ItemInput>? Inputs = null,
    ObjectLink? Environment = null);

/// <summary>One batch item's input in an inference task.</summary>
/// <param name="Item">The item number (the "frame" of the task's range).</param>
/// <param name="Input">Presigned GET of its .npy tensor, with its SHA-256.</param>
public sealed record ItemInput(int Item, ObjectLink Input);

/// <summary>The tiles a validator re-renders for a spot check.</summary>
/// <param name="Frame">The frame.</param>
/// <param name="Tiles">Tiles of the frame, in order.</param>
public sealed record ValidationWork(int Frame, IReadOnlyList<PixelTile> Tiles);

/// <summary>The lease's new end.</summary>
/// <param name="LeaseExpiresAt">When the lease lapses without another heartbeat.</param>
public sealed record HeartbeatResponse(DateTimeOffset LeaseExpiresAt);

/// <summary>What the provider uploaded for one frame.</summary>
/// <param name="Frame">Frame number.</param>
/// <param name="Sha256">SHA-256 (lowercase hex) of the uploaded PNG.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="RenderSeconds">Render time of the frame.</param>
public sealed record CompletedFrame(int Frame, string Sha256, long Size, double RenderSeconds);

/// <summary>Reports a task done; the coordinator checks every upload before accepting.</summary>
/// <param name="Frames">One entry per frame of the task (empty for a spot check).</param>
/// <param name="TilesPng">
/// For a spot check: base64 of one PNG holding the re-rendered tiles side by side in the grant's order (tile i starts at the
/// sum of the widths before it, row 0), tone-mapped and encoded exactly like a frame with the grant's settings.
/// </param>
public sealed record CompleteRequest(IReadOnlyList<CompletedFrame> Frames, string? TilesPng = null);

/// <summary>Reports a task failed on this provider.</summary>
/// <param name="Reason">Why, for people.</param>
public sealed record FailRequest(string Reason);
