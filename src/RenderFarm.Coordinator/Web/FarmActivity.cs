using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator.Observability;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// What follows a change of the farm's records: the task's timeline entries, the metrics, the thumbnails of newly
/// accepted frames, and a wake-up for the web app's live streams. Fed by <see cref="ObservedFarmStore"/>, so the code
/// that changes tasks needs no hook.
/// </summary>
internal sealed partial class FarmActivity(FarmChanges changes, FarmMetrics metrics, Thumbnails thumbnails, TimeProvider time, ILogger<FarmActivity> logger)
{
    /// <summary>The timeline entries of a task change, to be stored with it (<see cref="IFarmStore.TryReplaceTaskAsync"/>).</summary>
    public IReadOnlyList<TaskEventRecord> TimelineOf(TaskRecord before, TaskRecord after) => TaskTimeline.Diff(before, after, time.GetUtcNow());

    /// <summary>Records a task change that the store accepted.</summary>
    /// <param name="store">The store, for the timeline and the job of a decided check.</param>
    /// <param name="before">The record replaced.</param>
    /// <param name="after">The record stored.</param>
    /// <param name="stored">The timeline entries the store already wrote with the change, or null to derive and append them.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task TaskChangedAsync(IFarmStore store, TaskRecord before, TaskRecord after, IReadOnlyList<TaskEventRecord>? stored, CancellationToken cancellationToken)
    {
        try
        {
            IReadOnlyList<TaskEventRecord> events = stored ?? TaskTimeline.Diff(before, after, time.GetUtcNow());
            if (stored is null && events.Count > 0)
            {
                await store.AppendTaskEventsAsync(events, CancellationToken.None).ConfigureAwait(false);
            }

            foreach (TaskEventRecord taskEvent in events)
            {
                Count(taskEvent, after);
            }

            SpotCheckRecord[] decided = [.. events.Select(e => DecidedCheck(e, after)).OfType<SpotCheckRecord>()];
            if (decided.Length > 0 && await store.GetJobAsync(after.JobId, CancellationToken.None).ConfigureAwait(false) is { } job)
            {
                foreach (SpotCheckRecord check in decided)
                {
                    metrics.CheckCost(CheckKind(check), FarmMetrics.CheckFrames(check, job.Spec.Settings.Size));
                }
            }

            if (events.Any(e => e.Kind == TaskEventKind.Uploaded))
            {
                thumbnails.Enqueue(after.Outputs);
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // The task changed whatever happens here: a timeline entry lost is no reason to fail a lease or an upload.
            LogTimelineFailed(after.JobId, after.Index, exception);
        }
        finally
        {
            changes.Signal();
        }
    }

    /// <summary>A job or provider changed.</summary>
    public void Changed() => changes.Signal();

    private void Count(TaskEventRecord taskEvent, TaskRecord after)
    {
        switch (taskEvent.Kind)
        {
            case TaskEventKind.Leased:
                metrics.Leased("task");
                break;
            case TaskEventKind.CheckLeased:
                metrics.Leased("check");
                break;
            case TaskEventKind.Uploaded:
                metrics.Uploaded(after.Outputs.Count);
                break;
            case TaskEventKind.Failed:
                metrics.Failed(taskEvent.Detail.StartsWith("Failed on", StringComparison.Ordinal) ? "reported" : "handed_back");
                break;
            case TaskEventKind.Succeeded:
                metrics.Verified(after.LastFrame - after.FirstFrame + 1);
                break;
            case TaskEventKind.CheckDecided:
                if (DecidedCheck(taskEvent, after) is { } check)
                {
                    metrics.Verdict(CheckKind(check), check.State.ToString().ToLowerInvariant());
                }

                break;
        }
    }

    private static SpotCheckRecord? DecidedCheck(TaskEventRecord taskEvent, TaskRecord after) =>
        taskEvent.Kind == TaskEventKind.CheckDecided
            ? after.Checks.FirstOrDefault(c => taskEvent.Detail.StartsWith($"Check #{c.Number} ", StringComparison.Ordinal))
            : null;

    private static string CheckKind(SpotCheckRecord check) =>
        check.Canary ? "canary" : check.Arbitrates is not null ? "third" : check.WholeFrame ? "whole_frame" : "tiles";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Task {JobId}/{TaskIndex}: its timeline entry could not be recorded.")]
    private partial void LogTimelineFailed(Guid jobId, int taskIndex, Exception exception);
}

/// <summary>
/// The farm store as the coordinator's services see it: every call goes to the real store, and changes that succeed are
/// reported to <see cref="FarmActivity"/>. A dispatch proxy rather than a hand-written decorator, so a member added to
/// <see cref="IFarmStore"/> passes through without a change here; only the changing calls named below are observed.
/// </summary>
internal class ObservedFarmStore : DispatchProxy
{
    // Beyond this many remembered task reads the memory is dropped (each entry is one task's latest read record).
    private const int MaxRemembered = 20_000;

