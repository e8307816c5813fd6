using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Storage;
using RenderFarm.Verification;

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
        // Either accumulated evidence (bias, or frames that follow earlier sample counts) makes the provider a suspect.
        bool biased = await IsBiasedAsync(provider, cancellationToken) || await IsSampleSuspectAsync(provider, cancellationToken);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Spot check {Check} of task {TaskIndex} of job {JobId} (frame {Frame}) leased to {Provider}.")]
    private partial void LogCheckLeased(Guid jobId, int taskIndex, int check, int frame, string provider);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spot check {Check} of task {TaskIndex} of job {JobId} (frame {Frame} by {RenderedBy}, validated by {Validator}): {State}, {Verdict}.")]
    private partial void LogCheckDone(Guid jobId, int taskIndex, int check, int frame, string renderedBy, string validator, SpotCheckState state, string verdict);
}
