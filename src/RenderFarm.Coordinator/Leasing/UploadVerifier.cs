using System.Security.Cryptography;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Checks what a provider reports against what it uploaded: the report names each of the task's frames once, every
/// upload has the reported size and SHA-256, and its content is what the task asked for (see
/// <see cref="OutputAcceptance"/>). An accepted output is copied under a key only the coordinator writes.
/// </summary>
internal sealed class UploadVerifier(IObjectStore objects)
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly IObjectStore _objects = objects;

    /// <summary>The model outputs an inference job's uploads must hold, or null for a render job.</summary>
    public async Task<IReadOnlyList<Inference.TensorInfo>?> ModelOutputsAsync(JobRecord job, CancellationToken cancellationToken) => job.Spec.Inference is null
        ? null
        : await OutputAcceptance.GetModelOutputsAsync(_objects, job.Spec.SceneKey, job.Spec.SceneSha256, cancellationToken);

    public static IReadOnlyList<CompletedFrame> CheckReport(TaskRecord task, CompleteRequest request)
    {
        int expected = task.LastFrame - task.FirstFrame + 1;
        var seen = new HashSet<int>();
        foreach (CompletedFrame frame in request.Frames)
        {
            if (frame.Frame < task.FirstFrame || frame.Frame > task.LastFrame)
            {
                throw new CoordinatorException(400, $"Frame {frame.Frame} is not part of this task (frames {task.FirstFrame}-{task.LastFrame}).");
            }

            if (!seen.Add(frame.Frame))
            {
                throw new CoordinatorException(400, $"Frame {frame.Frame} is reported twice.");
            }

            if (!FarmKeys.IsSha256(frame.Sha256))
            {
                throw new CoordinatorException(400, $"Frame {frame.Frame}: sha256 must be 64 lowercase hex digits.");
            }

            if (frame.Size < 0 || !double.IsFinite(frame.RenderSeconds) || frame.RenderSeconds < 0)
            {
                throw new CoordinatorException(400, $"Frame {frame.Frame}: size and renderSeconds must not be negative.");
            }
        }

        if (seen.Count != expected)
        {
            int missing = Enumerable.Range(task.FirstFrame, expected).First(f => !seen.Contains(f));
            throw new CoordinatorException(400, $"Frame {missing} is missing from the report; a task's report lists every one of its frames.");
        }

        return request.Frames;
    }

    // Checks one uploaded output (size, SHA-256, then its content: a PNG of the job's size and depth, or the item file
    // of the model's outputs) while copying it to a temporary file, then stores that copy under a key only the coordinator writes.
    // A wrong content throws OutputRefusedException; a missing or mismatched upload a 422 the provider may retry.
    public async Task<FrameOutput> VerifyUploadAsync(
        JobRecord job, CompletedFrame frame, string leaseId, string extension, IReadOnlyList<Inference.TensorInfo>? modelOutputs, CancellationToken cancellationToken)
    {
        Guid jobId = job.Id;
        byte[] signature = extension switch
        {
            ".png" => PngSignature.ToArray(),
            ".exr" => Rendering.Imaging.FarmFrame.Signature.ToArray(),
            _ => Inference.IO.ItemFiles.Signature(extension),
        };
        string uploadKey = FarmKeys.Upload(jobId, frame.Frame, leaseId, extension);
        ObjectInfo? info = await _objects.StatAsync(uploadKey, cancellationToken);
        if (info is null)
        {
            throw new CoordinatorException(422, $"Frame {frame.Frame} was not uploaded: nothing is stored at its upload URL.");
        }

        if (info.Size != frame.Size)
        {
            throw new CoordinatorException(422, $"Frame {frame.Frame}: the upload holds {info.Size} bytes but the report says {frame.Size}.");
        }

        // An EXR frame's size is bounded by its job's frame (stored raw where ZIP does not shrink it), so nothing larger is read.
        long? most = extension == ".exr" ? Rendering.Imaging.FarmFrame.WorstCaseBytes(job.Spec.Settings.Size, job.Spec.Settings.ExrDepth) : null;
        if (extension == ".exr" && (most is null || info.Size > most))
        {
            throw new OutputRefusedException($"Frame {frame.Frame}: the EXR holds {info.Size} bytes; a {job.Spec.Settings.Size} frame takes at most {most}.");
        }

        string copy = Path.GetTempFileName();
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[81920];
            byte[] head = new byte[signature.Length];
            long total = 0;
            await using (Stream stream = await _objects.OpenReadAsync(uploadKey, cancellationToken))
            await using (FileStream file = File.Create(copy))
            {
                int read;
                while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    if (total < head.Length)
                    {
                        buffer.AsSpan(0, (int)Math.Min(read, head.Length - total)).CopyTo(head.AsSpan((int)total));
                    }

                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    total += read;
                }
            }

            string sha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (sha256 != frame.Sha256)
            {
                throw new CoordinatorException(422, $"Frame {frame.Frame}: the upload's SHA-256 is {sha256} but the report says {frame.Sha256}.");
            }

            if (total < head.Length || !head.AsSpan().SequenceEqual(signature))
            {
                throw new OutputRefusedException($"Frame {frame.Frame}: the upload is not a {extension switch { ".png" => "PNG", ".exr" => "OpenEXR", _ => extension }} file.");
            }

            byte[]? preview = null;
            string? wrong;
            if (modelOutputs is not null)
            {
                wrong = OutputAcceptance.CheckTensors(copy, modelOutputs);
            }
            else if (extension == ".exr")
            {
                (wrong, preview) = await OutputAcceptance.CheckExrAsync(copy, job.Spec.Settings, cancellationToken);
            }
            else
            {
                wrong = await OutputAcceptance.CheckPngAsync(copy, job.Spec.Settings.Size, job.Spec.Settings.SixteenBit, cancellationToken);
            }

            if (wrong is not null)
            {
                throw new OutputRefusedException($"Frame {frame.Frame}: {wrong}.");
            }

            string key = FarmKeys.Frame(jobId, frame.Frame, leaseId, extension);
            await using (FileStream file = File.OpenRead(copy))
            {
                await _objects.PutAsync(key, file, cancellationToken);
            }

            if (preview is not null)
            {
                using var content = new MemoryStream(preview, writable: false);
                await _objects.PutAsync(FarmKeys.Preview(key), content, cancellationToken);
            }

            // The upload stays until the report is accepted: a refused report must change nothing.
            return new FrameOutput(frame.Frame, key, sha256, total, frame.RenderSeconds);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>
    /// Deletes the provider's uploads of accepted outputs: the coordinator holds its own copies. Best effort: a stale
    /// upload under a lease key is only storage, and the acceptance must stand.
    /// </summary>
    /// <returns>The frames whose upload stayed, with why.</returns>
    public async Task<IReadOnlyList<(int Frame, string Reason)>> DeleteUploadsAsync(
        Guid jobId, string leaseId, string extension, IReadOnlyList<FrameOutput> outputs, CancellationToken cancellationToken)
    {
        var kept = new List<(int Frame, string Reason)>();
        foreach (FrameOutput output in outputs)
        {
            try
            {
                await _objects.DeleteAsync(FarmKeys.Upload(jobId, output.Frame, leaseId, extension), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                kept.Add((output.Frame, ex.Message));
            }
        }

        return kept;
    }
}