    private IFarmStore _inner = null!;
    private FarmActivity _activity = null!;

    // The latest record read or written per task. An update's "before" is the stored record at the version the update
    // expects; records are immutable and every write bumps the version, so a remembered record of that version is it,
    // and the lease and completion paths (which read the task just before updating it) need no second read per update.
    private readonly ConcurrentDictionary<(Guid JobId, int Index), TaskRecord> _tasks = new();

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public static IFarmStore Wrap(IFarmStore inner, FarmActivity activity)
    {
        IFarmStore proxy = Create<IFarmStore, ObservedFarmStore>();
        var observed = (ObservedFarmStore)(object)proxy;
        observed._inner = inner;
        observed._activity = activity;
        return proxy;
    }

    /// <inheritdoc/>
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        switch (targetMethod.Name)
        {
            case nameof(IFarmStore.TryUpdateTaskAsync):
                return UpdateTaskAsync((TaskRecord)args![0]!, (CancellationToken)args[1]!);
            case nameof(IFarmStore.GetTaskAsync):
                return ReadTaskAsync((Task<TaskRecord?>)Forward(targetMethod, args)!);
            case nameof(IFarmStore.GetTaskWithJobAsync):
                return ReadTaskWithJobAsync((Task<TaskWithJob>)Forward(targetMethod, args)!);
            case nameof(IFarmStore.CreateJobAsync):
            case nameof(IFarmStore.UpsertProviderAsync):
                return SignalAfter((Task)Forward(targetMethod, args)!);
            case nameof(IFarmStore.TryUpdateJobStateAsync):
            case nameof(IFarmStore.TrySetJobSettlementAsync):
                return SignalAfter((Task<bool>)Forward(targetMethod, args)!);
            case nameof(IFarmStore.AddProviderCountsAsync):
                return SignalAfter((Task<ProviderRecord>)Forward(targetMethod, args)!);
            default:
                return Forward(targetMethod, args);
        }
    }

    private object? Forward(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (TargetInvocationException exception) when (exception.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(exception.InnerException);
            throw;
        }
    }

    // The record replaced is read first: when its version is the one the update names and the update succeeds, it is
    // exactly the record the update replaced, so the change is known without a hook in the caller. The store then writes
    // the record, the job's tallies and the timeline entries in one step (TryReplaceTaskAsync: one round trip).
    private async Task<bool> UpdateTaskAsync(TaskRecord updated, CancellationToken cancellationToken)
    {
        TaskRecord? before = _tasks.TryGetValue((updated.JobId, updated.Index), out TaskRecord? remembered) && remembered.Version == updated.Version
            ? remembered
            : await _inner.GetTaskAsync(updated.JobId, updated.Index, cancellationToken).ConfigureAwait(false);
        TaskRecord after = updated with { Version = updated.Version + 1 };
        if (before is null || before.Version != updated.Version)
        {
            bool written = await _inner.TryUpdateTaskAsync(updated, cancellationToken).ConfigureAwait(false);
            if (written)
            {
                Remember(after);
            }

            return written;
        }

        IReadOnlyList<TaskEventRecord> events = _activity.TimelineOf(before, after);
        if (!await _inner.TryReplaceTaskAsync(before, updated, events, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        Remember(after);
        await _activity.TaskChangedAsync(_inner, before, after, events, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<TaskWithJob> ReadTaskWithJobAsync(Task<TaskWithJob> read)
    {
        TaskWithJob found = await read.ConfigureAwait(false);
        if (found.Task is not null)
        {
            Remember(found.Task);
        }

        return found;
    }

    private async Task<TaskRecord?> ReadTaskAsync(Task<TaskRecord?> read)
    {
        TaskRecord? task = await read.ConfigureAwait(false);
        if (task is not null)
        {
            Remember(task);
        }

        return task;
    }

    // Keeps the newer of two records of a task (reads and writes may finish out of order).
    private void Remember(TaskRecord task)
    {
        if (_tasks.Count >= MaxRemembered)
        {
            _tasks.Clear();
        }

        _tasks.AddOrUpdate((task.JobId, task.Index), task, (_, known) => known.Version > task.Version ? known : task);
    }

    private async Task SignalAfter(Task call)
    {
        await call.ConfigureAwait(false);
        _activity.Changed();
    }

    private async Task<T> SignalAfter<T>(Task<T> call)
    {
        T result = await call.ConfigureAwait(false);
        _activity.Changed();
        return result;
    }
}
