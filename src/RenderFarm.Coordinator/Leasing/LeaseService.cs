using System.Security.Cryptography;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Leases frame tasks to providers through Hangfire's public storage API and keeps each task's
/// Hangfire state and farm record in step: fetch → <see cref="LeasedState"/> → Succeeded, Failed or
/// back to Enqueued. The farm record's optimistic version decides races between a provider's call,
/// an expiry and a cancellation.
/// </summary>
internal sealed partial class LeaseService
{
    private const int MaxReasonLength = 2000;

    // Work one lease request may look past (held back for other providers) before it waits for the next request.
    private const int MaxSkippedPerLease = 32;
    private static readonly TimeSpan s_minimumFetchWait = TimeSpan.FromMilliseconds(200);
    private const string ProviderServerPrefix = "provider:";
    private static readonly TimeSpan s_skippedTaskBackoff = TimeSpan.FromMilliseconds(500);
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    // "\x93NUMPY": the magic string of every .npy version.
    private static ReadOnlySpan<byte> NpySignature => [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59];

    private readonly JobStorage _storage;
    private readonly IBackgroundJobClient _client;
    private readonly IFarmStore _store;
    private readonly IObjectStore _objects;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly ILogger<LeaseService> _logger;
    private readonly byte[] _spotCheckSecret;
    private readonly LeaseId _leaseIds;
    private readonly ProviderStanding _standing;
    private readonly QueueFetcher _fetcher = new();

    public LeaseService(
        JobStorage storage,
        IBackgroundJobClient client,
        IFarmStore store,
        IObjectStore objects,
        TimeProvider time,
        IOptions<CoordinatorOptions> options,
        ProviderStanding standing,
        ILogger<LeaseService> logger)
    {
        _standing = standing;
        _storage = storage;
        _client = client;
        _store = store;
        _objects = objects;
        _time = time;
        _options = options.Value;
        _logger = logger;
        _spotCheckSecret = _options.SpotCheckSecret.Length > 0
            ? System.Text.Encoding.UTF8.GetBytes(_options.SpotCheckSecret)
            : Verification.SpotCheckPlan.CreateSecret();
        _leaseIds = new LeaseId(_spotCheckSecret);
    }

    /// <summary>Shows the provider on the dashboard's server list, or refreshes its heartbeat.</summary>
    public void TouchProvider(string provider)
    {
        using IStorageConnection connection = _storage.GetConnection();
        TouchProvider(connection, provider);
    }

    /// <summary>Waits up to the request's wait time for a task this provider may take and leases it.</summary>
    /// <returns>The grant, or null when nothing came within the wait.</returns>
    public async Task<LeaseGrant?> LeaseAsync(string provider, LeaseRequest request, CancellationToken cancellationToken)
    {
        if (request.WaitSeconds is < 0 or > 30)
        {
            throw new CoordinatorException(400, $"WaitSeconds must be between 0 and 30; got {request.WaitSeconds}.");
        }

        string[] queues = FarmQueues.Expand(request.Queues);
        long deadline = Environment.TickCount64 + (request.WaitSeconds * 1000L);
        using IStorageConnection connection = _storage.GetConnection();
        TouchProvider(connection, provider);

        // Work this provider may not take (its own output to check, a canary of a frame it worked on, a job it is
        // blocked from) is held while the request looks further down the queues, and put back at the end, so that
        // one such item at the head of a queue never hides everything behind it.
        var skipped = new List<IFetchedJob>();
        try
        {
            while (skipped.Count < MaxSkippedPerLease)
            {
                TimeSpan wait = TimeSpan.FromMilliseconds(Math.Max(deadline - Environment.TickCount64, 0));
                IFetchedJob? fetched = await FetchAsync(connection, queues, skipped.Count > 0 || wait < s_minimumFetchWait ? s_minimumFetchWait : wait, cancellationToken);
                if (fetched is null)
                {
                    break;
                }

                LeaseGrant? grant;
                bool putBack;
                try
                {
                    (grant, putBack) = await TryLeaseAsync(connection, fetched, provider, cancellationToken);
                }
                catch
                {
                    fetched.Dispose();
                    throw;
                }

                if (putBack)
                {
                    skipped.Add(fetched);
                    continue;
                }

                fetched.Dispose();
                if (grant is not null)
                {
                    return grant;
                }
            }
        }
        finally
        {
            foreach (IFetchedJob held in skipped)
            {
                held.Requeue();
                held.Dispose();
            }
        }

        if (skipped.Count > 0)
        {
            // Only work for others is waiting: ask again a moment later instead of spinning on it.
            await Task.Delay(s_skippedTaskBackoff, cancellationToken);
        }

        return null;
    }

