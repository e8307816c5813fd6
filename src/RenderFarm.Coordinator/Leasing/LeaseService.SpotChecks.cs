using System.Globalization;
using System.Security.Cryptography;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator.Jobs;
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
internal sealed partial class LeaseService
{
    private static readonly PixelComparison s_comparison = new();
    private static readonly TensorComparison s_tensors = new();

    private WholeFrameSampling? _sampling;
    private WholeFrameComparison? _wholeFrameComparison;

    private WholeFrameSampling Sampling => _sampling ??= new WholeFrameSampling(
        _spotCheckSecret, _options.WholeFrameSampleRate, _options.NewProviderSampleRate, _options.SuspectProviderSampleRate, _options.NewProviderVerifiedFrames);

    private WholeFrameComparison WholeFrameCheck => _wholeFrameComparison ??= new WholeFrameComparison(
        s_comparison, _options.SpotCheckTileSize, _options.MaxWholeFramePHashDistance);

    private bool IsCheckLease(string leaseId) => _leaseIds.TryParse(leaseId, out _, out _, out int check) && check > 0;


    // Whether each delivered frame is re-rendered whole: the provider's first frame of the job (lowest frame of its first
    // delivery) always, the others by the keyed draw at the rate of the provider's standing.
    private async Task<IReadOnlyDictionary<int, WholeFrameSampleDecision>> DecideSamplesAsync(
        JobRecord job, string provider, IReadOnlyList<FrameOutput> outputs, CancellationToken cancellationToken)
    {
        var decisions = new Dictionary<int, WholeFrameSampleDecision>();
        if (!_options.WholeFrameSamples)
        {
            return decisions;
        }

        ProviderRecord? record = await _store.GetProviderAsync(provider, cancellationToken);
        bool first = !(await _store.GetTasksAsync(job.Id, cancellationToken)).Any(t => t.Checks.Any(c =>
            c.WholeFrame && !c.Canary && c.State != SpotCheckState.Cancelled && string.Equals(c.RenderedBy, provider, StringComparison.OrdinalIgnoreCase)));
        bool biased = await IsBiasedAsync(provider, cancellationToken);
        foreach (FrameOutput output in outputs.OrderBy(o => o.Frame))
        {
            decisions[output.Frame] = Sampling.Decide(job.Id, output.Frame, provider, record?.VerifiedFrames ?? 0, record?.TimesCaught ?? 0, first, biased);
            first = false;
        }

        return decisions;
    }

