using System.Globalization;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Core.Storage;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Coordinator.Api;

/// <summary>The client half of the API: submitting, watching, cancelling and downloading jobs.</summary>
internal sealed partial class JobService
{
    private const int MaxChunkSize = 1000;
    private const int ListLimit = 200;

    private readonly IFarmStore _store;
    private readonly IObjectStore _objects;
    private readonly IBackgroundJobClient _client;
    private readonly LeaseService _leases;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly JobLimits _limits;
    private readonly ILogger<JobService> _logger;
    private readonly ILedger? _ledger;
    private readonly JobStorage? _storage;

    public JobService(
        IFarmStore store,
        IObjectStore objects,
        IBackgroundJobClient client,
        LeaseService leases,
        TimeProvider time,
        IOptions<CoordinatorOptions> options,
        IOptions<JobLimits> limits,
        ILogger<JobService> logger,
        ILedger? ledger = null,
        JobStorage? storage = null)
    {
        _storage = storage;
        _limits = limits.Value;
        _ledger = ledger;
        _store = store;
        _objects = objects;
        _client = client;
        _leases = leases;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

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
        };
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

    private async Task<byte[]> ReadRequiredAsync(string key, string missing, CancellationToken cancellationToken)
    {
        try
        {
            await using Stream stream = await _objects.OpenReadAsync(key, cancellationToken);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy, cancellationToken);
            return copy.ToArray();
        }
        catch (ObjectNotFoundException)
        {
            throw new CoordinatorException(404, missing);
        }
    }

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

    /// <summary>
    /// Starts a job that waits for its escrow once the ledger shows the client's budget locked for it; a job that is
    /// past waiting is returned as it is, so a repeated call is harmless.
    /// </summary>
    public async Task<JobSummary> ConfirmEscrowAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (job.State == JobState.AwaitingEscrow && _ledger is not null)
        {
            EscrowState? escrow;
            try
            {
                escrow = job.Spec.Payer is { } payer ? await _ledger.GetEscrowAsync(payer, jobId, cancellationToken) : null;
            }
            catch (LedgerException exception)
            {
                throw new CoordinatorException(503, $"The ledger cannot be read now; try again later. {exception.Message}");
            }

            BigInteger budget = TokenUnits.FromTokens(job.Spec.Budget);
            if (escrow is null)
            {
                throw new CoordinatorException(
                    409, $"No escrow is locked for job {jobId} by its payer {job.Spec.Payer} yet: lock {TokenUnits.Format(budget)} for it on the escrow contract from that address first.");
            }

            // Only the owner's tokens start its job: an escrow someone else locked for the id does not pay for it.
            if (!string.Equals(escrow.Client, job.Owner, StringComparison.OrdinalIgnoreCase))
            {
                throw new CoordinatorException(409, $"The escrow of job {jobId} was locked by {escrow.Client}, not by the job's owner {job.Owner}.");
            }

            if (!escrow.Open)
            {
                throw new CoordinatorException(409, $"The escrow of job {jobId} is already closed (refunded); submit a new job.");
            }

            if (escrow.Locked < budget)
            {
                throw new CoordinatorException(
                    409, $"The escrow of job {jobId} holds {TokenUnits.Format(escrow.Locked)}, less than its budget of {TokenUnits.Format(budget)}.");
            }

            if (await _store.TryUpdateJobStateAsync(jobId, JobState.AwaitingEscrow, JobState.Queued, null, cancellationToken))
            {
                EnqueueSplit(jobId);
                LogEscrowConfirmed(jobId, TokenUnits.Format(escrow.Locked));
            }

            job = await GetJobAsync(jobId, cancellationToken);
        }

        return Summary(job, await _store.GetTasksAsync(jobId, cancellationToken));
    }

    public async Task<IReadOnlyList<JobSummary>> ListAsync(ClientIdentity caller, CancellationToken cancellationToken)
    {
        var summaries = new List<JobSummary>();
        IReadOnlyList<JobRecord> jobs = caller.IsOperator
            ? await _store.ListJobsAsync(ListLimit, cancellationToken)
            : await _store.ListJobsOfAsync(caller.RequireAccount(), ListLimit, cancellationToken);
        foreach (JobRecord job in jobs)
        {
            summaries.Add(Summary(job, await _store.GetTasksAsync(job.Id, cancellationToken)));
        }

        return summaries;
    }

    public async Task<JobDetails> GetAsync(Guid jobId, ClientIdentity caller, Uri baseUrl, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(jobId, cancellationToken);
        string outputs = job.Spec.Inference is null ? "frames" : "outputs";
        var details = tasks.Select(t => new TaskDetails(
            t.Index,
            t.FirstFrame,
            t.LastFrame,
            t.State,
            t.Provider,
            t.Attempts,
            t.StartedAt,
            t.FinishedAt,
            t.Error,
            // Frames are the client's only once verified: a Verifying task's outputs await their spot checks.
            (t.State == FarmTaskState.Succeeded ? t.Outputs : []).Select(o => new FrameLink(o.Frame, new Uri(baseUrl, $"api/jobs/{jobId}/{outputs}/{o.Frame}"), o.Sha256, o.RenderSeconds)).ToList(),
            // An open canary is not shown: the job's client may be a provider too, and a canary's taker must not learn what its lease is.
            t.Checks.Where(c => !(c.Canary && c.State is SpotCheckState.Queued or SpotCheckState.Leased))
                .Select(c => c with { LeaseId = null, HangfireJobId = null }).ToList(),
            t.RejectedBy,
            // A provider's network address is not the client's to see.
            [.. t.Failures.Select(f => f with { Origin = null })]));
        return new JobDetails(Summary(job, tasks) with { Warning = WaitingWarning(job) }, job.Spec.Settings, [.. details], job.Settlement, VerificationReport.Create(job.Spec.Settings.Size, tasks));
    }

    public async Task<JobSummary> CancelAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        await GetOwnJobAsync(jobId, caller, cancellationToken);
        while (true)
        {
            JobRecord job = await GetJobAsync(jobId, cancellationToken);
            if (job.State is not (JobState.Queued or JobState.AwaitingEscrow or JobState.Running))
            {
                throw new CoordinatorException(409, $"Job {jobId} is already {job.State}.");
            }

            if (await _store.TryUpdateJobStateAsync(jobId, job.State, JobState.Cancelled, "Cancelled by the client.", cancellationToken))
            {
                break;
            }
        }

        // Leased tasks become Cancelled too, so their providers' completions are refused.
        await _leases.StopTasksAsync(jobId, "The job was cancelled.", cancellationToken);
        LogCancelled(jobId);

        // Verified frames delivered before the cancel are paid; the rest of the escrow goes back to the client.
        SettlementJob.Enqueue(_client, jobId);
        JobRecord cancelled = await GetJobAsync(jobId, cancellationToken);
        return Summary(cancelled, await _store.GetTasksAsync(jobId, cancellationToken));
    }

    /// <summary>
    /// Pauses or resumes a job that has not ended. A paused job's queued tasks are taken out of their queues (nothing of
    /// it waits for a lease, so other jobs are served as if it were not there); tasks already leased finish and their
    /// results are accepted. Resuming enqueues the queued tasks again.
    /// </summary>
    public async Task<JobSummary> SetPausedAsync(Guid jobId, bool paused, ClientIdentity caller, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (!await _store.TrySetJobPausedAsync(jobId, paused, cancellationToken))
        {
            job = await GetJobAsync(jobId, cancellationToken);
            throw new CoordinatorException(409, $"Job {jobId} is {job.State}; only a job that has not ended can be {(paused ? "paused" : "resumed")}.");
        }

        JobRecord changed = await GetJobAsync(jobId, cancellationToken);
        int moved = paused ? await _leases.PauseTasksAsync(jobId, cancellationToken) : await _leases.ResumeTasksAsync(changed, cancellationToken);
        LogPaused(jobId, paused, moved);
        return Summary(changed, await _store.GetTasksAsync(jobId, cancellationToken));
    }

    /// <summary>
    /// Requeues a failed job's failed tasks in place: the job runs again, its failed tasks (and those its failure
    /// stopped) go back to Queued with their attempts reset, and its verified frames stay. Only for a job that failed
    /// because its tasks did and that no ledger escrow pays for (settling the failure refunded that escrow; its frames
    /// go to a new job through <see cref="RequeueAsync"/>, which locks a new one).
    /// </summary>
    public async Task<JobSummary> RequeueFailedAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (job.State != JobState.Failed || !(await _store.GetTasksAsync(jobId, cancellationToken)).Any(t => t.State == FarmTaskState.Failed))
        {
            throw new CoordinatorException(409, $"Job {jobId} is {job.State}{(job.State == JobState.Failed ? " but none of its tasks failed" : "")}; only failed tasks of a failed job are requeued in place.");
        }

        if (_ledger is not null && job.Spec.Budget > 0)
        {
            throw new CoordinatorException(409, $"Job {jobId} was paid from an escrow that its failure refunded; requeue its unfinished frames as a new job, which locks a new escrow.");
        }

        // Open again, the job counts against its owner's open jobs and work, as a new one would.
        if (job.Owner is { } owner)
        {
            await CheckAccountBudgetAsync(owner, job.Spec.Inference is null ? JobBudget.TotalSamples(job.Spec.Frames, job.Spec.Settings) ?? long.MaxValue : 0, cancellationToken);
        }

        // Running first: the sweep stops the Queued tasks of a failed job, and a Running job with failed tasks is not complete.
        if (!await _store.TryUpdateJobStateAsync(jobId, JobState.Failed, JobState.Running, null, cancellationToken))
        {
            throw new CoordinatorException(409, $"Job {jobId} changed meanwhile; it is {(await GetJobAsync(jobId, cancellationToken)).State}.");
        }

        JobRecord running = await GetJobAsync(jobId, cancellationToken);
        int requeued = await _leases.RequeueFailedTasksAsync(running, cancellationToken);
        LogRequeuedInPlace(jobId, requeued);
        return Summary(await GetJobAsync(jobId, cancellationToken), await _store.GetTasksAsync(jobId, cancellationToken));
    }

    /// <summary>
    /// Submits, as a new job of the same owner with the same scene and settings, the frames a failed or cancelled job
    /// did not finish.
    /// </summary>
    public async Task<JobSummary> RequeueAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        // The new job is the owner's and may cost it escrow: only the owner asks for it, not the operator.
        string owner = caller.RequireAccount();
        JobRecord job = await GetOwnJobAsync(jobId, caller, cancellationToken);
        if (!string.Equals(job.Owner, owner, StringComparison.Ordinal))
        {
            throw new CoordinatorException(404, $"Job {jobId} was not found.");
        }

        if (job.State is not (JobState.Failed or JobState.Cancelled))
        {
            throw new CoordinatorException(409, $"Job {jobId} is {job.State}; only a failed or cancelled job can be requeued.");
        }

        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(jobId, cancellationToken);
        FrameRange? left = job.Spec.Frames.Except(tasks.Where(t => t.State == FarmTaskState.Succeeded).SelectMany(t => t.Outputs).Select(o => o.Frame));
        if (left is not { } frames)
        {
            throw new CoordinatorException(409, $"Every frame of job {jobId} is finished; nothing is left to requeue.");
        }

        RenderJobSpec spec = job.Spec with { Frames = frames };
        if (spec.Inference is null)
        {
            await CheckAccountBudgetAsync(owner, JobBudget.TotalSamples(frames, spec.Settings) ?? long.MaxValue, cancellationToken);
        }
        else
        {
            await CheckAccountBudgetAsync(owner, 0, cancellationToken);
        }

        return await CreateAsync(spec, owner, frames.ToString(), cancellationToken);
    }

    public async Task<Stream> OpenFrameAsync(Guid jobId, int frame, ClientIdentity caller, CancellationToken cancellationToken)
    {
        await GetOwnJobAsync(jobId, caller, cancellationToken);
        FrameOutput? output = (await _store.GetTasksAsync(jobId, cancellationToken))
            .Where(t => t.State == FarmTaskState.Succeeded)
            .SelectMany(t => t.Outputs)
            .FirstOrDefault(o => o.Frame == frame);
        if (output is null)
        {
            throw new CoordinatorException(404, $"Frame {frame} of job {jobId} is not finished (or not part of the job).");
        }

        return await _objects.OpenReadAsync(output.Key, cancellationToken);
    }

    /// <summary>Writes a zip of every finished frame, streaming each from the store.</summary>
    public async Task<IReadOnlyList<FrameOutput>> GetFinishedFramesAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken)
    {
        await GetOwnJobAsync(jobId, caller, cancellationToken);
        return [.. (await _store.GetTasksAsync(jobId, cancellationToken)).Where(t => t.State == FarmTaskState.Succeeded).SelectMany(t => t.Outputs).OrderBy(o => o.Frame)];
    }

    public async Task WriteZipAsync(IReadOnlyList<FrameOutput> frames, Stream destination, CancellationToken cancellationToken)
    {
        // PNGs do not compress further; storing them keeps the zip a straight copy.
        await using var zip = new ZipArchive(destination, ZipArchiveMode.Create, leaveOpen: true);
        foreach (FrameOutput frame in frames)
        {
            ZipArchiveEntry entry = zip.CreateEntry(string.Create(CultureInfo.InvariantCulture, $"{frame.Frame:D6}.png"), CompressionLevel.NoCompression);
            await using Stream target = await entry.OpenAsync(cancellationToken);
            await using Stream source = await _objects.OpenReadAsync(frame.Key, cancellationToken);
            await source.CopyToAsync(target, cancellationToken);
        }
    }

    private void EnqueueSplit(Guid jobId) =>
        _client.Create(Job.FromExpression<JobSplitter>(s => s.SplitAsync(jobId, CancellationToken.None)), new EnqueuedState(FarmQueues.Split));

    private async Task<JobRecord> GetJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        await _store.GetJobAsync(jobId, cancellationToken)
        ?? throw new CoordinatorException(404, $"No job {jobId}.");

    // Another account's job answers exactly as a missing one does, so its id reveals nothing.
    private async Task<JobRecord> GetOwnJobAsync(Guid jobId, ClientIdentity caller, CancellationToken cancellationToken) =>
        await _store.GetJobAsync(jobId, cancellationToken) is { } job && caller.MayAccess(job.Owner)
            ? job
            : throw new CoordinatorException(404, $"No job {jobId}.");

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

    // An open job on a farm that cannot cross-check its frames says so (ProviderTrust).
    private string? WaitingWarning(JobRecord job) =>
        _storage is not null && job.State is JobState.Queued or JobState.AwaitingEscrow or JobState.Running
            ? ProviderTrust.WaitingWarning(_options, ProviderTrust.SignedInProviders(_storage))
            : null;

    private static JobSummary Summary(JobRecord job, IReadOnlyList<TaskRecord> tasks) => new(
        job.Id,
        job.State,
        job.Spec.SceneFileName,
        job.Spec.Frames.ToString(),
        tasks.Count,
        tasks.Count(t => t.State == FarmTaskState.Succeeded),
        job.CreatedAt,
        job.FinishedAt,
        job.Error,
        Priority: job.Spec.Priority,
        Paused: job.Paused && job.State is JobState.Queued or JobState.AwaitingEscrow or JobState.Running);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} accepted: frames {Frames}, {TaskCount} tasks, priority {Priority}; {State}.")]
    private partial void LogSubmitted(Guid jobId, string frames, int taskCount, int priority, JobState state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: escrow of {Locked} confirmed; its tasks are being queued.")]
    private partial void LogEscrowConfirmed(Guid jobId, string locked);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} paused: {Paused}; {Moved} queued tasks taken out of or put back in their queues.")]
    private partial void LogPaused(Guid jobId, bool paused, int moved);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} requeued in place: {Requeued} failed or stopped tasks queued again.")]
    private partial void LogRequeuedInPlace(Guid jobId, int requeued);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cancelled.")]
    private partial void LogCancelled(Guid jobId);
}
