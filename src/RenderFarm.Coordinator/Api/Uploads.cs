using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Coordinator.Api;

/// <summary>
/// Client uploads — scenes, ONNX models and input tensors: the request body is streamed to a temporary file while it
/// is hashed and counted (never held in memory), checked by the same code that will use it (the renderer's importer,
/// the inference engine's loader), then stored once under its SHA-256. The name is recorded per account
/// (<see cref="FarmKeys.SceneName"/>): that record is the account's claim on the bytes, and one account's name for them
/// never changes another's.
/// </summary>
internal sealed partial class Uploads
{
    // Building a frame for its footprint costs up to seconds of CPU and gigabytes of memory on the largest scenes the
    // limits admit (10 M drawn triangles): one at a time, so parallel uploads cannot multiply the memory.
    private static readonly SemaphoreSlim s_frameBuilds = new(1, 1);

    private readonly IObjectStore _objects;
    private readonly CoordinatorOptions _options;
    private readonly ILogger<Uploads> _logger;

    public Uploads(IObjectStore objects, IOptions<CoordinatorOptions> options, ILogger<Uploads> logger)
    {
        _objects = objects;
        _options = options.Value;
        _logger = logger;
    }

    public async Task<SceneUploaded> UploadSceneAsync(HttpRequest request, string? name, string owner, CancellationToken cancellationToken)
    {
        SceneAsset? scene = null;
        (string sha256, long size, string fileName) = await ReceiveAsync(
            request,
            name,
            "scene",
            [".glb", ".gltf"],
            // Throws UserInputException (→ 400) for a file the renderer cannot load (broken, past a budget, requiring an
            // extension it lacks) and for any buffer or image the upload does not carry itself: nothing beside the
            // uploaded file is ever opened.
            path => scene = SceneAsset.Load(path, SceneFileAccess.SelfContained),
            (sha, extension) => (FarmKeys.Scene(sha, extension), FarmKeys.SceneName(owner, sha)),
            cancellationToken);

        // Derived from the bytes alone, so one record serves every account that uploads them.
        using (var cameras = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(scene!.CameraNames)))
        {
            await _objects.PutAsync(FarmKeys.SceneCameras(sha256), cameras, cancellationToken);
        }

        // The device memory a frame needs, by the path tracer's own sizing, so that a job's tasks go only to providers whose
        // device holds them. Derived from the bytes alone, like the camera names.
        SceneFootprint? footprint = null;
        await s_frameBuilds.WaitAsync(cancellationToken);
        try
        {
            footprint = DeviceBuffers.Footprint(scene);
        }
        catch (UserInputException ex)
        {
            // The scene loaded, so its workers will say the same per frame; the upload stands without a footprint.
            LogNoFootprint(sha256, ex.Message);
        }
        finally
        {
            s_frameBuilds.Release();
        }

