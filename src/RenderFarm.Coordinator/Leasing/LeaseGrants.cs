using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>What a provider gets with a lease: the work, and presigned URLs scoped to the objects of that lease alone.</summary>
internal sealed class LeaseGrants(IObjectStore objects, CoordinatorOptions options)
{
    private readonly IObjectStore _objects = objects;
    private readonly CoordinatorOptions _options = options;

    // A render or inference grant for frames (items) first..last of task taskIndex: a task's own, or one output of it
    // for a whole-output check, which is granted exactly like a one-frame task.
    public LeaseGrant Grant(JobRecord job, int taskIndex, int first, int last, string leaseId, DateTimeOffset expires)
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
            Inputs: ItemInputs(job, first, last, lifetime),
            Environment: EnvironmentLink(job, lifetime));
    }

    // A render job's environment map travels like its scene: one presigned GET with the hash the worker checks.
    private ObjectLink? EnvironmentLink(JobRecord job, TimeSpan lifetime) =>
        job.Spec.Inference is null && job.Spec.Settings.Environment is { } environment
            ? new ObjectLink(_objects.PresignGet(FarmKeys.Environment(environment.Sha256), lifetime), environment.Sha256)
            : null;

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

    /// <summary>A tile check's grant: re-render the check's tiles of one frame and send them back in the report.</summary>
    public LeaseGrant Validation(JobRecord job, int taskIndex, SpotCheckRecord check, string leaseId, DateTimeOffset expires) => new(
        leaseId,
        job.Id,
        taskIndex,
        check.Frame,
        check.Frame,
        job.Spec.Settings,
        job.Spec.SceneFileName,
        new ObjectLink(_objects.PresignGet(job.Spec.SceneKey, _options.PresignedUrlLifetime), job.Spec.SceneSha256),
        [],
        expires,
        (int)Math.Ceiling(_options.HeartbeatInterval.TotalSeconds),
        new ValidationWork(check.Frame, check.Tiles),
        Environment: EnvironmentLink(job, _options.PresignedUrlLifetime));
}
