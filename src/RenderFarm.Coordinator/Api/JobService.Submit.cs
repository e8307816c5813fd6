using System.Text;
using System.Text.Json;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Coordinator.Api;

/// <summary>Submitting jobs: the request checked against the limits, the uploads it names found in the account, the job and its tasks stored.</summary>
internal sealed partial class JobService
{
    public async Task<JobSummary> SubmitAsync(SubmitJobRequest request, string owner, CancellationToken cancellationToken)
    {
        string sha256 = request.SceneSha256.Trim().ToLowerInvariant();
        if (!FarmKeys.IsSha256(sha256))
        {
            throw new CoordinatorException(400, "sceneSha256 must be the 64 hex digits returned by POST /api/scenes.");
        }

        FrameRange frames = FrameRange.Parse(request.Frames);
        int chunkSize = request.ChunkSize ?? 1;
        if (chunkSize is < 1 or > MaxChunkSize)
        {
            throw new CoordinatorException(400, $"chunkSize must be between 1 and {MaxChunkSize}; got {chunkSize}.");
        }

        int taskCount = JobSplitter.TaskCount(frames, chunkSize);
        if (taskCount > _options.MaxTasksPerJob)
        {
            throw new CoordinatorException(400, $"Frames {frames} in chunks of {chunkSize} make {taskCount} tasks; the most is {_options.MaxTasksPerJob}. Raise chunkSize.");
        }

        int priority = request.Priority ?? 0;
        if (priority is < -10 or > 10)
        {
            throw new CoordinatorException(400, $"priority must be between -10 and 10; got {priority}.");
        }

        long budget = request.Budget ?? 0;
        if (budget < 0)
        {
            throw new CoordinatorException(400, $"budget must not be negative; got {budget}.");
        }

        var defaults = new RenderSettings();
        RenderSettings settings = defaults with
        {
            Size = request.Size is null ? defaults.Size : ImageSize.Parse(request.Size),
            SamplesPerPixel = request.SamplesPerPixel ?? defaults.SamplesPerPixel,
            Seed = request.Seed ?? defaults.Seed,
            MaxBounces = request.MaxBounces ?? defaults.MaxBounces,
            ToneMapping = request.ToneMapping?.ToLowerInvariant() switch
            {
                null => defaults.ToneMapping,
                "aces" => ToneMapping.Aces,
                "clamp" or "standard" => ToneMapping.Clamp,
                "filmic" => ToneMapping.Filmic,
                _ => throw new CoordinatorException(400, $"toneMapping must be \"aces\", \"filmic\" or \"standard\" (\"clamp\"); got \"{request.ToneMapping}\"."),
            },
            ExposureStops = request.ExposureStops ?? defaults.ExposureStops,
            Background = request.Background is null ? defaults.Background : LinearColor.Parse(request.Background),
            FramesPerSecond = request.FramesPerSecond ?? defaults.FramesPerSecond,
            SixteenBit = request.SixteenBit ?? defaults.SixteenBit,
            Camera = request.Camera,
            Bsdf = request.Bsdf?.ToLowerInvariant() switch
            {
                null => defaults.Bsdf,
                "principled" => BsdfModel.Principled,
                "gltf" => BsdfModel.Gltf,
                _ => throw new CoordinatorException(400, $"bsdf must be \"principled\" or \"gltf\"; got \"{request.Bsdf}\"."),
            },
            Environment = EnvironmentOf(request),
            Format = request.Format?.ToLowerInvariant() switch
            {
                null or "png" => FrameFormat.Png,
                "exr" => FrameFormat.Exr,
                _ => throw new CoordinatorException(400, $"format must be \"png\" or \"exr\"; got \"{request.Format}\"."),
            },
            ExrDepth = request.ExrDepth?.ToLowerInvariant() switch
            {
                null or "half" => ExrDepth.Half,
                "float" => ExrDepth.Float,
                _ => throw new CoordinatorException(400, $"exrDepth must be \"half\" or \"float\"; got \"{request.ExrDepth}\"."),
            },
            Denoise = request.Denoise ?? false,
        };
        if (settings.Format != FrameFormat.Exr && (request.ExrDepth is not null || settings.Denoise))
        {
            throw new CoordinatorException(400, "exrDepth and denoise need format \"exr\": the denoiser reads the verified linear frame and its AOVs.");
        }

        settings.Validate();
        if (JobBudget.Refusal(frames, settings, _limits, _options.MaxObjectBytes) is { } refusal)
        {
            throw new CoordinatorException(400, refusal);
        }

        await CheckAccountBudgetAsync(owner, JobBudget.TotalSamples(frames, settings) ?? long.MaxValue, cancellationToken);

        (string sceneKey, string sceneName) = await FindSceneAsync(sha256, owner, cancellationToken);
        await CheckCameraAsync(sha256, sceneName, settings.Camera, cancellationToken);
        await CheckEnvironmentAsync(settings.Environment, owner, cancellationToken);
        var spec = new RenderJobSpec
        {
            SceneKey = sceneKey,
            SceneSha256 = sha256,
            SceneFileName = sceneName,
            Frames = frames,
            ChunkSize = chunkSize,
            Settings = settings,
            Priority = priority,
            Budget = budget,
            Payer = request.Payer,
            SceneFootprint = await ReadFootprintAsync(sha256, cancellationToken),
        };
        return await CreateAsync(spec, owner, frames.ToString(), cancellationToken);
    }

