using System.Security.Cryptography;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Verification;
using SixLabors.ImageSharp;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Spot checks (queue <c>validate</c>): every delivered frame gets a check whose tiles come from a
/// <see cref="SpotCheckPlan"/> keyed by the coordinator's secret. Another provider re-renders them; the coordinator
/// compares them with the same tiles of the delivered PNG. A failed check is settled by a third execution on yet
/// another provider (2 of 3): when it sides with the first validator the frame's provider is proven wrong, its tasks in
/// the job go back to the queue and it is blocked from the job; when it sides with the provider, the first validator is.
/// </summary>
/// <remarks>
/// Whole-frame samples are checks of the same kind: <see cref="WholeFrameSampling"/> picks them (each provider's first
/// frame of a job, others at a rate that rises for new and caught providers), another provider re-renders and uploads
/// the whole frame as for a render task, and the coordinator compares every block and the pHash
/// (<see cref="WholeFrameComparison"/>). Arbitration, blocking, redo and slashing are the same. A provider's verified
/// frames and catches are counted in its <see cref="ProviderRecord"/>.
/// </remarks>
internal sealed partial class SpotChecks
{
    private readonly IFarmStore _store;
    private readonly IObjectStore _objects;
    private readonly TaskTransitions _transitions;
    private readonly ProviderSanctions _sanctions;
    private readonly Canaries _canaries;
    private readonly SpotCheckJudge _judge;
    private readonly LeaseGrants _grants;
    private readonly ProviderPresence _presence;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly LeaseId _leaseIds;
    private readonly byte[] _spotCheckSecret;
    private readonly WholeFrameSampling _sampling;
    private readonly ILogger _logger;

    public SpotChecks(
        IFarmStore store,
        IObjectStore objects,
        TaskTransitions transitions,
        ProviderSanctions sanctions,
        Canaries canaries,
        SpotCheckJudge judge,
        LeaseGrants grants,
        ProviderPresence presence,
        TimeProvider time,
        CoordinatorOptions options,
        byte[] spotCheckSecret,
        ILogger logger)
    {
        _store = store;
        _objects = objects;
        _transitions = transitions;
        _sanctions = sanctions;
        _canaries = canaries;
        _judge = judge;
        _grants = grants;
        _presence = presence;
        _time = time;
        _options = options;
        _spotCheckSecret = spotCheckSecret;
        _leaseIds = new LeaseId(spotCheckSecret);
        _sampling = new WholeFrameSampling(
            spotCheckSecret, options.WholeFrameSampleRate, options.NewProviderSampleRate, options.SuspectProviderSampleRate, options.NewProviderVerifiedFrames);
        _logger = logger;
    }

    /// <summary>Whether <paramref name="leaseId"/> names a check rather than a task.</summary>
    public bool IsCheckLease(string leaseId) => _leaseIds.TryParse(leaseId, out _, out _, out int check) && check > 0;

    // Whether each delivered frame is re-rendered whole: the provider's first frame of the job (lowest frame of its first
    // delivery) always, the others by the keyed draw at the rate of the provider's standing.
    public async Task<IReadOnlyDictionary<int, WholeFrameSampleDecision>> DecideSamplesAsync(
        JobRecord job, string provider, IReadOnlyList<FrameOutput> outputs, CancellationToken cancellationToken)
    {
        var decisions = new Dictionary<int, WholeFrameSampleDecision>();
        if (!_options.WholeFrameSamples)
        {
            return decisions;
        }

        ProviderRecord? record = await _store.GetProviderAsync(provider, cancellationToken);
        bool first = (await _store.GetProviderTallyAsync(job.Id, provider, cancellationToken)).Sampled == 0;
        bool biased = await IsBiasedAsync(provider, cancellationToken);
        foreach (FrameOutput output in outputs.OrderBy(o => o.Frame))
        {
            decisions[output.Frame] = _sampling.Decide(job.Id, output.Frame, provider, record?.VerifiedFrames ?? 0, record?.TimesCaught ?? 0, first, biased);
            first = false;
        }

        return decisions;
    }