    private IReadOnlyList<SpotCheckRecord> PlanChecks(
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

    // Creates one Hangfire job per check, then records its id on the check (best effort: a lease identifies a check by
    // its arguments and records the id it fetched). Checks of unverified outputs go to validate, which only providers
    // that re-render tiles serve: a whole-output sample is granted like a task under an opaque lease id, but on the
    // work queues every renderer would judge, and a crowd of dishonest renderers outvoted an honest one 2 of 3 in the
    // cheat suite. Canaries, whose answer is already agreed, go to the work queue (see LeaseService.Canaries.cs).
    private async Task EnqueueChecksAsync(JobRecord job, int index, IReadOnlyList<SpotCheckRecord> checks, CancellationToken cancellationToken)
    {
        Guid jobId = job.Id;
        foreach (SpotCheckRecord check in checks)
        {
            int number = check.Number;
            string hangfireJobId = _client.Create(
                Job.FromExpression(() => SpotCheckJob.Validate(jobId, index, number)), new EnqueuedState(QueueOf(job, check)));
            for (int attempt = 0; attempt < 5; attempt++)
            {
                TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
                SpotCheckRecord? current = task?.Checks.FirstOrDefault(c => c.Number == number);
                if (task is null || current is null || current.HangfireJobId is not null
                    || await _store.TryUpdateTaskAsync(task with { Checks = Replace(task.Checks, current with { HangfireJobId = hangfireJobId }) }, cancellationToken))
                {
                    break;
                }
            }
        }
    }

    private async Task<(LeaseGrant? Grant, bool PutBack)> TryLeaseCheckAsync(
        IFetchedJob fetched, string provider, Guid jobId, int index, int number, CancellationToken cancellationToken)
    {
        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        SpotCheckRecord? check = task?.Checks.FirstOrDefault(c => c.Number == number);
        if (task is null || job is null || check is null || task.State != CheckedTaskState(check)
            || check.State != SpotCheckState.Queued || job.State != JobState.Running)
        {
            _client.Delete(fetched.JobId);
            fetched.RemoveFromQueue();
            return (null, false);
        }

        // Never the frame's own provider, never a provider that already checked this output, never a blocked one:
        // held back for someone else.
        if (!MayValidate(task, check, provider) || await IsBlockedAsync(jobId, provider, cancellationToken))
        {
            return (null, true);
        }

        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset expires = now + _options.LeaseDuration;
        string leaseId = _leaseIds.CreateCheck(jobId, index, number);
        if (!_client.ChangeState(fetched.JobId, new LeasedState(provider, leaseId, now, expires), EnqueuedState.StateName))
        {
            fetched.RemoveFromQueue();
            return (null, false);
        }

        while (true)
        {
            SpotCheckRecord leased = check with
            {
                State = SpotCheckState.Leased,
                Validator = provider,
                LeaseId = leaseId,
                LeaseExpiresAt = expires,
                HangfireJobId = fetched.JobId,
            };
            if (await _store.TryUpdateTaskAsync(task with { Checks = Replace(task.Checks, leased) }, cancellationToken))
            {
                break;
            }

            task = await _store.GetTaskAsync(jobId, index, cancellationToken);
            check = task?.Checks.FirstOrDefault(c => c.Number == number);
            if (task is null || check is null || task.State != CheckedTaskState(check) || check.State != SpotCheckState.Queued)
            {
                _client.ChangeState(fetched.JobId, new DeletedState(), LeasedState.StateName);
                fetched.RemoveFromQueue();
                return (null, false);
            }
        }

        fetched.RemoveFromQueue();
        LogCheckLeased(jobId, index, number, check.Frame, provider);
        TimeSpan lifetime = _options.PresignedUrlLifetime;
        if (check.WholeFrame)
        {
            // Granted like a one-frame render task: render the frame, upload it, report it. A whole frame may be far
            // larger than a request body, so it travels through a presigned PUT to a key of this lease alone.
            return (Grant(job, task.Index, check.Frame, check.Frame, leaseId, expires), false);
        }

        var grant = new LeaseGrant(
            leaseId,
            job.Id,
            task.Index,
            check.Frame,
            check.Frame,
            job.Spec.Settings,
            job.Spec.SceneFileName,
            new ObjectLink(_objects.PresignGet(job.Spec.SceneKey, lifetime), job.Spec.SceneSha256),
            [],
            expires,
            (int)Math.Ceiling(_options.HeartbeatInterval.TotalSeconds),
            new ValidationWork(check.Frame, check.Tiles));
        return (grant, false);
    }

    // A check runs while its task is verified; a canary after, on a verified task.
    private static FarmTaskState CheckedTaskState(SpotCheckRecord check) => check.Canary ? FarmTaskState.Succeeded : FarmTaskState.Verifying;

    // Within one kind of check (tiles or whole frame) every execution of an output is by another provider.
    private static bool MayValidate(TaskRecord task, SpotCheckRecord check, string provider) => check.Canary
        ? MayTakeCanary(task, check, provider)
        : !string.Equals(check.RenderedBy, provider, StringComparison.OrdinalIgnoreCase)
        && !task.Checks.Any(c => c.Number != check.Number && c.Frame == check.Frame && c.OutputSha256 == check.OutputSha256
            && c.WholeFrame == check.WholeFrame && c.State is SpotCheckState.Passed or SpotCheckState.Failed
            && string.Equals(c.Validator, provider, StringComparison.OrdinalIgnoreCase));

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

        if (check.State != SpotCheckState.Leased || task.State != CheckedTaskState(check))
        {
            throw new CoordinatorException(409, $"Lease {leaseId} has ended: the spot check is {check.State}.");
        }

        return (task, job, check);
    }

