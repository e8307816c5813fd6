using System.Security.Cryptography;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Verification;
using SixLabors.ImageSharp;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>Completing a check: a validator's tiles, whole frame or item are judged against the delivered output and the verdict is applied (arbitration, verification, sanctions).</summary>
internal sealed partial class SpotChecks
{
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

        bool stale = task.Outputs.FirstOrDefault(o => o.Frame == check.Frame)?.Sha256 != check.OutputSha256;
        await RecordBiasEvidenceAsync(check, verdict.BiasZ, stale, cancellationToken);
        await RecordSampleEvidenceAsync(job, check, verdict.SampleZ, stale, cancellationToken);
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
}