    public IReadOnlyList<SpotCheckRecord> PlanChecks(
        JobRecord job, TaskRecord task, string provider, IReadOnlyList<FrameOutput> outputs, IReadOnlyDictionary<int, WholeFrameSampleDecision> samples)
    {
        if (job.Spec.Inference is not null)
        {
            return PlanItemChecks(job, task, provider, outputs, samples);
        }

        int width = job.Spec.Settings.Size.Width, height = job.Spec.Settings.Size.Height;
        int tileSize = Math.Min(_options.SpotCheckTileSize, Math.Min(width, height));
        // Frames too small for one tile within the cost share get one tile.
        double share = Math.Max(_options.SpotCheckMaxCostShare, (double)tileSize * tileSize / ((double)width * height));
        int number = task.Checks.Count == 0 ? 0 : task.Checks.Max(c => c.Number);
        var checks = new List<SpotCheckRecord>(outputs.Count);
        foreach (FrameOutput output in outputs)
        {
            SpotCheckPlan plan = SpotCheckPlan.Create(_spotCheckSecret, job.Id, output.Frame, width, height, tileSize, Math.Min(1, share));
            WholeFrameSampleDecision? sample = samples.GetValueOrDefault(output.Frame);

            // The whole-frame sample is planned (and queued) first: it judges every pixel, the tiles only a few.
            if (sample is { Sampled: true })
            {
                checks.Add(new SpotCheckRecord
                {
                    Number = ++number,
                    Frame = output.Frame,
                    RenderedBy = provider,
                    OutputSha256 = output.Sha256,
                    Tiles = [new PixelTile(0, 0, width, height)],
                    WholeFrame = true,
                    SampleRate = sample.Rate,
                    SampleReason = sample.Reason,
                });
            }

            checks.Add(new SpotCheckRecord
            {
                Number = ++number,
                Frame = output.Frame,
                RenderedBy = provider,
                OutputSha256 = output.Sha256,
                Tiles = [.. plan.Tiles.Select(t => new PixelTile(t.X, t.Y, t.Width, t.Height))],
                SampleRate = sample?.Rate,
                SampleReason = sample?.Reason,
            });
        }

        return checks;
    }

    // An inference task's checks: its sampled items are re-executed whole by another provider. A task none of whose items
    // was drawn still gets one, picked from the coordinator's secret, so every task's work is checked before it is paid.
    private List<SpotCheckRecord> PlanItemChecks(
        JobRecord job, TaskRecord task, string provider, IReadOnlyList<FrameOutput> outputs, IReadOnlyDictionary<int, WholeFrameSampleDecision> samples)
    {
        List<FrameOutput> sampled = [.. outputs.Where(o => samples.GetValueOrDefault(o.Frame) is { Sampled: true })];
        if (sampled.Count == 0 && outputs.Count > 0)
        {
            byte[] draw = HMACSHA256.HashData(_spotCheckSecret, System.Text.Encoding.UTF8.GetBytes($"item:{job.Id:N}:{task.Index}:{provider.ToLowerInvariant()}"));
            sampled.Add(outputs[(int)(BitConverter.ToUInt32(draw, 0) % (uint)outputs.Count)]);
        }

        int number = task.Checks.Count == 0 ? 0 : task.Checks.Max(c => c.Number);
        return [.. sampled.Select(output => new SpotCheckRecord
        {
            Number = ++number,
            Frame = output.Frame,
            RenderedBy = provider,
            OutputSha256 = output.Sha256,
            Tiles = [],
            WholeFrame = true,
            SampleRate = samples.GetValueOrDefault(output.Frame)?.Rate,
            SampleReason = samples.GetValueOrDefault(output.Frame) is { Sampled: true } decision ? decision.Reason : "the task's one re-executed item, drawn from the coordinator's secret",
        })];
    }