        if (footprint is not null)
        {
            using var json = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(footprint));
            await _objects.PutAsync(FarmKeys.SceneFootprint(sha256), json, cancellationToken);
        }

        // What the renderer will not draw is answered with the upload, one line per item, instead of being dropped unseen.
        return new SceneUploaded(sha256, size, fileName, scene.CameraNames, scene.Unsupported);
    }

    public async Task<EnvironmentUploaded> UploadEnvironmentAsync(HttpRequest request, string? name, string owner, CancellationToken cancellationToken)
    {
        HdrImage? map = null;
        (string sha256, long size, string fileName) = await ReceiveAsync(
            request,
            name,
            "environment",
            [".hdr", ".exr"],
            // The reader every worker uses: a map it would refuse (malformed, an unsupported encoding, past the size
            // and pixel bounds) is refused here in one line, before any job can name it.
            path => map = EnvironmentFile.Read(path),
            (sha, _) => (FarmKeys.Environment(sha), FarmKeys.EnvironmentName(owner, sha)),
            cancellationToken,
            EnvironmentFile.MaxFileBytes);
        return new EnvironmentUploaded(sha256, size, fileName, map!.Width, map.Height);
    }

    public async Task<ModelUploaded> UploadModelAsync(HttpRequest request, string? name, string owner, CancellationToken cancellationToken)
    {
        OnnxModel? model = null;
        (string sha256, long size, string fileName) = await ReceiveAsync(
            request,
            name,
            "model",
            [".onnx"],
            path =>
            {
                // Refused here, naming the operator, rather than halfway through a batch.
                model = OnnxModel.Load(path);
                model.EnsureSupported();
                model.EnsureFarmCompatible();
            },
            (sha, _) => (FarmKeys.Model(sha), FarmKeys.ModelName(owner, sha)),
            cancellationToken);
        return new ModelUploaded(sha256, size, fileName, model!.Inputs[0].Shape, model.Outputs[0].Shape);
    }

    public async Task<InputUploaded> UploadInputAsync(HttpRequest request, string? name, string owner, CancellationToken cancellationToken)
    {
        IReadOnlyList<int>? shape = null;
        (string sha256, long size, string fileName) = await ReceiveAsync(
            request,
            name,
            "input",
            [NpyFile.Extension, NpzFile.Extension],
            path =>
            {
                // Read whole (the upload is bounded): an archive's arrays may not inflate past its own size.
                byte[] bytes = File.ReadAllBytes(path);
                string name = Path.GetFileName(path);
                shape = path.EndsWith(NpzFile.Extension, StringComparison.OrdinalIgnoreCase)
                    ? (NpzFile.ParseHeaders(bytes, name).Values.FirstOrDefault() ?? throw new UserInputException($"{name}: holds no arrays.")).Shape
                    : NpyFile.Parse(bytes, name).Shape;
            },
            (sha, _) => (FarmKeys.Input(sha), FarmKeys.InputName(owner, sha)),
            cancellationToken);
        return new InputUploaded(sha256, size, fileName, shape!);
    }

    private async Task<(string Sha256, long Size, string FileName)> ReceiveAsync(
        HttpRequest request,
        string? name,
        string what,
        string[] extensions,
        Action<string> validate,
        Func<string, string, (string Key, string NameKey)> keys,
        CancellationToken cancellationToken,
        long maxBytes = long.MaxValue)
    {
        string fileName = CheckName(name, what, extensions);
        long limit = Math.Min(_options.MaxSceneBytes, maxBytes);
        if (request.ContentLength > limit)
        {
            throw new CoordinatorException(413, $"The {what} is {request.ContentLength} bytes; the most accepted is {limit}.");
        }

        // The limit is enforced below while streaming; Kestrel's default (30 MB) would cut in first.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        string folder = Path.Combine(Path.GetTempPath(), "renderfarm-upload-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            // Saved under the client's own name, so the loaders' messages name their file.
            string path = Path.Combine(folder, fileName);
            (string sha256, long size) = await SaveAsync(request.Body, path, limit, what, cancellationToken);
            if (size == 0)
            {
                throw new CoordinatorException(400, $"The request body is empty; send the {what} file as the body.");
            }

            validate(path);
            (string key, string nameKey) = keys(sha256, Path.GetExtension(fileName).ToLowerInvariant());
            if (await _objects.StatAsync(key, cancellationToken) is not { } existing || existing.Size != size)
            {
                await using FileStream file = File.OpenRead(path);
                await _objects.PutAsync(key, file, cancellationToken);
                LogStored(key, size);
            }

            using (var nameStream = new MemoryStream(Encoding.UTF8.GetBytes(fileName)))
            {
                await _objects.PutAsync(nameKey, nameStream, cancellationToken);
            }

            return (sha256, size, fileName);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<(string Sha256, long Size)> SaveAsync(Stream body, string path, long limit, string what, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[81920];
        long total = 0;
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, useAsync: true);
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += read;
            if (total > limit)
            {
                throw new CoordinatorException(413, $"The {what} is larger than {limit} bytes, the most accepted.");
            }

            hash.AppendData(buffer, 0, read);
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }

        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total);
    }

    private static string CheckName(string? name, string what, string[] extensions)
    {
        string example = $"FILE{extensions[0]}";
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new CoordinatorException(400, $"Name the {what} file in the query: POST /api/{what}s?name={example}.");
        }

        string extension = Path.GetExtension(name).ToLowerInvariant();
        if (!extensions.Contains(extension))
        {
            throw new CoordinatorException(400, $"'{name}' is not a {string.Join(" or ", extensions)} file name.");
        }

        if (name.Length > 200 || name != Path.GetFileName(name) || name.Any(c => char.IsControl(c) || c is '/' or '\\'))
        {
            throw new CoordinatorException(400, $"'{name}' is not a plain file name of at most 200 characters.");
        }

        return name;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scene {Sha256}: no device footprint recorded ({Reason}); its jobs are leased without the device check.")]
    private partial void LogNoFootprint(string sha256, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upload stored as {Key} ({Size} bytes).")]
    private partial void LogStored(string key, long size);
}