    public async Task<JobSummary> SubmitInferenceAsync(SubmitInferenceJobRequest request, string owner, CancellationToken cancellationToken)
    {
        string modelSha256 = request.ModelSha256.Trim().ToLowerInvariant();
        if (!FarmKeys.IsSha256(modelSha256))
        {
            throw new CoordinatorException(400, "modelSha256 must be the 64 hex digits returned by POST /api/models.");
        }

        int itemsPerTask = request.ItemsPerTask ?? 1;
        if (itemsPerTask is < 1 or > MaxChunkSize)
        {
            throw new CoordinatorException(400, $"itemsPerTask must be between 1 and {MaxChunkSize}; got {itemsPerTask}.");
        }

        int items = request.Inputs.Count;
        int taskCount = (int)(((long)items + itemsPerTask - 1) / itemsPerTask);
        if (items == 0 || taskCount > _options.MaxTasksPerJob)
        {
            throw new CoordinatorException(400, items == 0
                ? "inputs must name at least one uploaded input."
                : $"{items} inputs in tasks of {itemsPerTask} make {taskCount} tasks; the most is {_options.MaxTasksPerJob}. Raise itemsPerTask.");
        }

        int priority = request.Priority ?? 0;
        long budget = request.Budget ?? 0;
        if (priority is < -10 or > 10 || budget < 0)
        {
            throw new CoordinatorException(400, $"priority must be between -10 and 10 and budget not negative; got {priority} and {budget}.");
        }

        // Only the account's own uploads: the name record is its claim, checked before any byte is read.
        string modelName = await ReadOwnedNameAsync(FarmKeys.ModelName(owner, modelSha256), $"No model with SHA-256 {modelSha256}; upload it with POST /api/models first.", cancellationToken);

        // The model was checked at upload; every item must hold exactly its inputs (names, types, shapes), so no task
        // fails for a wrong input.
        OnnxModel model = OnnxModel.Parse(await ReadRequiredAsync(FarmKeys.Model(modelSha256), $"No model with SHA-256 {modelSha256}; upload it with POST /api/models first.", cancellationToken));
        var inputs = new List<StoredInput>(items);
        for (int i = 0; i < items; i++)
        {
            string sha256 = request.Inputs[i].Trim().ToLowerInvariant();
            if (!FarmKeys.IsSha256(sha256))
            {
                throw new CoordinatorException(400, $"inputs[{i}] must be the 64 hex digits returned by POST /api/inputs.");
            }

            string missing = $"No input with SHA-256 {sha256} (inputs[{i}]); upload it with POST /api/inputs first.";
            string inputName = await ReadOwnedNameAsync(FarmKeys.InputName(owner, sha256), missing, cancellationToken);
            byte[] bytes = await ReadRequiredAsync(FarmKeys.Input(sha256), missing, cancellationToken);
            string? wrong;
            try
            {
                wrong = ItemFiles.Misfit(
                    ItemFiles.ParseHeaders(bytes, model.Inputs, $"inputs[{i}]").ToDictionary(p => p.Key, p => (p.Value.ElementType, p.Value.Shape), StringComparer.Ordinal),
                    model.Inputs,
                    emptyDimensions: true);
            }
            catch (UserInputException e)
            {
                wrong = e.Message.TrimEnd('.');
            }

            if (wrong is not null)
            {
                throw new CoordinatorException(
                    400, $"inputs[{i}] does not fit the model's inputs ({string.Join(", ", model.Inputs)}): {wrong}.");
            }

            inputs.Add(new StoredInput(FarmKeys.Input(sha256), sha256, inputName));
        }

        var spec = new RenderJobSpec
        {
            SceneKey = FarmKeys.Model(modelSha256),
            SceneSha256 = modelSha256,
            SceneFileName = modelName,
            Frames = new FrameRange(1, items),
            ChunkSize = itemsPerTask,
            Settings = new RenderSettings(),
            Priority = priority,
            Budget = budget,
            Payer = request.Payer,
            Inference = new InferenceJobSpec { Inputs = inputs, OutputArchive = model.Outputs.Count > 1 },
        };
        await CheckAccountBudgetAsync(owner, 0, cancellationToken);
        return await CreateAsync(spec, owner, $"items 1-{items}", cancellationToken);
    }