    // One Hangfire job per check. Checks of unverified outputs go to validate, which only providers that re-render
    // tiles serve: a whole-output sample is granted like a task under an opaque lease id, but on the work queues every
    // renderer would judge, and a crowd of dishonest renderers outvoted an honest one 2 of 3 in the cheat suite.
    // Canaries, whose answer is already agreed, go to the work queue (see Canaries).
    public Task EnqueueChecksAsync(JobRecord job, int index, IReadOnlyList<SpotCheckRecord> checks, CancellationToken cancellationToken) =>
        _transitions.CreateChecksAsync(job.Id, index, checks, check => Canaries.QueueOf(job, check), cancellationToken);

    /// <summary>Leases a fetched check to <paramref name="provider"/>, or says to hold it back for someone else.</summary>
    public async Task<(LeaseGrant? Grant, bool PutBack)> TryLeaseCheckAsync(
        IFetchedJob fetched, string provider, Guid jobId, int index, int number, CancellationToken cancellationToken)
    {
        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        SpotCheckRecord? check = task?.Checks.FirstOrDefault(c => c.Number == number);
        if (task is null || job is null || check is null || task.State != Arbitration.CheckedTaskState(check)
            || check.State != SpotCheckState.Queued || job.State != JobState.Running)
        {
            _transitions.DropStale(fetched, check?.HangfireJobId);
            return (null, false);
        }

        // Never the frame's own provider, never a provider that already checked this output, never a blocked one:
        // held back for someone else.
        if (!Arbitration.MayValidate(task, check, provider) || await _sanctions.IsBlockedAsync(jobId, provider, cancellationToken))
        {
            return (null, true);
        }

        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset expires = now + _options.LeaseDuration;
        string leaseId = _leaseIds.CreateCheck(jobId, index, number);
        if (await _transitions.LeaseCheckAsync(
            fetched, task, check, provider, leaseId, now, expires,
            (t, c) => t.State == Arbitration.CheckedTaskState(c) && c.State == SpotCheckState.Queued,
            cancellationToken) is not { } leased)
        {
            return (null, false);
        }

        (task, check) = leased;
        LogCheckLeased(jobId, index, number, check.Frame, provider);
        if (check.WholeFrame)
        {
            // Granted like a one-frame render task: render the frame, upload it, report it. A whole frame may be far
            // larger than a request body, so it travels through a presigned PUT to a key of this lease alone.
            return (_grants.Grant(job, task.Index, check.Frame, check.Frame, leaseId, expires), false);
        }

        return (_grants.Validation(job, task.Index, check, leaseId, expires), false);
    }


    private async Task<(TaskRecord Task, JobRecord Job, SpotCheckRecord Check)> GetCheckLeaseAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (!_leaseIds.TryParse(leaseId, out Guid jobId, out int index, out int number) || number == 0)
        {
            throw new CoordinatorException(404, $"'{leaseId}' is not a spot-check lease id this coordinator issued.");
        }

        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        SpotCheckRecord? check = task?.Checks.FirstOrDefault(c => c.Number == number);
        if (task is null || job is null || check is null)
        {
            throw new CoordinatorException(404, $"Lease {leaseId} names a spot check that does not exist.");
        }

        if (check.LeaseId != leaseId)
        {
            throw new CoordinatorException(409, $"Lease {leaseId} was lost: the spot check was put back or leased again.");
        }

        if (!string.Equals(check.Validator, provider, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(403, $"Lease {leaseId} belongs to another provider.");
        }

        if (check.State != SpotCheckState.Leased || task.State != Arbitration.CheckedTaskState(check))
        {
            throw new CoordinatorException(409, $"Lease {leaseId} has ended: the spot check is {check.State}.");
        }

        return (task, job, check);
    }