    private async Task<HeartbeatResponse> HeartbeatCheckAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        while (true)
        {
            (TaskRecord task, _, SpotCheckRecord check) = await GetCheckLeaseAsync(provider, leaseId, cancellationToken);
            DateTimeOffset expires = _time.GetUtcNow() + _options.LeaseDuration;
            if (await _store.TryUpdateTaskAsync(task with { Checks = Replace(task.Checks, check with { LeaseExpiresAt = expires }) }, cancellationToken))
            {
                TouchProvider(provider);
                return new HeartbeatResponse(expires);
            }
        }
    }

    private async Task ReleaseCheckAsync(string provider, string leaseId, string reason, CancellationToken cancellationToken)
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

    private async Task<bool> RequeueCheckAsync(JobRecord job, TaskRecord task, SpotCheckRecord check, string reason, CancellationToken cancellationToken)
    {
        SpotCheckRecord queued = check with { State = SpotCheckState.Queued, LeaseId = null, LeaseExpiresAt = null, Verdict = reason };
        if (!await _store.TryUpdateTaskAsync(task with { Checks = Replace(task.Checks, queued) }, cancellationToken))
        {
            return false;
        }

        await DeleteCheckUploadAsync(task, check, cancellationToken);
        if (check.HangfireJobId is not null)
        {
            _client.ChangeState(check.HangfireJobId, new EnqueuedState(QueueOf(job, check)) { Reason = reason }, LeasedState.StateName);
        }

        return true;
    }

    // Whatever an ended whole-output lease uploaded is of no use now.
    private async Task DeleteCheckUploadAsync(TaskRecord task, SpotCheckRecord check, CancellationToken cancellationToken)
    {
        if (check.WholeFrame && check.LeaseId is not null)
        {
            foreach (string extension in (string[])[".png", ".npy"])
            {
                await _objects.DeleteAsync(FarmKeys.Upload(task.JobId, check.Frame, check.LeaseId, extension), cancellationToken);
            }
        }
    }

    private async Task<int> ExpireLapsedChecksAsync(JobRecord job, TaskRecord task, CancellationToken cancellationToken)
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
    private async Task CompleteCheckAsync(string provider, string leaseId, CompleteRequest request, CancellationToken cancellationToken)
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

        int stripWidth = check.Tiles.Sum(t => t.Width), stripHeight = check.Tiles.Max(t => t.Height);
        if (OutputAcceptance.CheckPngHeader(stripBytes, stripWidth, stripHeight) is { } wrongStrip)
        {
            throw new CoordinatorException(422, $"tilesPng: {wrongStrip}.");
        }

        using Image strip = LoadImage(stripBytes)
            ?? throw new CoordinatorException(422, "tilesPng is not a PNG image.");
        if (strip.Width != stripWidth || strip.Height != stripHeight)
        {
            throw new CoordinatorException(422, $"tilesPng is {strip.Width}x{strip.Height}; the tiles need {stripWidth}x{stripHeight}.");
        }

        string tilesKey = FarmKeys.CheckTiles(job.Id, task.Index, check.Number);
        using (var content = new MemoryStream(stripBytes, writable: false))
        {
            await _objects.PutAsync(tilesKey, content, cancellationToken);
        }

        Verdict verdict = await JudgeAsync(job, task, check, strip, cancellationToken);
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

        byte[] bytes = await ReadObjectAsync(uploadKey, cancellationToken)
            ?? throw new CoordinatorException(422, $"Frame {reported.Frame} was not uploaded: nothing is stored at its upload URL.");
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (sha256 != reported.Sha256)
        {
            throw new CoordinatorException(422, $"Frame {reported.Frame}: the upload's SHA-256 is {sha256} but the report says {reported.Sha256}.");
        }

        if (job.Spec.Inference is not null)
        {
            string outputKey = FarmKeys.CheckTiles(job.Id, task.Index, check.Number, ".npy");
            using (var copy = new MemoryStream(bytes, writable: false))
            {
                await _objects.PutAsync(outputKey, copy, cancellationToken);
            }

            await _objects.DeleteAsync(uploadKey, cancellationToken);
            Verdict itemVerdict = await JudgeItemAsync(task, check, bytes, cancellationToken);
            await ApplyVerdictAsync(provider, leaseId, task, job, check, outputKey, itemVerdict, cancellationToken);
            return;
        }

        int width = job.Spec.Settings.Size.Width, height = job.Spec.Settings.Size.Height;
        if (OutputAcceptance.CheckPngHeader(bytes, width, height) is { } wrongFrame)
        {
            throw new CoordinatorException(422, $"Frame {reported.Frame}: {wrongFrame}.");
        }

        using Image rendered = LoadImage(bytes)
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
        Verdict verdict = await JudgeAsync(job, task, check, rendered, cancellationToken);
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

    private sealed record Verdict(
        bool Pass,
        int TilesCompared,
        int TilesFailed,
        double? MinPsnr,
        double MaxDifference,
        double MaxShare,
        int? PHashDistance,
        bool? AgreesWithArbitrated,
        bool OutputUnusable,
        string Text,
        double? BiasZ = null);

    // For a tile check `rendered` is the validator's strip of tiles; for a whole-frame check the validator's frame.
    private async Task<Verdict> JudgeAsync(JobRecord job, TaskRecord task, SpotCheckRecord check, Image rendered, CancellationToken cancellationToken)
    {
        string? deliveredKey = task.Outputs.FirstOrDefault(output => output.Frame == check.Frame)?.Key;
        byte[]? delivered = deliveredKey is null ? null : await ReadObjectAsync(deliveredKey, cancellationToken);
        if (delivered is null || Convert.ToHexStringLower(SHA256.HashData(delivered)) != check.OutputSha256)
        {
            // The checked output was replaced in the meantime (its task was redone): nothing to judge.
            return new Verdict(false, 0, 0, null, 0, 0, null, null, false, "stale: the checked output is no longer stored");
        }

        using Image? frame = LoadImage(delivered);
        if (frame is null || frame.Width != job.Spec.Settings.Size.Width || frame.Height != job.Spec.Settings.Size.Height)
        {
            return new Verdict(false, check.Tiles.Count, check.Tiles.Count, null, 1, 1, null, null, true, "the delivered PNG cannot be decoded at the job's frame size");
        }

        int compared, failed;
        double? minPsnr;
        double maxDiff, maxShare, biasZ;
        int? distance = null;
        string kind = "tiles";
        if (check.WholeFrame)
        {
            WholeFrameDifference whole = WholeFrameCheck.Compare(rendered, frame);
            (compared, failed, maxDiff, maxShare, distance, kind) = (whole.Blocks, whole.Pixels.Pass ? 0 : Math.Max(1, whole.BlocksFailed), whole.MaxAbsoluteDifference, whole.MaxShareBeyondTolerance, whole.PHashDistance, "blocks");
            biasZ = whole.Pixels.EvidenceZ;
            minPsnr = double.IsFinite(whole.MinPsnr) ? whole.MinPsnr : null;
        }
        else
        {
            compared = check.Tiles.Count;
            (failed, minPsnr, maxDiff, maxShare, biasZ) = JudgeTiles(rendered, frame, check.Tiles, offsetTiles: true);
        }

        bool pass = failed == 0 && (distance ?? 0) <= _options.MaxWholeFramePHashDistance;
        bool? agrees = null;
        string text = string.Create(
            CultureInfo.InvariantCulture,
            $"{(pass ? "pass" : "fail")}: {failed} of {compared} {kind} differ; min PSNR {(minPsnr is { } p ? p.ToString("0.0", CultureInfo.InvariantCulture) + " dB" : "inf")}, max diff {maxDiff:0.0000}, max share beyond tolerance {maxShare:P1}, bias z beyond {s_decision.MinBiasEffect:G2} {biasZ:0.0}");
        if (distance is { } d)
        {
            text += string.Create(CultureInfo.InvariantCulture, $", pHash distance {d} (at most {_options.MaxWholeFramePHashDistance})");
        }

        if (check.Arbitrates is { } arbitrated
            && task.Checks.FirstOrDefault(c => c.Number == arbitrated)?.TilesKey is { } firstKey
            && await ReadObjectAsync(firstKey, cancellationToken) is { } firstBytes
            && LoadImage(firstBytes) is { } first)
        {
            using (first)
            {
                bool sameSize = first.Width == rendered.Width && first.Height == rendered.Height;
                agrees = sameSize && (check.WholeFrame
                    ? WholeFrameCheck.Compare(rendered, first).IsMatch
                    : JudgeTiles(rendered, first, check.Tiles, offsetTiles: false).Failed == 0);
                text += agrees.Value ? $"; agrees with check {arbitrated}" : $"; disagrees with check {arbitrated}";
            }
        }

        return new Verdict(pass, compared, failed, minPsnr, maxDiff, maxShare, distance, agrees, false, text, biasZ);
    }

    // An inference item: the validator's output tensor against the delivered one, and for a third execution against the
    // first validator's.
    private async Task<Verdict> JudgeItemAsync(TaskRecord task, SpotCheckRecord check, byte[] executed, CancellationToken cancellationToken)
    {
        string? deliveredKey = task.Outputs.FirstOrDefault(output => output.Frame == check.Frame)?.Key;
        byte[]? delivered = deliveredKey is null ? null : await ReadObjectAsync(deliveredKey, cancellationToken);
        if (delivered is null || Convert.ToHexStringLower(SHA256.HashData(delivered)) != check.OutputSha256)
        {
            return new Verdict(false, 0, 0, null, 0, 0, null, null, false, "stale: the checked output is no longer stored");
        }

        Inference.Tensor? mine = ParseTensor(executed);
        Inference.Tensor? theirs = ParseTensor(delivered);
        if (mine is null)
        {
            throw new CoordinatorException(422, $"Item {check.Frame}: the upload is not a float .npy tensor.");
        }

        if (theirs is null)
        {
            return new Verdict(false, 1, 1, null, 1, 1, null, null, true, "the delivered output is not a readable .npy tensor");
        }

        TensorDifference difference = s_tensors.Compare(theirs.Shape, theirs.Data, mine.Shape, mine.Data);
        string text = string.Create(
            CultureInfo.InvariantCulture,
            $"{(difference.IsMatch ? "pass" : "fail")}: {(difference.SameShape ? $"max |diff| {difference.MaxAbsoluteDifference:G3}, {difference.ShareBeyondTolerance:P1} of elements beyond tolerance" : $"shape [{string.Join(", ", theirs.Shape)}] delivered, [{string.Join(", ", mine.Shape)}] re-executed")}");
        bool? agrees = null;
        if (check.Arbitrates is { } arbitrated
            && task.Checks.FirstOrDefault(c => c.Number == arbitrated)?.TilesKey is { } firstKey
            && await ReadObjectAsync(firstKey, cancellationToken) is { } firstBytes
            && ParseTensor(firstBytes) is { } first)
        {
            agrees = s_tensors.Compare(mine.Shape, mine.Data, first.Shape, first.Data).IsMatch;
            text += agrees.Value ? $"; agrees with check {arbitrated}" : $"; disagrees with check {arbitrated}";
        }

        return new Verdict(difference.IsMatch, 1, difference.IsMatch ? 0 : 1, null, difference.MaxAbsoluteDifference, difference.ShareBeyondTolerance, null, agrees, false, text);
    }

    private static Inference.Tensor? ParseTensor(byte[] bytes)
    {
        try
        {
            return Inference.IO.NpyFile.Parse(bytes, "an inference output");
        }
        catch (Core.UserInputException)
        {
            return null;
        }
    }

    /// <returns>False when another update came first.</returns>
    private async Task<bool> ApplyVerdictAsync(
        JobRecord job, TaskRecord task, SpotCheckRecord check, string validator, string tilesKey, Verdict verdict, CancellationToken cancellationToken)
    {
        if (check.Canary)
        {
            return await ApplyCanaryVerdictAsync(job, task, check, validator, tilesKey, verdict, cancellationToken);
        }

        DateTimeOffset now = _time.GetUtcNow();
        bool stale = task.Outputs.FirstOrDefault(o => o.Frame == check.Frame)?.Sha256 != check.OutputSha256;
        SpotCheckRecord done = Finished(check, verdict, tilesKey, stale, now);
        IReadOnlyList<SpotCheckRecord> checks = Replace(task.Checks, done);
        string? cheat = null, wrongValidator = null;
        SpotCheckRecord? next = null;
        if (!stale && !verdict.Pass)
        {
            int sameOutput = checks.Count(c => c.Frame == check.Frame && c.OutputSha256 == check.OutputSha256 && c.WholeFrame == check.WholeFrame && !c.Canary);
            if (verdict.OutputUnusable || verdict.AgreesWithArbitrated == true)
            {
                // Two executions against one (or an output the coordinator itself cannot read): the provider is wrong.
                cheat = check.RenderedBy;
            }
            else if (sameOutput < _options.MaxChecksPerFrame)
            {
                // A first disagreement, or a third execution that agrees with nobody: one more execution decides.
                next = check with
                {
                    Number = checks.Max(c => c.Number) + 1,
                    Arbitrates = check.Arbitrates ?? check.Number,
                    State = SpotCheckState.Queued,
                    HangfireJobId = null,
                    Validator = null,
                    LeaseId = null,
                    LeaseExpiresAt = null,
                    TilesKey = null,
                    TilesCompared = 0,
                    TilesFailed = 0,
                    MinPsnr = null,
                    MaxDifference = 0,
                    MaxShareBeyondTolerance = 0,
                    PHashDistance = null,
                    AgreesWithArbitrated = null,
                    Verdict = null,
                    FinishedAt = null,
                };
                checks = [.. checks, next];
            }
        }
        else if (!stale && verdict.AgreesWithArbitrated == false && check.Arbitrates is { } arbitrated)
        {
            // The third execution sides with the provider: the first validator was wrong.
            wrongValidator = task.Checks.FirstOrDefault(c => c.Number == arbitrated)?.Validator;
        }

        bool undecided = !stale && !verdict.Pass && cheat is null && next is null;
        TaskRecord updated = task with
        {
            Checks = checks,
            RejectedBy = wrongValidator is null || task.RejectedBy.Contains(wrongValidator, StringComparer.OrdinalIgnoreCase)
                ? task.RejectedBy
                : [.. task.RejectedBy, wrongValidator],
        };
        bool verified = !stale && cheat is null && !undecided && IsVerified(job, updated);
        IReadOnlyList<SpotCheckRecord> canaries = [];
        if (verified)
        {
            updated = updated with { State = FarmTaskState.Succeeded, FinishedAt = now };
            canaries = await PlanCanariesAsync(job, updated, cancellationToken);
            updated = updated with { Checks = [.. updated.Checks, .. canaries] };
        }

        if (!await _store.TryUpdateTaskAsync(updated, cancellationToken))
        {
            return false;
        }

        if (check.HangfireJobId is not null)
        {
            _client.ChangeState(check.HangfireJobId, new SucceededState(null, 0, 0), LeasedState.StateName);
        }

        LogCheckDone(job.Id, task.Index, check.Number, check.Frame, check.RenderedBy, validator, done.State, verdict.Text);
        if (verified)
        {
            await _store.AddProviderCountsAsync(updated.Provider!, updated.Outputs.Count, 0, cancellationToken);
        }

        foreach (string caught in new[] { cheat, wrongValidator }.OfType<string>())
        {
            // Proven wrong by 2 of 3: sampled at the suspect rate from now on.
            await _store.AddProviderCountsAsync(caught, 0, 1, cancellationToken);
        }

        if (next is not null || canaries.Count > 0)
        {
            await EnqueueChecksAsync(job, task.Index, [.. canaries, .. next is null ? [] : new[] { next }], cancellationToken);
        }

        if (cheat is not null)
        {
            string name = check.WholeFrame ? "Whole-frame check" : "Spot check";
            await RejectProviderAsync(job, cheat, $"{name} {check.Number} of frame {check.Frame} proved the output of {cheat} wrong: {verdict.Text}", cancellationToken);
        }
        else if (undecided)
        {
            await RedoWithoutBlameAsync(job, task.Index, check.RenderedBy, cancellationToken);
        }

        if (verified)
        {
            await TryCompleteJobAsync(job.Id, cancellationToken);
        }

        return true;
    }

    // The check's record once judged (cancelled when the output it checked is gone).
    private static SpotCheckRecord Finished(SpotCheckRecord check, Verdict verdict, string tilesKey, bool stale, DateTimeOffset now) => check with
    {
        State = stale ? SpotCheckState.Cancelled : verdict.Pass ? SpotCheckState.Passed : SpotCheckState.Failed,
        LeaseExpiresAt = null,
        TilesKey = tilesKey,
        TilesCompared = verdict.TilesCompared,
        TilesFailed = verdict.TilesFailed,
        MinPsnr = verdict.MinPsnr,
        MaxDifference = verdict.MaxDifference,
        MaxShareBeyondTolerance = verdict.MaxShare,
        PHashDistance = verdict.PHashDistance,
        AgreesWithArbitrated = verdict.AgreesWithArbitrated,
        Verdict = verdict.Text,
        FinishedAt = now,
    };

    // Every output has a passed tile check of exactly that output by that provider (a first check, or the execution that
    // settled a disagreement), and a passed whole-frame check too when one was planned for it.
    // An inference task is verified when its re-executed items (at least one) all passed. Canaries play no part.
    private static bool IsVerified(JobRecord job, TaskRecord task)
    {
        if (job.Spec.Inference is null)
        {
            return IsVerified(task);
        }

        SpotCheckRecord[] mine = [.. task.Checks.Where(c => !c.Canary && string.Equals(c.RenderedBy, task.Provider, StringComparison.OrdinalIgnoreCase)
            && task.Outputs.Any(o => o.Frame == c.Frame && o.Sha256 == c.OutputSha256) && c.State != SpotCheckState.Cancelled)];
        return task.Outputs.Count > 0 && mine.Any(c => c.State == SpotCheckState.Passed)
            && mine.Where(c => c.Arbitrates is null).All(c => c.State == SpotCheckState.Passed || mine.Any(a => a.Arbitrates == c.Number && a.State == SpotCheckState.Passed));
    }

    private static bool IsVerified(TaskRecord task) =>
        task.Outputs.Count > 0 && task.Outputs.All(o =>
        {
            SpotCheckRecord[] checks = [.. task.Checks.Where(c => !c.Canary && c.Frame == o.Frame && c.OutputSha256 == o.Sha256
                && string.Equals(c.RenderedBy, task.Provider, StringComparison.OrdinalIgnoreCase))];
            return checks.Any(c => !c.WholeFrame && c.State == SpotCheckState.Passed)
                && (!checks.Any(c => c.WholeFrame && c.State != SpotCheckState.Cancelled) || checks.Any(c => c.WholeFrame && c.State == SpotCheckState.Passed));
        });

    /// <summary>A provider proven wrong: every task of the job it rendered goes back to the queue and it gets no more work of the job.</summary>
    private async Task RejectProviderAsync(JobRecord job, string cheat, string reason, CancellationToken cancellationToken)
    {
        LogCheatCaught(job.Id, cheat, reason);
        foreach (TaskRecord listed in await _store.GetTasksAsync(job.Id, cancellationToken))
        {
            for (TaskRecord? task = listed; task is not null; task = await _store.GetTaskAsync(job.Id, listed.Index, cancellationToken))
            {
                bool theirs = string.Equals(task.Provider, cheat, StringComparison.OrdinalIgnoreCase)
                    && task.State is FarmTaskState.Verifying or FarmTaskState.Succeeded or FarmTaskState.Leased;
                if (!theirs)
                {
                    break;
                }

                TaskRecord redo = task with
                {
                    State = FarmTaskState.Queued,
                    Outputs = [],
                    Provider = null,
                    LeaseId = null,
                    LeaseExpiresAt = null,
                    FinishedAt = null,
                    Checks = CancelOpenChecks(task.Checks, _time.GetUtcNow(), "The checked output was rejected."),
                    RejectedBy = task.RejectedBy.Contains(cheat, StringComparer.OrdinalIgnoreCase) ? task.RejectedBy : [.. task.RejectedBy, cheat],
                    Error = reason,
                };
                if (await _store.TryUpdateTaskAsync(redo, cancellationToken))
                {
                    DeleteOpenCheckJobs(task.Checks);
                    var enqueued = new EnqueuedState(FarmQueues.For(job.Spec)) { Reason = reason };
                    _client.ChangeState(task.HangfireJobId!, enqueued);
                    break;
                }
            }
        }
    }

    // Checks kept disagreeing with each other: the output is redone elsewhere, counted as a failure of its provider.
    private async Task RedoWithoutBlameAsync(JobRecord job, int index, string provider, CancellationToken cancellationToken)
    {
        for (TaskRecord? task = await _store.GetTaskAsync(job.Id, index, cancellationToken); task is { State: FarmTaskState.Verifying }; task = await _store.GetTaskAsync(job.Id, index, cancellationToken))
        {
            TaskRecord redo = task with
            {
                State = FarmTaskState.Queued,
                Outputs = [],
                Provider = null,
                Checks = CancelOpenChecks(task.Checks, _time.GetUtcNow(), "Checks disagreed; the output is redone."),
                FailedBy = task.FailedBy.Contains(provider, StringComparer.OrdinalIgnoreCase) ? task.FailedBy : [.. task.FailedBy, provider],
                Error = $"Spot checks of the output of {provider} disagreed {_options.MaxChecksPerFrame} times; redone.",
            };
            if (await _store.TryUpdateTaskAsync(redo, cancellationToken))
            {
                DeleteOpenCheckJobs(task.Checks);
                _client.ChangeState(task.HangfireJobId!, new EnqueuedState(FarmQueues.For(job.Spec)));
                return;
            }
        }
    }

    private static IReadOnlyList<SpotCheckRecord> CancelOpenChecks(IReadOnlyList<SpotCheckRecord> checks, DateTimeOffset now, string reason) =>
        [.. checks.Select(c => c.State is SpotCheckState.Queued or SpotCheckState.Leased
            ? c with { State = SpotCheckState.Cancelled, LeaseId = null, LeaseExpiresAt = null, FinishedAt = now, Verdict = reason }
            : c)];

    private void DeleteOpenCheckJobs(IReadOnlyList<SpotCheckRecord> checks)
    {
        foreach (SpotCheckRecord check in checks)
        {
            if (check.State is SpotCheckState.Queued or SpotCheckState.Leased && check.HangfireJobId is not null)
            {
                _client.Delete(check.HangfireJobId);
            }
        }
    }

    private static IReadOnlyList<SpotCheckRecord> Replace(IReadOnlyList<SpotCheckRecord> checks, SpotCheckRecord check) =>
        [.. checks.Select(c => c.Number == check.Number ? check : c)];

    private static Image? LoadImage(byte[] bytes)
    {
        try
        {
            return Image.Load(bytes);
        }
        catch (Exception ex) when (ex is ImageFormatException or UnknownImageFormatException or InvalidImageContentException or NotSupportedException)
        {
            return null;
        }
    }

    private async Task<byte[]?> ReadObjectAsync(string key, CancellationToken cancellationToken)
    {
        if (await _objects.StatAsync(key, cancellationToken) is null)
        {
            return null;
        }

        await using Stream stream = await _objects.OpenReadAsync(key, cancellationToken);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Spot check {Check} of task {TaskIndex} of job {JobId} (frame {Frame}) leased to {Provider}.")]
    private partial void LogCheckLeased(Guid jobId, int taskIndex, int check, int frame, string provider);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spot check {Check} of task {TaskIndex} of job {JobId} (frame {Frame} by {RenderedBy}, validated by {Validator}): {State}, {Verdict}.")]
    private partial void LogCheckDone(Guid jobId, int taskIndex, int check, int frame, string renderedBy, string validator, SpotCheckState state, string verdict);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: provider {Provider} caught: {Reason}")]
    private partial void LogCheatCaught(Guid jobId, string provider, string reason);
}