    // Stores a new job and its tasks of ChunkSize frames (or items) each, and queues its split unless it is paid: a paid
    // job waits for its escrow, so no provider works before the client's tokens are locked.
    private async Task<JobSummary> CreateAsync(RenderJobSpec spec, string owner, string range, CancellationToken cancellationToken)
    {
        bool paid = _ledger is not null && spec.Budget > 0;
        spec = spec with { Payer = PayerOf(spec, owner) };
        var job = new JobRecord
        {
            Id = Guid.NewGuid(),
            CreatedAt = _time.GetUtcNow(),
            State = paid ? JobState.AwaitingEscrow : JobState.Queued,
            Spec = spec,
            Owner = owner,
        };
        IReadOnlyList<(int First, int Last)> chunks = JobSplitter.Chunks(spec.Frames, spec.ChunkSize);
        var tasks = new List<TaskRecord>(chunks.Count);
        for (int index = 0; index < chunks.Count; index++)
        {
            tasks.Add(new TaskRecord { JobId = job.Id, Index = index, FirstFrame = chunks[index].First, LastFrame = chunks[index].Last });
        }

        await _store.CreateJobAsync(job, tasks, cancellationToken);
        if (!paid)
        {
            EnqueueSplit(job.Id);
        }

        LogSubmitted(job.Id, range, tasks.Count, spec.Priority, job.State);
        return Summary(job, tasks) with { Warning = WaitingWarning(job) };
    }

    // One account cannot fill the farm: its open jobs are counted, and their render work summed, before another is
    // accepted (a 429, since waiting for earlier jobs to end lifts it).
    private async Task CheckAccountBudgetAsync(string owner, long newSamples, CancellationToken cancellationToken)
    {
        IReadOnlyList<JobRecord> jobs = await _store.ListJobsOfAsync(owner, _limits.MaxOpenJobsPerAccount + ListLimit, cancellationToken);
        long[] open =
        [
            .. jobs
                .Where(job => job.State is JobState.Queued or JobState.AwaitingEscrow or JobState.Running)
                .Select(job => job.Spec.Inference is null ? JobBudget.TotalSamples(job.Spec.Frames, job.Spec.Settings) ?? long.MaxValue : 0),
        ];
        if (JobBudget.AccountRefusal(newSamples, open, _limits) is { } refusal)
        {
            throw new CoordinatorException(429, refusal);
        }
    }