    /// <summary>Extends a lease.</summary>
    public async Task<HeartbeatResponse> HeartbeatAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (IsCheckLease(leaseId))
        {
            return await HeartbeatCheckAsync(provider, leaseId, cancellationToken);
        }

        while (true)
        {
            (TaskRecord task, _) = await GetLeaseAsync(provider, leaseId, cancellationToken);
            DateTimeOffset expires = _time.GetUtcNow() + _options.LeaseDuration;
            if (!await _store.TryUpdateTaskAsync(task with { LeaseExpiresAt = expires }, cancellationToken))
            {
                continue;
            }

            // Leased → Leased keeps the dashboard's view of the lease current (one history entry per heartbeat).
            _client.ChangeState(task.HangfireJobId!, new LeasedState(provider, leaseId, task.StartedAt ?? expires, expires), LeasedState.StateName);
            TouchProvider(provider);
            return new HeartbeatResponse(expires);
        }
    }

    /// <summary>Accepts a task's frames after checking every upload's size and SHA-256 in the store.</summary>
    /// <param name="provider">The provider that reports.</param>
    /// <param name="leaseId">Its lease.</param>
    /// <param name="request">The report.</param>
    /// <param name="origin">The remote address the report came from, when known; a refused output is a failure from it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task CompleteAsync(string provider, string leaseId, CompleteRequest request, string? origin, CancellationToken cancellationToken)
    {
        if (IsCheckLease(leaseId))
        {
            await CompleteCheckAsync(provider, leaseId, request, cancellationToken);
            return;
        }

        if (await CompletedTaskAsync(provider, leaseId, cancellationToken) is { } completed)
        {
            // A retried report whose first attempt was accepted (the answer was lost, or the attempt failed after the
            // acceptance was stored): same answer again, once the checks the first attempt may not have queued are.
            if (await _store.GetJobAsync(completed.JobId, cancellationToken) is { } owner)
            {
                await EnqueueChecksAsync(owner, completed.Index, [.. completed.Checks.Where(c => c.State == SpotCheckState.Queued && c.HangfireJobId is null)], cancellationToken);
            }

            return;
        }

        (TaskRecord task, JobRecord job) = await GetLeaseAsync(provider, leaseId, cancellationToken);
        IReadOnlyList<CompletedFrame> frames = CheckReport(task, request);
        var outputs = new List<FrameOutput>(frames.Count);
        string extension = FarmKeys.OutputExtension(job.Spec);
        Inference.TensorInfo? modelOutput = job.Spec.Inference is null
            ? null
            : await OutputAcceptance.GetModelOutputAsync(_objects, job.Spec.SceneKey, job.Spec.SceneSha256, cancellationToken);
        foreach (CompletedFrame frame in frames)
        {
            try
            {
                outputs.Add(await VerifyUploadAsync(job, frame, leaseId, extension, modelOutput, cancellationToken));
            }
            catch (OutputRefusedException refused)
            {
                // Not what the task asked for: the provider's failure, and the task goes back (or fails) as for one.
                await FailLeaseAsync(provider, leaseId, $"Output refused: {refused.Message}", origin, cancellationToken);
                throw new CoordinatorException(422, $"{refused.Message} The lease has ended and counts as a failure.");
            }
        }

        IReadOnlyDictionary<int, WholeFrameSampleDecision> samples = ProviderTrust.NeedsChecks(_options, provider)
            ? await DecideSamplesAsync(job, provider, outputs, cancellationToken)
            : new Dictionary<int, WholeFrameSampleDecision>();
        while (true)
        {
            DateTimeOffset now = _time.GetUtcNow();
            IReadOnlyList<SpotCheckRecord> checks = ProviderTrust.NeedsChecks(_options, provider) ? PlanChecks(job, task, provider, outputs, samples) : [];
            TaskRecord succeeded = task with
            {
                State = checks.Count > 0 ? FarmTaskState.Verifying : FarmTaskState.Succeeded,
                Outputs = outputs,
                Checks = [.. task.Checks, .. checks],
                LeaseExpiresAt = null,
                FinishedAt = checks.Count > 0 ? null : now,
                Error = null,
            };
            if (await _store.TryUpdateTaskAsync(succeeded, cancellationToken))
            {
                long milliseconds = (long)(now - (task.StartedAt ?? now)).TotalMilliseconds;
                _client.ChangeState(task.HangfireJobId!, new SucceededState(null, 0, milliseconds), LeasedState.StateName);
                LogCompleted(task.JobId, task.Index, provider);
                await EnqueueChecksAsync(job, task.Index, checks, cancellationToken);
                await TryCompleteJobAsync(task.JobId, cancellationToken);
                foreach (FrameOutput output in outputs)
                {
                    // Accepted: the coordinator holds its own copy, so the upload can go. Best effort: a stale upload
                    // under a lease key is only storage, and the acceptance above must stand.
                    try
                    {
                        await _objects.DeleteAsync(FarmKeys.Upload(task.JobId, output.Frame, leaseId, extension), cancellationToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        LogUploadKept(task.JobId, output.Frame, ex.Message);
                    }
                }

                return;
            }

            (task, job) = await GetLeaseAsync(provider, leaseId, cancellationToken);
        }
    }

    /// <summary>Records the provider's failure and re-queues the task, or fails it (and its job) when too many providers failed it.</summary>
    /// <param name="provider">The provider that reports.</param>
    /// <param name="leaseId">Its lease.</param>
    /// <param name="request">The report.</param>
    /// <param name="origin">The remote address the report came from, when known (see <see cref="TaskFailurePolicy.IsExhausted"/>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task FailAsync(string provider, string leaseId, FailRequest request, string? origin, CancellationToken cancellationToken)
    {
        string reason = request.Reason.Trim();
        if (reason.Length == 0 || reason.Length > MaxReasonLength)
        {
            throw new CoordinatorException(400, $"Reason must hold 1 to {MaxReasonLength} characters.");
        }

        if (IsCheckLease(leaseId))
        {
            await ReleaseCheckAsync(provider, leaseId, $"Failed on {provider}: {reason}", cancellationToken);
            return;
        }

        await FailLeaseAsync(provider, leaseId, reason, origin, cancellationToken);
    }

    // Ends a render or inference lease as the provider's failure.
    private async Task FailLeaseAsync(string provider, string leaseId, string reason, string? origin, CancellationToken cancellationToken)
    {
        while (true)
        {
            (TaskRecord task, JobRecord job) = await GetLeaseAsync(provider, leaseId, cancellationToken);
            if (await ReleaseAsync(task, job, provider, $"Failed on {provider}: {reason}", cancellationToken, origin))
            {
                return;
            }
        }
    }

    /// <summary>Puts a task back in its queue without counting a failure.</summary>
    public async Task HandBackAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (IsCheckLease(leaseId))
        {
            await ReleaseCheckAsync(provider, leaseId, $"Handed back by {provider}", cancellationToken);
            return;
        }

        while (true)
        {
            (TaskRecord task, JobRecord job) = await GetLeaseAsync(provider, leaseId, cancellationToken);
            if (await ReleaseAsync(task, job, null, $"Handed back by {provider}", cancellationToken))
            {
                return;
            }
        }
    }

    /// <summary>Puts back every lease past its end among the newest jobs, counting the lapse against its provider.</summary>
    /// <returns>How many leases were put back.</returns>
    public async Task<int> ExpireLapsedLeasesAsync(CancellationToken cancellationToken)
    {
        int expired = 0;
        foreach (JobRecord job in await _store.ListJobsAsync(_options.MaintenanceJobScanLimit, cancellationToken))
        {
            if (job.State != JobState.Running)
            {
                continue;
            }

            foreach (TaskRecord task in await _store.GetTasksAsync(job.Id, cancellationToken))
            {
                if (task.State == FarmTaskState.Leased && task.LeaseExpiresAt <= _time.GetUtcNow()
                    && await ReleaseAsync(task, job, task.Provider, $"Lease of {task.Provider} lapsed", cancellationToken))
                {
                    // A conflicting update means the provider acted first; the next pass looks again.
                    LogExpired(job.Id, task.Index, task.Provider);
                    expired++;
                }

                if (task.State is FarmTaskState.Verifying or FarmTaskState.Succeeded)
                {
                    expired += await ExpireLapsedChecksAsync(job, task, cancellationToken);
                }
            }

            await TryCompleteJobAsync(job.Id, cancellationToken);
        }

        return expired;
    }

    /// <summary>Ends every unfinished task and open canary of a job (cancelled or failed) and deletes their queued Hangfire jobs.</summary>
    public async Task StopTasksAsync(Guid jobId, string reason, CancellationToken cancellationToken)
    {
        foreach (TaskRecord listed in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            for (TaskRecord? task = listed; task is { State: FarmTaskState.Queued or FarmTaskState.Leased or FarmTaskState.Verifying }; task = await _store.GetTaskAsync(jobId, listed.Index, cancellationToken))
            {
                TaskRecord cancelled = task with
                {
                    State = FarmTaskState.Cancelled,
                    FinishedAt = _time.GetUtcNow(),
                    Error = reason,
                    LeaseExpiresAt = null,
                    Checks = CancelOpenChecks(task.Checks, _time.GetUtcNow(), reason),
                };
                if (await _store.TryUpdateTaskAsync(cancelled, cancellationToken))
                {
                    DeleteOpenCheckJobs(task.Checks);
                    if (task.HangfireJobId is not null)
                    {
                        // Deleted from any state; a stale queue entry is dropped when a lease fetches it.
                        _client.Delete(task.HangfireJobId);
                    }

                    break;
                }
            }
        }

        await CancelOpenCanariesAsync(jobId, reason, cancellationToken);
    }

    private async Task<(LeaseGrant? Grant, bool PutBack)> TryLeaseAsync(IStorageConnection connection, IFetchedJob fetched, string provider, CancellationToken cancellationToken)
    {
        JobData? data = connection.GetJobData(fetched.JobId);
        if (data?.Job is { } checkJob && checkJob.Type == typeof(SpotCheckJob) && checkJob.Args is [Guid checkJobId, int checkIndex, int checkNumber])
        {
            return await TryLeaseCheckAsync(fetched, provider, checkJobId, checkIndex, checkNumber, cancellationToken);
        }

        if (data?.Job is not { } hangfireJob || hangfireJob.Type != typeof(FrameTaskJob)
            || hangfireJob.Args is not [Guid jobId, int index])
        {
            LogForeignJob(fetched.JobId);
            fetched.RemoveFromQueue();
            return (null, false);
        }

        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        if (task is null || job is null || task.HangfireJobId != fetched.JobId
            || task.State != FarmTaskState.Queued || job.State is not (JobState.Queued or JobState.Running))
        {
            // A Hangfire job its task record does not name (a split retried after a crash), or a task
            // that ended while its Hangfire job was queued.
            _client.Delete(fetched.JobId);
            fetched.RemoveFromQueue();
            return (null, false);
        }

        if (await IsBlockedAsync(jobId, provider, cancellationToken))
        {
            return (null, true);
        }

        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset expires = now + _options.LeaseDuration;
        string leaseId = _leaseIds.Create(jobId, index);
        if (!_client.ChangeState(fetched.JobId, new LeasedState(provider, leaseId, now, expires), EnqueuedState.StateName))
        {
            // No longer Enqueued (deleted by a cancellation): the queue entry is stale.
            fetched.RemoveFromQueue();
            return (null, false);
        }

        while (true)
        {
            TaskRecord leased = task with
            {
                State = FarmTaskState.Leased,
                LeaseId = leaseId,
                Provider = provider,
                LeaseExpiresAt = expires,
                Attempts = task.Attempts + 1,
                StartedAt = now,
                FinishedAt = null,
            };
            if (await _store.TryUpdateTaskAsync(leased, cancellationToken))
            {
                break;
            }

            task = await _store.GetTaskAsync(jobId, index, cancellationToken);
            if (task?.State != FarmTaskState.Queued)
            {
                _client.ChangeState(fetched.JobId, new DeletedState(), LeasedState.StateName);
                fetched.RemoveFromQueue();
                return (null, false);
            }
        }

        fetched.RemoveFromQueue();
        LogLeased(jobId, index, provider, leaseId);
        return (Grant(job, task.Index, task.FirstFrame, task.LastFrame, leaseId, expires), false);
    }

    // A render or inference grant for frames (items) first..last of task taskIndex: a task's own, or one output of it
    // for a whole-output check, which is granted exactly like a one-frame task.
    private LeaseGrant Grant(JobRecord job, int taskIndex, int first, int last, string leaseId, DateTimeOffset expires)
    {
        TimeSpan lifetime = _options.PresignedUrlLifetime;
        string extension = FarmKeys.OutputExtension(job.Spec);
        // Counted loops: "frame <= last" never ends when last is int.MaxValue.
        int count = checked(last - first + 1);
        var uploads = new List<FrameUpload>(count);
        for (int i = 0; i < count; i++)
        {
            int frame = first + i;
            uploads.Add(new FrameUpload(frame, new ObjectLink(_objects.PresignPut(FarmKeys.Upload(job.Id, frame, leaseId, extension), lifetime), null)));
        }

        return new LeaseGrant(
            leaseId,
            job.Id,
            taskIndex,
            first,
            last,
            job.Spec.Settings,
            job.Spec.SceneFileName,
            new ObjectLink(_objects.PresignGet(job.Spec.SceneKey, lifetime), job.Spec.SceneSha256),
            uploads,
            expires,
            (int)Math.Ceiling(_options.HeartbeatInterval.TotalSeconds),
            Inputs: ItemInputs(job, first, last, lifetime));
    }

    // An inference task's inputs: one presigned GET per item; null for a render task.
    private List<ItemInput>? ItemInputs(JobRecord job, int first, int last, TimeSpan lifetime)
    {
        if (job.Spec.Inference is not { } inference)
        {
            return null;
        }

        int count = checked(last - first + 1);
        var inputs = new List<ItemInput>(count);
        for (int i = 0; i < count; i++)
        {
            int item = first + i;
            StoredInput input = inference.Inputs[item - 1];
            inputs.Add(new ItemInput(item, new ObjectLink(_objects.PresignGet(input.Key, lifetime), input.Sha256)));
        }

        return inputs;
    }

    private async Task<bool> IsBlockedAsync(Guid jobId, string provider, CancellationToken cancellationToken)
    {
        int failures = 0;
        foreach (TaskRecord task in await _store.GetTasksAsync(jobId, cancellationToken))
        {
            if (task.RejectedBy.Contains(provider, StringComparer.OrdinalIgnoreCase))
            {
                // Proven wrong by a spot check: no more work of this job, of either kind.
                return true;
            }

            if (task.FailedBy.Contains(provider, StringComparer.OrdinalIgnoreCase))
            {
                failures++;
            }
        }

        return failures >= _options.MaxFailuresPerProviderPerJob;
    }

    // The task this lease already completed, or null.
    private async Task<TaskRecord?> CompletedTaskAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (!_leaseIds.TryParse(leaseId, out Guid jobId, out int index))
        {
            return null;
        }

        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        return task is not null
            && task.LeaseId == leaseId
            && string.Equals(task.Provider, provider, StringComparison.OrdinalIgnoreCase)
            && task.State is FarmTaskState.Succeeded or FarmTaskState.Verifying
            ? task
            : null;
    }

    private async Task<(TaskRecord Task, JobRecord Job)> GetLeaseAsync(string provider, string leaseId, CancellationToken cancellationToken)
    {
        if (!_leaseIds.TryParse(leaseId, out Guid jobId, out int index))
        {
            throw new CoordinatorException(404, $"'{leaseId}' is not a lease id this coordinator issued.");
        }

        TaskRecord? task = await _store.GetTaskAsync(jobId, index, cancellationToken);
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        if (task is null || job is null)
        {
            throw new CoordinatorException(404, $"Lease {leaseId} names a task that does not exist.");
        }

        if (task.LeaseId != leaseId)
        {
            throw new CoordinatorException(409, $"Lease {leaseId} was lost: the task was put back or leased again.");
        }

        if (!string.Equals(task.Provider, provider, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(403, $"Lease {leaseId} belongs to another provider.");
        }

        if (task.State != FarmTaskState.Leased)
        {
            throw new CoordinatorException(409, $"Lease {leaseId} has ended: the task is {task.State}.");
        }

        return (task, job);
    }

    private static IReadOnlyList<CompletedFrame> CheckReport(TaskRecord task, CompleteRequest request)
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

    // Checks one uploaded output (size, SHA-256, then its content: a PNG of the job's size and depth, or a .npy of the
    // model's output) while copying it to a temporary file, then stores that copy under a key only the coordinator writes.
    // A wrong content throws OutputRefusedException; a missing or mismatched upload a 422 the provider may retry.
    private async Task<FrameOutput> VerifyUploadAsync(
        JobRecord job, CompletedFrame frame, string leaseId, string extension, Inference.TensorInfo? modelOutput, CancellationToken cancellationToken)
    {
        Guid jobId = job.Id;
        byte[] signature = (extension == ".npy" ? NpySignature : PngSignature).ToArray();
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
                throw new OutputRefusedException($"Frame {frame.Frame}: the upload is not a {(extension == ".npy" ? ".npy" : "PNG")} file.");
            }

            string? wrong = modelOutput is not null
                ? OutputAcceptance.CheckNpy(copy, modelOutput)
                : await OutputAcceptance.CheckPngAsync(copy, job.Spec.Settings.Size, job.Spec.Settings.SixteenBit, cancellationToken);
            if (wrong is not null)
            {
                throw new OutputRefusedException($"Frame {frame.Frame}: {wrong}.");
            }

            string key = FarmKeys.Frame(jobId, frame.Frame, leaseId, extension);
            await using (FileStream file = File.OpenRead(copy))
            {
                await _objects.PutAsync(key, file, cancellationToken);
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
    /// Ends a lease: back to the queue, or failed for good once enough distinct providers with standing failed the task
    /// (or very many of any standing; see <see cref="TaskFailurePolicy"/>).
    /// </summary>
    /// <returns>False when another update came first; the caller reloads and decides again.</returns>
    private async Task<bool> ReleaseAsync(TaskRecord task, JobRecord job, string? failedBy, string reason, CancellationToken cancellationToken, string? origin = null)
    {
        IReadOnlyList<string> failed = failedBy is null || task.FailedBy.Contains(failedBy, StringComparer.OrdinalIgnoreCase)
            ? task.FailedBy
            : [.. task.FailedBy, failedBy];
        IReadOnlyList<TaskFailure> failures = failedBy is null
            ? task.Failures
            : TaskFailurePolicy.Record(task.Failures, failedBy, reason, _time.GetUtcNow(), await _standing.HasStandingAsync(failedBy, cancellationToken), origin);
        bool exhausted = TaskFailurePolicy.IsExhausted(failed, failures, _options.MaxFailuresPerTask, _standing.Limits.MaxFailingProvidersPerTask);
        TaskRecord released = task with
        {
            State = exhausted ? FarmTaskState.Failed : FarmTaskState.Queued,
            LeaseId = null,
            LeaseExpiresAt = null,
            FailedBy = failed,
            Failures = failures,
            Error = failedBy is null ? task.Error : reason,
            FinishedAt = exhausted ? _time.GetUtcNow() : null,
        };
        if (!await _store.TryUpdateTaskAsync(released, cancellationToken))
        {
            return false;
        }

        if (!exhausted)
        {
            var enqueued = new EnqueuedState(FarmQueues.For(job.Spec)) { Reason = reason };
            _client.ChangeState(task.HangfireJobId!, enqueued, LeasedState.StateName);
            return true;
        }

        string error = $"Task {task.Index} (frames {task.FirstFrame}-{task.LastFrame}) failed on {failed.Count} providers ({failures.Count(f => f.Standing)} with standing); last: {reason}";
        _client.ChangeState(task.HangfireJobId!, new FailedState(new FrameTaskFailedException(error)), LeasedState.StateName);
        if (await _store.TryUpdateJobStateAsync(job.Id, JobState.Running, JobState.Failed, error, cancellationToken))
        {
            LogJobFailed(job.Id, error);
            await StopTasksAsync(job.Id, "The job failed.", cancellationToken);
            SettlementJob.Enqueue(_client, job.Id);
        }

        return true;
    }

    private async Task TryCompleteJobAsync(Guid jobId, CancellationToken cancellationToken)
    {
        // Every completion looks after its own update, so the last of two racing ones sees both.
        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(jobId, cancellationToken);
        if (tasks.Count > 0 && tasks.All(t => t.State == FarmTaskState.Succeeded)
            && await _store.TryUpdateJobStateAsync(jobId, JobState.Running, JobState.Completed, null, cancellationToken))
        {
            LogJobCompleted(jobId);
            await CancelOpenCanariesAsync(jobId, "The job completed before the canary was answered.", cancellationToken);
            SettlementJob.Enqueue(_client, jobId);
        }
    }

    // Bounded, and waiting without a connection or a thread: see QueueFetcher.
    private Task<IFetchedJob?> FetchAsync(IStorageConnection connection, string[] queues, TimeSpan wait, CancellationToken cancellationToken) =>
        _fetcher.FetchAsync(connection, queues, wait, cancellationToken);

    private static void TouchProvider(IStorageConnection connection, string provider)
    {
        string serverId = ProviderServerPrefix + provider;
        try
        {
            connection.Heartbeat(serverId);
        }
        catch (BackgroundServerGoneException)
        {
            connection.AnnounceServer(serverId, new Hangfire.Server.ServerContext
            {
                Queues = [FarmQueues.Validate, FarmQueues.Inference, FarmQueues.RenderHigh, FarmQueues.RenderNormal, FarmQueues.RenderLow],
                WorkerCount = 1,
            });
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskIndex} of job {JobId} leased to {Provider} as {LeaseId}.")]
    private partial void LogLeased(Guid jobId, int taskIndex, string provider, string leaseId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the accepted upload of frame {Frame} could not be deleted and stays in storage: {Reason}")]
    private partial void LogUploadKept(Guid jobId, int frame, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {TaskIndex} of job {JobId} completed by {Provider}.")]
    private partial void LogCompleted(Guid jobId, int taskIndex, string provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lease on task {TaskIndex} of job {JobId} held by {Provider} lapsed; re-queued.")]
    private partial void LogExpired(Guid jobId, int taskIndex, string? provider);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: {Error}")]
    private partial void LogJobFailed(Guid jobId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed.")]
    private partial void LogJobCompleted(Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hangfire job {HangfireJobId} in a provider queue is not a frame task; dropped.")]
    private partial void LogForeignJob(string hangfireJobId);
}

/// <summary>An uploaded output whose content is not what its task asked for; the message says why in one line.</summary>
internal sealed class OutputRefusedException(string message) : Exception(message);

/// <summary>The exception a frame task's Hangfire <see cref="FailedState"/> records.</summary>
internal sealed class FrameTaskFailedException(string message) : Exception(message);