    public async Task<HeartbeatResponse> HeartbeatCheckAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        while (true)
        {
            (TaskRecord task, _, SpotCheckRecord check) = await GetCheckLeaseAsync(provider, leaseId, cancellationToken);
            DateTimeOffset expires = _time.GetUtcNow() + _options.LeaseDuration;
            if (await _transitions.ExtendCheckAsync(task, check, expires, cancellationToken))
            {
                _presence.Touch(provider);
                return new HeartbeatResponse(expires);
            }
        }
    }

    public async Task ReleaseCheckAsync(string provider, string leaseId, string reason, CancellationToken cancellationToken)
    {
        while (true)
        {
            (TaskRecord task, JobRecord job, SpotCheckRecord check) = await GetCheckLeaseAsync(provider, leaseId, cancellationToken);
            if (await RequeueCheckAsync(job, task, check, reason, cancellationToken))
            {
                return;
            }
        }
    }

    private Task<bool> RequeueCheckAsync(JobRecord job, TaskRecord task, SpotCheckRecord check, string reason, CancellationToken cancellationToken) =>
        _transitions.RequeueCheckAsync(task, check, Canaries.QueueOf(job, check), reason, cancellationToken);

    public async Task<int> ExpireLapsedChecksAsync(JobRecord job, TaskRecord task, CancellationToken cancellationToken)
    {
        int expired = 0;
        foreach (SpotCheckRecord check in task.Checks)
        {
            if (check.State == SpotCheckState.Leased && check.LeaseExpiresAt <= _time.GetUtcNow())
            {
                TaskRecord? current = await _store.GetTaskAsync(task.JobId, task.Index, cancellationToken);
                SpotCheckRecord? now = current?.Checks.FirstOrDefault(c => c.Number == check.Number);
                if (current is not null && now is not null && now.LeaseId == check.LeaseId && now.State == SpotCheckState.Leased
                    && await RequeueCheckAsync(job, current, now, $"Lease of {check.Validator} lapsed", cancellationToken))
                {
                    expired++;
                }
            }
        }

        return expired;
    }

    /// <summary>Takes a validator's tiles, compares them with the delivered frame and applies the verdict.</summary>
    public async Task CompleteCheckAsync(string provider, string leaseId, CompleteRequest request, CancellationToken cancellationToken)
    {
        (TaskRecord task, JobRecord job, SpotCheckRecord check) = await GetCheckLeaseAsync(provider, leaseId, cancellationToken);
        if (check.WholeFrame)
        {
            await CompleteWholeFrameAsync(provider, leaseId, request, task, job, check, cancellationToken);
            return;
        }

        if (request.Frames.Count != 0 || string.IsNullOrEmpty(request.TilesPng))
        {
            throw new CoordinatorException(400, "A spot check is completed with tilesPng (base64 PNG of the tiles) and no frames.");
        }

        byte[] stripBytes;
        try
        {
            stripBytes = Convert.FromBase64String(request.TilesPng);
        }
        catch (FormatException)
        {
            throw new CoordinatorException(400, "tilesPng is not base64.");
        }

        // The band of tiles followed by the validator's snapshots at earlier sample counts, whenever the job's sample
        // count has any: a strip without them would let a validator (colluding with the renderer) skip the sample-count
        // rule, so it is refused like any other malformed report.
        int bands = SpotCheckJudge.StripBands(job.Spec.Settings.SamplesPerPixel);
        int stripWidth = check.Tiles.Sum(t => t.Width), stripHeight = check.Tiles.Max(t => t.Height) * bands;
        string layout = bands > 1 ? $" (the tiles and {bands - 1} snapshot bands below them)" : "";
        if (OutputAcceptance.CheckPngHeader(stripBytes, stripWidth, stripHeight) is { } wrongStrip)
        {
            throw new CoordinatorException(422, $"tilesPng: {wrongStrip}{layout}.");
        }

        using Image strip = SpotCheckJudge.LoadImage(stripBytes)
            ?? throw new CoordinatorException(422, "tilesPng is not a PNG image.");
        if (strip.Width != stripWidth || strip.Height != stripHeight)
        {
            throw new CoordinatorException(422, $"tilesPng is {strip.Width}x{strip.Height}; the tiles need {stripWidth}x{stripHeight}{layout}.");
        }

        string tilesKey = FarmKeys.CheckTiles(job.Id, task.Index, check.Number);
        using (var content = new MemoryStream(stripBytes, writable: false))
        {
            await _objects.PutAsync(tilesKey, content, cancellationToken);
        }

        Verdict verdict = await _judge.JudgeAsync(job, task, check, strip, cancellationToken);
        await ApplyVerdictAsync(provider, leaseId, task, job, check, tilesKey, verdict, cancellationToken);
    }

    /// <summary>Takes a validator's whole-frame re-render from its upload, compares it with the delivered frame and applies the verdict.</summary>
    private async Task CompleteWholeFrameAsync(
        string provider, string leaseId, CompleteRequest request, TaskRecord task, JobRecord job, SpotCheckRecord check, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(request.TilesPng) || request.Frames is not [CompletedFrame reported] || reported.Frame != check.Frame)
        {
            throw new CoordinatorException(400, $"A whole-frame check is completed with frame {check.Frame} uploaded and reported, and no tilesPng.");
        }

        if (!FarmKeys.IsSha256(reported.Sha256) || reported.Size < 0)
        {
            throw new CoordinatorException(400, $"Frame {reported.Frame}: sha256 must be 64 lowercase hex digits and size must not be negative.");
        }

        string uploadKey = FarmKeys.Upload(job.Id, check.Frame, leaseId, FarmKeys.OutputExtension(job.Spec));
        ObjectInfo? info = await _objects.StatAsync(uploadKey, cancellationToken);
        if (info is null || info.Size != reported.Size)
        {
            throw new CoordinatorException(422, info is null
                ? $"Frame {reported.Frame} was not uploaded: nothing is stored at its upload URL."
                : $"Frame {reported.Frame}: the upload holds {info.Size} bytes but the report says {reported.Size}.");
        }

        byte[] bytes = await _objects.ReadAllBytesAsync(uploadKey, cancellationToken)
            ?? throw new CoordinatorException(422, $"Frame {reported.Frame} was not uploaded: nothing is stored at its upload URL.");
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (sha256 != reported.Sha256)
        {
            throw new CoordinatorException(422, $"Frame {reported.Frame}: the upload's SHA-256 is {sha256} but the report says {reported.Sha256}.");
        }

        if (job.Spec.Inference is not null)
        {
            string outputKey = FarmKeys.CheckTiles(job.Id, task.Index, check.Number, FarmKeys.OutputExtension(job.Spec));
            using (var copy = new MemoryStream(bytes, writable: false))
            {
                await _objects.PutAsync(outputKey, copy, cancellationToken);
            }

            await _objects.DeleteAsync(uploadKey, cancellationToken);
            Verdict itemVerdict = await _judge.JudgeItemAsync(job, task, check, bytes, cancellationToken);
            await ApplyVerdictAsync(provider, leaseId, task, job, check, outputKey, itemVerdict, cancellationToken);
            return;
        }

        int width = job.Spec.Settings.Size.Width, height = job.Spec.Settings.Size.Height;
        // An EXR job's re-render is judged, and kept, as the PNG its view transform makes (DeliveredFrames).
        bytes = DeliveredFrames.JudgedPng(bytes, job.Spec.Settings)
            ?? throw new CoordinatorException(422, $"Frame {reported.Frame}: the upload is not an OpenEXR frame of the job's size and channels.");
        if (OutputAcceptance.CheckPngHeader(bytes, width, height) is { } wrongFrame)
        {
            throw new CoordinatorException(422, $"Frame {reported.Frame}: {wrongFrame}.");
        }

        using Image rendered = SpotCheckJudge.LoadImage(bytes)
            ?? throw new CoordinatorException(422, $"Frame {reported.Frame}: the upload is not a PNG image.");
        if (rendered.Width != width || rendered.Height != height)
        {
            throw new CoordinatorException(422, $"Frame {reported.Frame} is {rendered.Width}x{rendered.Height}; the job's frames are {width}x{height}.");
        }

        // The coordinator's own copy, under a key no presigned URL names: with the check's tiles (here one tile, the
        // whole frame), not with the job's accepted frames.
        string renderKey = FarmKeys.CheckTiles(job.Id, task.Index, check.Number);
        using (var content = new MemoryStream(bytes, writable: false))
        {
            await _objects.PutAsync(renderKey, content, cancellationToken);
        }

        await _objects.DeleteAsync(uploadKey, cancellationToken);
        Verdict verdict = await _judge.JudgeAsync(job, task, check, rendered, cancellationToken);
        await ApplyVerdictAsync(provider, leaseId, task, job, check, renderKey, verdict, cancellationToken);
    }

    private async Task ApplyVerdictAsync(
        string provider, string leaseId, TaskRecord task, JobRecord job, SpotCheckRecord check, string renderKey, Verdict verdict, CancellationToken cancellationToken)
    {
        while (!await ApplyVerdictAsync(job, task, check, provider, renderKey, verdict, cancellationToken))
        {
            (task, job, check) = await GetCheckLeaseAsync(provider, leaseId, cancellationToken);
        }

        await RecordBiasEvidenceAsync(check, verdict.BiasZ, task.Outputs.FirstOrDefault(o => o.Frame == check.Frame)?.Sha256 != check.OutputSha256, cancellationToken);
    }


    /// <returns>False when another update came first.</returns>
    private async Task<bool> ApplyVerdictAsync(
        JobRecord job, TaskRecord task, SpotCheckRecord check, string validator, string tilesKey, Verdict verdict, CancellationToken cancellationToken)
    {
        if (check.Canary)
        {
            if (await _canaries.ApplyCanaryVerdictAsync(job, task, check, validator, tilesKey, verdict, cancellationToken) is not { } judged)
            {
                return false;
            }

            LogCheckDone(job.Id, task.Index, check.Number, check.Frame, check.RenderedBy, validator, judged.State, verdict.Text);
            return true;
        }

        ArbitrationOutcome outcome = Arbitration.Decide(job, task, check, verdict, tilesKey, _options.MaxChecksPerFrame, _time.GetUtcNow());
        TaskRecord updated = outcome.Task;
        IReadOnlyList<SpotCheckRecord> canaries = [];
        if (outcome.Verified)
        {
            canaries = await _canaries.PlanCanariesAsync(job, updated, cancellationToken);
            updated = updated with { Checks = [.. updated.Checks, .. canaries] };
        }

        if (!await _transitions.FinishCheckAsync(updated, check, cancellationToken))
        {
            return false;
        }

        LogCheckDone(job.Id, task.Index, check.Number, check.Frame, check.RenderedBy, validator, outcome.Done.State, verdict.Text);
        if (outcome.Verified)
        {
            await _store.AddProviderCountsAsync(updated.Provider!, updated.Outputs.Count, 0, cancellationToken);
        }

        foreach (string caught in new[] { outcome.Cheat, outcome.WrongValidator }.OfType<string>())
        {
            // Proven wrong by 2 of 3: sampled at the suspect rate from now on.
            await _sanctions.RecordCaughtAsync(caught, cancellationToken);
        }

        if (outcome.Next is not null || canaries.Count > 0)
        {
            await EnqueueChecksAsync(job, task.Index, [.. canaries, .. outcome.Next is null ? [] : new[] { outcome.Next }], cancellationToken);
        }

        if (outcome.Cheat is { } cheat)
        {
            string name = check.WholeFrame ? "Whole-frame check" : "Spot check";
            await _sanctions.RejectProviderAsync(job, cheat, $"{name} {check.Number} of frame {check.Frame} proved the output of {cheat} wrong: {verdict.Text}", cancellationToken);
        }
        else if (outcome.Undecided)
        {
            await _sanctions.RedoWithoutBlameAsync(job, task.Index, check.RenderedBy, cancellationToken);
        }

        if (outcome.Verified)
        {
            await _transitions.TryCompleteJobAsync(job.Id, cancellationToken);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Spot check {Check} of task {TaskIndex} of job {JobId} (frame {Frame}) leased to {Provider}.")]
    private partial void LogCheckLeased(Guid jobId, int taskIndex, int check, int frame, string provider);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spot check {Check} of task {TaskIndex} of job {JobId} (frame {Frame} by {RenderedBy}, validated by {Validator}): {State}, {Verdict}.")]
    private partial void LogCheckDone(Guid jobId, int taskIndex, int check, int frame, string renderedBy, string validator, SpotCheckState state, string verdict);

}