    // Escrows are keyed by client and job, and a job's owner is the account that pays for it: the escrow read is the
    // one the owner locked. A request may name its payer only to say the same address (older clients send it).
    private static string PayerOf(RenderJobSpec spec, string owner)
    {
        string? payer = spec.Payer?.Trim();
        if (string.IsNullOrEmpty(payer) || string.Equals(payer, owner, StringComparison.OrdinalIgnoreCase))
        {
            return owner;
        }

        throw new CoordinatorException(
            400, $"A job is paid from its own account's escrow: payer {payer[..Math.Min(payer.Length, 64)]} is not the signed-in account {owner}.");
    }

    private async Task<byte[]> ReadRequiredAsync(string key, string missing, CancellationToken cancellationToken) =>
        await _objects.ReadAllBytesAsync(key, cancellationToken) ?? throw new CoordinatorException(404, missing);

    // An account's name for an upload; its absence means the account never uploaded it (whoever else did): 404.
    private async Task<string> ReadOwnedNameAsync(string key, string missing, CancellationToken cancellationToken)
    {
        try
        {
            await using Stream stream = await _objects.OpenReadAsync(key, cancellationToken);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return await reader.ReadToEndAsync(cancellationToken);
        }
        catch (ObjectNotFoundException)
        {
            throw new CoordinatorException(404, missing);
        }
    }


    // A camera name the scene lacks is refused here, listing its cameras, rather than by every worker. Scenes stored
    // before their camera names were recorded have no record; their workers refuse an unknown name in the same words.
    private async Task CheckCameraAsync(string sha256, string sceneName, string? camera, CancellationToken cancellationToken)
    {
        if (camera is null)
        {
            return;
        }

        string[]? cameras;
        try
        {
            await using Stream stream = await _objects.OpenReadAsync(FarmKeys.SceneCameras(sha256), cancellationToken);
            cameras = await JsonSerializer.DeserializeAsync<string[]>(stream, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is ObjectNotFoundException or JsonException)
        {
            return;
        }

        CameraChoice.IndexOf(cameras ?? [], camera, sceneName);
    }

    // The footprint the scene's upload recorded; scenes stored before footprints were recorded have none, and their jobs are
    // leased as before (the worker refuses a scene too large for its device when it loads it).
    private async Task<SceneFootprint?> ReadFootprintAsync(string sha256, CancellationToken cancellationToken)
    {
        try
        {
            await using Stream stream = await _objects.OpenReadAsync(FarmKeys.SceneFootprint(sha256), cancellationToken);
            return await JsonSerializer.DeserializeAsync<SceneFootprint>(stream, cancellationToken: cancellationToken) is { LargestBuffer.Length: > 0 and <= 100 } footprint
                ? footprint
                : null;
        }
        catch (Exception ex) when (ex is ObjectNotFoundException or JsonException)
        {
            return null;
        }
    }

    private async Task<(string Key, string Name)> FindSceneAsync(string sha256, string owner, CancellationToken cancellationToken)
    {
        string missing = $"No scene with SHA-256 {sha256}; upload it with POST /api/scenes first.";
        string name = await ReadOwnedNameAsync(FarmKeys.SceneName(owner, sha256), missing, cancellationToken);
        foreach (string extension in (string[])[".glb", ".gltf"])
        {
            string key = FarmKeys.Scene(sha256, extension);
            if (await _objects.StatAsync(key, cancellationToken) is not null)
            {
                return (key, name);
            }
        }

        throw new CoordinatorException(404, missing);
    }
}
