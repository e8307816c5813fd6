using System.Globalization;
using System.Security.Cryptography;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Worker;

/// <summary>
/// A provider's worker loop: sign in, lease a task, fetch its scene (cached by SHA-256), render and
/// upload each frame while heartbeating the lease, report the result, repeat.
/// </summary>
/// <remarks>
/// A task that cannot be done here (broken scene, bad download, render error) is reported failed and
/// the loop goes on; a lost lease drops its work; cancelling <see cref="RunAsync"/>'s token hands the
/// current lease back and returns. Only a refused login or lease request ends the loop with an exception.
/// </remarks>
public sealed class WorkerAgent : IDisposable
{
    private const string ValidateQueue = "validate";
    private const string InferenceQueue = "inference";
    private static readonly TimeSpan s_handBackTimeout = TimeSpan.FromSeconds(10);

    private readonly FarmClient _client;
    private readonly IFrameRenderer _renderer;
    private readonly IInferenceRunner? _inference;
    private readonly WorkerOptions _options;
    private readonly IProgress<WorkerEvent>? _events;
    private readonly IDisposable[] _owned;
    private readonly string _sceneDirectory;
    private readonly string _frameDirectory;

    /// <summary>Creates an agent from parts the caller owns.</summary>
    /// <param name="client">The coordinator's provider API.</param>
    /// <param name="renderer">Renders frames; called for one frame at a time.</param>
    /// <param name="options">Queues, lease wait and cache folder; the coordinator URL, key file and device are the client's and renderer's business.</param>
    /// <param name="events">Receives one event per step, e.g. one per rendered frame.</param>
    /// <param name="inference">Runs ONNX models for inference tasks; without one the worker does not serve <c>inference</c>.</param>
    public WorkerAgent(FarmClient client, IFrameRenderer renderer, WorkerOptions options, IProgress<WorkerEvent>? events = null, IInferenceRunner? inference = null)
        : this(client, renderer, options, events, [], inference)
    {
    }

    private WorkerAgent(FarmClient client, IFrameRenderer renderer, WorkerOptions options, IProgress<WorkerEvent>? events, IDisposable[] owned, IInferenceRunner? inference)
    {
        _inference = inference;
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(renderer);
        ArgumentNullException.ThrowIfNull(options);
        _client = client;
        _renderer = renderer;
        _options = options;
        _events = events;
        _owned = owned;
        _sceneDirectory = Path.Combine(options.CacheDirectory, "scenes");
        _frameDirectory = Path.Combine(options.CacheDirectory, "frames");
    }

