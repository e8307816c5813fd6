using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Coordinator.Api;

/// <summary>
/// Scene uploads: the request body is streamed to a temporary file while it is hashed and counted
/// (never held in memory), checked as glTF by the renderer's own importer, then stored under its
/// SHA-256, so uploading the same scene again changes nothing.
/// </summary>
internal sealed partial class SceneUploads
{
    private readonly IObjectStore _objects;
    private readonly CoordinatorOptions _options;
    private readonly ILogger<SceneUploads> _logger;

    public SceneUploads(IObjectStore objects, IOptions<CoordinatorOptions> options, ILogger<SceneUploads> logger)
    {
        _objects = objects;
        _options = options.Value;
        _logger = logger;
    }

    public async Task<SceneUploaded> UploadAsync(HttpRequest request, string? name, CancellationToken cancellationToken)
    {
        string fileName = CheckName(name);
        long limit = _options.MaxSceneBytes;
        if (request.ContentLength > limit)
        {
            throw new CoordinatorException(413, $"The scene is {request.ContentLength} bytes; the most accepted is {limit}.");
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
            // Saved under the client's own name, so the importer's messages name their file.
            string path = Path.Combine(folder, fileName);
            (string sha256, long size) = await SaveAsync(request.Body, path, limit, cancellationToken);
            if (size == 0)
            {
                throw new CoordinatorException(400, "The request body is empty; send the scene file as the body.");
            }

            // Throws UserInputException (→ 400) for anything the renderer could not draw.
            SceneAsset.Load(path);

            string extension = Path.GetExtension(fileName).ToLowerInvariant();
            string key = FarmKeys.Scene(sha256, extension);
            if (await _objects.StatAsync(key, cancellationToken) is not { } existing || existing.Size != size)
            {
                await using FileStream file = File.OpenRead(path);
                await _objects.PutAsync(key, file, cancellationToken);
                LogStored(key, size);
            }

            using (var nameStream = new MemoryStream(Encoding.UTF8.GetBytes(fileName)))
            {
                await _objects.PutAsync(FarmKeys.SceneName(sha256), nameStream, cancellationToken);
            }

            return new SceneUploaded(sha256, size, fileName);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<(string Sha256, long Size)> SaveAsync(Stream body, string path, long limit, CancellationToken cancellationToken)
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
                throw new CoordinatorException(413, $"The scene is larger than {limit} bytes, the most accepted.");
            }

            hash.AppendData(buffer, 0, read);
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }

        return (Convert.ToHexStringLower(hash.GetHashAndReset()), total);
    }

    private static string CheckName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new CoordinatorException(400, "Name the scene file in the query: POST /api/scenes?name=FILE.glb.");
        }

        string extension = Path.GetExtension(name).ToLowerInvariant();
        if (extension is not (".glb" or ".gltf"))
        {
            throw new CoordinatorException(400, $"'{name}' is not a .glb or .gltf file name.");
        }

        if (name.Length > 200 || name != Path.GetFileName(name) || name.Any(c => char.IsControl(c) || c is '/' or '\\'))
        {
            throw new CoordinatorException(400, $"'{name}' is not a plain file name of at most 200 characters.");
        }

        return name;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scene stored as {Key} ({Size} bytes).")]
    private partial void LogStored(string key, long size);
}
