using Microsoft.Extensions.Logging;
using RenderFarm.Core.Farm;
using RenderFarm.Verification;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// The provider-level side of the sample-count statistic: each first tile check of a delivered frame adds its statistic
/// per snapshot count to the renderer's <see cref="SampleCountEvidence"/> across jobs. A cheat confined to part of each
/// frame (a band or the border rendered with fewer samples) passes most checks one by one at high sample counts, but its
/// statistic leans the same way in every one. While the evidence is at or over its threshold, each such check sends the
/// renderer's work in that job back to the queue for others (counted as its failures, so the job's failure cap stops it
/// taking more) and its frames are sampled whole at the suspect rate. Validators feed the evidence, so it never slashes
/// or counts a catch: only 2 of 3 executions prove a cheat.
/// </summary>
internal sealed partial class SpotChecks
{
    // Adds a finished first tile check's sample-count statistics to its renderer's evidence (not arbitrations, canaries,
    // whole frames or stale checks) and acts when the evidence crossed its threshold.
    private async Task RecordSampleEvidenceAsync(JobRecord job, SpotCheckRecord check, IReadOnlyList<double>? sampleZ, bool stale, CancellationToken cancellationToken)
    {
        if (sampleZ is not { Count: > 0 } z || stale || check.Canary || check.WholeFrame || check.Arbitrates is not null)
        {
            return;
        }

        (long Checks, IReadOnlyList<double> Sums) stored = await _store.UpdateProviderSampleEvidenceAsync(
            check.RenderedBy,
            e =>
            {
                SampleCountEvidence next = SampleCountEvidence.Update(new SampleCountEvidence(e.Checks, e.Sums), z);
                return (next.Checks, next.Sums);
            },
            cancellationToken);
        var evidence = new SampleCountEvidence(stored.Checks, stored.Sums);
        if (!evidence.IsSuspect)
        {
            return;
        }

        LogSampleEvidence(job.Id, check.RenderedBy, evidence.Largest, evidence.Checks);
        string reason = $"The sample-count evidence of {check.RenderedBy} reached {evidence.Largest:0.0} (threshold {SampleCountEvidence.Threshold:0}) over {evidence.Checks} checked frames: its frames hold fewer samples than asked in part; redone elsewhere.";
        await _sanctions.RedoOnSuspicionAsync(job, check.RenderedBy, reason, "The output is redone on its renderer's sample-count evidence.", cancellationToken);
    }

    private async Task<bool> IsSampleSuspectAsync(string provider, CancellationToken cancellationToken)
    {
        (long checks, IReadOnlyList<double> sums) = await _store.GetProviderSampleEvidenceAsync(provider, cancellationToken);
        return new SampleCountEvidence(checks, sums).IsSuspect;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: provider {Provider}: sample-count evidence {Evidence:0.0} after {Checks} checked frames; its work in the job is redone and it is sampled whole at the suspect rate")]
    private partial void LogSampleEvidence(Guid jobId, string provider, double evidence, long checks);
}
