using System.Globalization;

namespace RenderFarm.Coordinator;

/// <summary>Object keys the coordinator uses.</summary>
internal static class FarmKeys
{
    /// <summary>A scene, content-addressed: <c>scenes/{sha256}.glb</c> or <c>.gltf</c>.</summary>
    public static string Scene(string sha256, string extension) => $"scenes/{sha256}{extension}";

    /// <summary>The camera names of a scene as its upload found them (JSON array): what a job's camera is checked against.</summary>
    public static string SceneCameras(string sha256) => $"scenes/{sha256}.cameras.json";

    /// <summary>The device memory a frame of a scene needs, as its upload measured it (JSON <c>SceneFootprint</c>).</summary>
    public static string SceneFootprint(string sha256) => $"scenes/{sha256}.footprint.json";

    /// <summary>
    /// The name an account last uploaded a scene with. Bytes are stored once, names per account: the record is also
    /// the account's claim on the scene, so a job may name only scenes its account uploaded.
    /// </summary>
    public static string SceneName(string owner, string sha256) => $"{Account(owner)}/scenes/{sha256}.name";

    /// <summary>
    /// Where a provider uploads a frame under one lease (its presigned PUT). Each lease has its own
    /// key, so a provider whose lease ended cannot overwrite what another lease uploads.
    /// </summary>
    public static string Upload(Guid jobId, int frame, string leaseId, string extension = ".png") =>
        string.Create(CultureInfo.InvariantCulture, $"jobs/{jobId:N}/uploads/{frame:D6}.{leaseId}{extension}");

    /// <summary>
    /// The coordinator's own copy of an accepted frame. No presigned URL ever names these keys, so an
    /// accepted (and later verified) output cannot be changed by any provider.
    /// </summary>
    public static string Frame(Guid jobId, int frame, string leaseId, string extension = ".png") =>
        string.Create(CultureInfo.InvariantCulture, $"jobs/{jobId:N}/frames/{frame:D6}.{leaseId}{extension}");

    /// <summary>
    /// Beside an accepted EXR frame, the PNG the job's view transform makes of its linear RGB (derived by the
    /// coordinator at acceptance, never uploaded): what thumbnails are made from.
    /// </summary>
    public static string Preview(string frameKey) => frameKey + ".preview.png";

    /// <summary>An environment map (.hdr or .exr, told apart by its bytes), content-addressed: <c>environments/{sha256}.map</c>.</summary>
    public static string Environment(string sha256) => $"environments/{sha256}.map";

    /// <summary>The name an account last uploaded an environment map with; its claim on the map, as for scenes.</summary>
    public static string EnvironmentName(string owner, string sha256) => $"{Account(owner)}/environments/{sha256}.name";

    /// <summary>An ONNX model, content-addressed: <c>models/{sha256}.onnx</c>.</summary>
    public static string Model(string sha256) => $"models/{sha256}.onnx";

    /// <summary>The name an account last uploaded a model with; its claim on the model, as for scenes.</summary>
    public static string ModelName(string owner, string sha256) => $"{Account(owner)}/models/{sha256}.name";

    /// <summary>An input tensor, content-addressed: <c>inputs/{sha256}.npy</c>.</summary>
    public static string Input(string sha256) => $"inputs/{sha256}.npy";

    /// <summary>The name an account last uploaded an input with; its claim on the input, as for scenes.</summary>
    public static string InputName(string owner, string sha256) => $"{Account(owner)}/inputs/{sha256}.name";

    /// <summary>The file extension of a job's outputs: PNG or EXR frames, or .npy tensors.</summary>
    public static string OutputExtension(Core.Farm.RenderJobSpec spec) => spec.Inference switch
    {
        null when spec.Settings.Format == Core.FrameFormat.Exr => ".exr",
        null => ".png",
        { OutputArchive: true } => ".npz",
        _ => ".npy",
    };

    /// <summary>The content type of a job's outputs as downloaded: <c>image/png</c>, <c>image/x-exr</c> or bytes.</summary>
    public static string OutputContentType(Core.Farm.RenderJobSpec spec) => OutputExtension(spec) switch
    {
        ".png" => "image/png",
        ".exr" => "image/x-exr",
        _ => "application/octet-stream",
    };

    /// <summary>The tiles a validator re-rendered for one spot check of a task.</summary>
    public static string CheckTiles(Guid jobId, int taskIndex, int check, string extension = ".png") =>
        string.Create(CultureInfo.InvariantCulture, $"jobs/{jobId:N}/checks/{taskIndex:D6}-{check:D3}{extension}");

    // Accounts are addresses (0x and 40 hex digits); object keys are lowercase, and an address's case is only a checksum.
    private static string Account(string owner) =>
        owner is { Length: 42 } && owner.StartsWith("0x", StringComparison.Ordinal) && owner[2..].All(char.IsAsciiHexDigit)
            ? $"accounts/{owner.ToLowerInvariant()}"
            : throw new ArgumentException($"'{owner}' is not an account address.", nameof(owner));

    /// <summary>Whether <paramref name="text"/> is 64 lowercase hex digits.</summary>
    public static bool IsSha256(string? text) =>
        text is { Length: 64 } && text.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));
}