    /// <summary>
    /// Creates a worker from options: loads (or creates) the key, opens the Vulkan device and
    /// connects to the coordinator. The agent owns all three and releases them in <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="UserInputException">The key file is unusable or the device cannot be opened.</exception>
    public static WorkerAgent Create(WorkerOptions options, IProgress<WorkerEvent>? events = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ProviderKey key = ProviderKey.LoadOrCreate(options.KeyFile);
        if (key.WasCreated)
        {
            events?.Report(new WorkerEvent(WorkerEventKind.KeyCreated, $"Created provider key {key.Path} for address {key.Address}."));
        }

        var renderer = new VulkanFrameRenderer(options.DeviceIndex);
        var inference = new VulkanInferenceRunner(options.DeviceIndex);
        string baseUrl = options.Coordinator.AbsoluteUri;
        var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) })
        {
            BaseAddress = new Uri(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/"),
            // The client bounds API calls itself; transfers of big scenes may legitimately take long.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        string device = options.Name is null ? renderer.DeviceName : $"{options.Name}: {renderer.DeviceName}";
        var client = new FarmClient(http, key, device, events) { Device = renderer.LeaseLimits };
        return new WorkerAgent(client, renderer, options, events, [renderer, inference, http], inference);
    }

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled, then hands back the current lease and returns.</summary>
    /// <exception cref="FarmRequestException">The coordinator refused the login or a lease request.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_sceneDirectory);
        Directory.CreateDirectory(_frameDirectory);
        string[] queues = [.. _options.Queues.Where(q => (_renderer is ITileRenderer || q != ValidateQueue) && (_inference is not null || q != InferenceQueue))];
        if (queues.Length == 0)
        {
            throw new UserInputException("This worker's renderer cannot render tiles, so it cannot serve only the validate queue.");
        }

        try
        {
            await _client.LoginAsync(cancellationToken).ConfigureAwait(false);
            while (!cancellationToken.IsCancellationRequested)
            {
                LeaseGrant? lease = await _client.LeaseAsync(queues, _options.LeaseWaitSeconds, cancellationToken)
                    .ConfigureAwait(false);
                if (lease is not null)
                {
                    await ProcessAsync(lease, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping between tasks: nothing to hand back.
        }
    }

    /// <summary>Releases the HTTP client and the device when <see cref="Create"/> made them; parts passed in stay the caller's.</summary>
    public void Dispose()
    {
        foreach (IDisposable owned in _owned)
        {
            owned.Dispose();
        }
    }

    private async Task ProcessAsync(LeaseGrant lease, CancellationToken stopToken)
    {
        Report(
            WorkerEventKind.Leased,
            lease.Inputs is null
                ? $"Leased task {lease.TaskIndex} of job {lease.JobId}: frames {lease.FirstFrame}-{lease.LastFrame} at {lease.Settings.Size}, {lease.Settings.SamplesPerPixel} spp."
                : $"Leased task {lease.TaskIndex} of job {lease.JobId}: items {lease.FirstFrame}-{lease.LastFrame} of model {lease.SceneFileName}.",
            lease.LeaseId);

        // Cancelled when the worker stops or when a heartbeat learns that the lease is gone.
        using var leaseCts = CancellationTokenSource.CreateLinkedTokenSource(stopToken);
        using var heartbeatCts = CancellationTokenSource.CreateLinkedTokenSource(leaseCts.Token);
        Task<LeaseLostException?> heartbeat = HeartbeatAsync(lease, leaseCts, heartbeatCts.Token);

        bool completed = false;
        LeaseLostException? lost = null;
        Exception? failure = null;
        try
        {
            CompleteRequest report = lease switch
            {
                { Inputs: not null } => new CompleteRequest(await InferTaskAsync(lease, leaseCts.Token).ConfigureAwait(false)),
                { Validation: { } validation } => new CompleteRequest([], Convert.ToBase64String(await RenderTilesAsync(lease, validation, leaseCts.Token).ConfigureAwait(false))),
                _ => new CompleteRequest(await RenderTaskAsync(lease, leaseCts.Token).ConfigureAwait(false)),
            };

            // Stop heartbeating before reporting: once the coordinator accepts the report the lease
            // has ended, and a heartbeat racing the report would take that for a lost lease.
            await heartbeatCts.CancelAsync().ConfigureAwait(false);
            lost = await heartbeat.ConfigureAwait(false);
            if (lost is null)
            {
                await _client.CompleteAsync(lease.LeaseId, report, leaseCts.Token).ConfigureAwait(false);
                completed = true;
                Report(WorkerEventKind.Completed, $"Completed task {lease.TaskIndex} of job {lease.JobId}.", lease.LeaseId);
            }
        }
        catch (OperationCanceledException) when (leaseCts.IsCancellationRequested)
        {
            // Stopping, or the heartbeat lost the lease; told apart below.
        }
        catch (LeaseLostException ex)
        {
            lost = ex;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            failure = ex;
        }

        await heartbeatCts.CancelAsync().ConfigureAwait(false);
        lost ??= await heartbeat.ConfigureAwait(false);
        if (completed)
        {
            return;
        }

        if (stopToken.IsCancellationRequested)
        {
            await HandBackAsync(lease).ConfigureAwait(false);
        }
        else if (lost is not null)
        {
            Report(WorkerEventKind.LeaseLost, $"Lost the lease on task {lease.TaskIndex} of job {lease.JobId}: {lost.Message}", lease.LeaseId);
        }
        else if (failure is not null)
        {
            await FailAsync(lease, ReasonOf(failure), stopToken).ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<CompletedFrame>> RenderTaskAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        var range = new FrameRange(lease.FirstFrame, lease.LastFrame);
        string scenePath = await GetSceneAsync(lease, cancellationToken).ConfigureAwait(false);
        await GetEnvironmentAsync(lease, scenePath, cancellationToken).ConfigureAwait(false);
        var completed = new List<CompletedFrame>(range.Count);
        foreach (int frame in range.Frames)
        {
            FrameUpload upload = lease.Uploads.FirstOrDefault(u => u.Frame == frame)
                ?? throw new InvalidDataException($"The lease has no upload URL for frame {frame}.");
            bool exr = lease.Settings.Format == FrameFormat.Exr;
            string pngPath = Path.Combine(_frameDirectory, $"{Guid.NewGuid():N}{(exr ? ".exr" : ".png")}");
            try
            {
                RenderedFrame rendered = await _renderer.RenderAsync(scenePath, frame, lease.Settings, pngPath, cancellationToken)
                    .ConfigureAwait(false);
                (string sha256, long size) = await HashFileAsync(pngPath, cancellationToken).ConfigureAwait(false);
                await _client.UploadAsync(upload.Upload.Url, pngPath, exr ? "image/x-exr" : "image/png", cancellationToken).ConfigureAwait(false);
                completed.Add(new CompletedFrame(frame, sha256, size, rendered.RenderTime.TotalSeconds));
                _events?.Report(new WorkerEvent(
                    WorkerEventKind.FrameRendered,
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"Frame {frame}: {rendered.RenderTime.TotalSeconds:0.00} s, {rendered.MegasamplesPerSecond:0.0} Msamples/s, {size / 1024.0:0.#} KiB uploaded."))
                {
                    LeaseId = lease.LeaseId,
                    Frame = frame,
                    Render = rendered,
                });
            }
            finally
            {
                File.Delete(pngPath);
            }
        }

        return completed;
    }

    // An inference task (or the re-execution of a sampled item): each item's inputs through the model, its outputs
    // uploaded as one item file (.npy for one output, .npz for several).
    private async Task<IReadOnlyList<CompletedFrame>> InferTaskAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        if (_inference is null)
        {
            throw new InvalidDataException("This worker has no inference engine; it does not serve the inference queue.");
        }

        string modelPath = await GetSceneAsync(lease, cancellationToken).ConfigureAwait(false);
        var completed = new List<CompletedFrame>(lease.Inputs!.Count);
        foreach (ItemInput input in lease.Inputs)
        {
            FrameUpload upload = lease.Uploads.FirstOrDefault(u => u.Frame == input.Item)
                ?? throw new InvalidDataException($"The lease has no upload URL for item {input.Item}.");
            string inputPath = Path.Combine(_frameDirectory, $"{Guid.NewGuid():N}.input");
            string outputPath = Path.Combine(_frameDirectory, $"{Guid.NewGuid():N}.output");
            try
            {
                await _client.DownloadAsync(input.Input, inputPath, cancellationToken).ConfigureAwait(false);
                InferredItem result = await _inference.RunAsync(modelPath, await File.ReadAllBytesAsync(inputPath, cancellationToken).ConfigureAwait(false), cancellationToken)
                    .ConfigureAwait(false);
                await File.WriteAllBytesAsync(outputPath, result.OutputNpy, cancellationToken).ConfigureAwait(false);
                await _client.UploadAsync(upload.Upload.Url, outputPath, "application/octet-stream", cancellationToken).ConfigureAwait(false);
                completed.Add(new CompletedFrame(input.Item, Convert.ToHexStringLower(SHA256.HashData(result.OutputNpy)), result.OutputNpy.Length, result.RunTime.TotalSeconds));
                Report(
                    WorkerEventKind.FrameRendered,
                    string.Create(CultureInfo.InvariantCulture, $"Item {input.Item}: {result.RunTime.TotalMilliseconds:0} ms, {result.OutputNpy.Length / 1024.0:0.#} KiB uploaded."),
                    lease.LeaseId);
            }
            finally
            {
                File.Delete(inputPath);
                File.Delete(outputPath);
            }
        }

        return completed;
    }

    private async Task<byte[]> RenderTilesAsync(LeaseGrant lease, ValidationWork validation, CancellationToken cancellationToken)
    {
        if (_renderer is not ITileRenderer tiles)
        {
            throw new InvalidDataException("This worker's renderer cannot render tiles; it does not serve the validate queue.");
        }

        if (validation.Tiles.Count == 0)
        {
            throw new InvalidDataException("The spot check names no tiles.");
        }

        string scenePath = await GetSceneAsync(lease, cancellationToken).ConfigureAwait(false);
        await GetEnvironmentAsync(lease, scenePath, cancellationToken).ConfigureAwait(false);
        byte[] png = await tiles.RenderTilesAsync(scenePath, validation.Frame, lease.Settings, validation.Tiles, cancellationToken).ConfigureAwait(false);
        Report(
            WorkerEventKind.FrameRendered,
            string.Create(CultureInfo.InvariantCulture, $"Spot check of frame {validation.Frame}: {validation.Tiles.Count} tiles re-rendered."),
            lease.LeaseId);
        return png;
    }

    // Scenes are content-addressed, so a file named by its verified hash never needs fetching again.
    private async Task<string> GetSceneAsync(LeaseGrant lease, CancellationToken cancellationToken)
    {
        // An inference task's "scene" is its ONNX model; both are cached by SHA-256 alike.
        string extension = Path.GetExtension(lease.SceneFileName).ToLowerInvariant();
        if (lease.Inputs is null ? extension is not (".glb" or ".gltf") : extension != ".onnx")
        {
            throw new InvalidDataException($"The {(lease.Inputs is null ? "scene" : "model")} '{lease.SceneFileName}' has an unexpected file type.");
        }

        string? expected = lease.Scene.Sha256?.ToLowerInvariant();
        if (expected is null)
        {
            string download = Path.Combine(_sceneDirectory, $"{Guid.NewGuid():N}{extension}.download");
            string sha256 = await _client.DownloadAsync(lease.Scene, download, cancellationToken).ConfigureAwait(false);
            string named = Path.Combine(_sceneDirectory, sha256 + extension);
            File.Move(download, named, overwrite: true);
            return named;
        }

        if (expected.Length != 64 || !expected.All(char.IsAsciiHexDigit))
        {
            throw new InvalidDataException($"The lease gives the scene's SHA-256 as '{expected}', which is not 64 hex digits.");
        }

        string cached = Path.Combine(_sceneDirectory, expected + extension);
        if (!File.Exists(cached))
        {
            await _client.DownloadAsync(lease.Scene, cached, cancellationToken).ConfigureAwait(false);
        }

        return cached;
    }

    // The environment map the settings name, fetched once into the cache beside the scene and checked against the hash the
    // settings carry, so every provider and validator of the job lights the scene with the same bytes.
    private async Task GetEnvironmentAsync(LeaseGrant lease, string scenePath, CancellationToken cancellationToken)
    {
        if (lease.Settings.Environment is not { } environment)
        {
            return;
        }

        environment.Validate();
        if (lease.Environment is not { } link || !string.Equals(link.Sha256, environment.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"The settings name environment map {environment.Sha256}, but the lease carries no link to it.");
        }

        string cached = EnvironmentCache.PathBeside(scenePath, environment.Sha256);
        if (!File.Exists(cached))
        {
            await _client.DownloadAsync(link with { Sha256 = environment.Sha256 }, cached, cancellationToken).ConfigureAwait(false);
        }
    }

    // Runs until cancelled; returns the exception when the coordinator says the lease is gone, after
    // cancelling the task's work through leaseCts.
    private async Task<LeaseLostException?> HeartbeatAsync(LeaseGrant lease, CancellationTokenSource leaseCts, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, lease.HeartbeatSeconds)));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await _client.HeartbeatAsync(lease.LeaseId, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The task ended.
        }
        catch (LeaseLostException ex)
        {
            await leaseCts.CancelAsync().ConfigureAwait(false);
            return ex;
        }
        catch (FarmRequestException ex)
        {
            // Any other refusal of a heartbeat leaves the lease to expire on the coordinator's clock;
            // the task's report will tell whether it still counts.
            Report(WorkerEventKind.Retrying, $"Heartbeats stopped for task {lease.TaskIndex} of job {lease.JobId}: {ex.Message}", lease.LeaseId);
        }

        return null;
    }

    private async Task FailAsync(LeaseGrant lease, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await _client.FailAsync(lease.LeaseId, reason, cancellationToken).ConfigureAwait(false);
            Report(WorkerEventKind.Failed, $"Failed task {lease.TaskIndex} of job {lease.JobId}: {reason}", lease.LeaseId);
        }
        catch (FarmRequestException ex)
        {
            Report(WorkerEventKind.Failed, $"Failed task {lease.TaskIndex} of job {lease.JobId}: {reason} (the report was refused: {ex.Message})", lease.LeaseId);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping; the lease will expire and the task be queued again.
        }
    }

    // The worker's own token is already cancelled here, so the hand-back gets a short one of its own.
    private async Task HandBackAsync(LeaseGrant lease)
    {
        using var timeout = new CancellationTokenSource(s_handBackTimeout);
        try
        {
            await _client.HandBackAsync(lease.LeaseId, timeout.Token).ConfigureAwait(false);
            Report(WorkerEventKind.HandedBack, $"Handed back task {lease.TaskIndex} of job {lease.JobId}.", lease.LeaseId);
        }
        catch (Exception ex) when (ex is FarmRequestException or OperationCanceledException)
        {
            Report(
                WorkerEventKind.HandedBack,
                $"Could not hand back task {lease.TaskIndex} of job {lease.JobId} ({ex.Message}); it will be queued again when the lease expires.",
                lease.LeaseId);
        }
    }

    private static string ReasonOf(Exception exception) => exception switch
    {
        UserInputException or InvalidDataException or FarmRequestException => exception.Message,
        _ => $"{exception.GetType().Name}: {exception.Message}",
    };

    private static async Task<(string Sha256, long Size)> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            byte[] hash = await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false);
            return (Convert.ToHexStringLower(hash), file.Length);
        }
    }

    private void Report(WorkerEventKind kind, string message, string? leaseId)
        => _events?.Report(new WorkerEvent(kind, message) { LeaseId = leaseId });
}
