using System.Globalization;
using System.Numerics;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using RenderFarm.Coordinator.Leasing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// The Hangfire job (queue <c>settle</c>) that settles a completed job on the ledger: every honest provider is paid for
/// its verified frames (one batch per provider, id <c>{jobId:N}:{provider}</c>, so a retry never pays twice), providers
/// proven to cheat are recorded on the escrow and slashed into the treasury, and the rest of the escrow is refunded to
/// the client. The escrow is the one the job's payer locked (escrows are keyed by client and job). Every ledger write is
/// idempotent, so Hangfire's retries are safe; the transaction ids are recorded on the job.
/// </summary>
public sealed partial class SettlementJob
{
    private readonly IFarmStore _store;
    private readonly ILedger? _ledger;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly ILogger<SettlementJob> _logger;

    internal SettlementJob(IFarmStore store, ILedger? ledger, TimeProvider time, IOptions<CoordinatorOptions> options, ILogger<SettlementJob> logger)
    {
        _store = store;
        _ledger = ledger;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Queues the settlement of job <paramref name="jobId"/> on <c>settle</c>.</summary>
    internal static void Enqueue(IBackgroundJobClient client, Guid jobId) =>
        client.Create(Job.FromExpression<SettlementJob>(s => s.SettleAsync(jobId, CancellationToken.None)), new EnqueuedState(FarmQueues.Settle));

    /// <summary>
    /// Settles job <paramref name="jobId"/> once it has ended (completed, failed or cancelled: verified frames are paid
    /// and the rest refunded either way); does nothing for a settled or unfinished job.
    /// </summary>
    /// <param name="jobId">The farm job.</param>
    /// <param name="cancellationToken">Hangfire's shutdown token.</param>
    [AutomaticRetry(Attempts = 10)]
    public async Task SettleAsync(Guid jobId, CancellationToken cancellationToken)
    {
        JobRecord? job = await _store.GetJobAsync(jobId, cancellationToken);
        if (job is null || job.State is not (JobState.Completed or JobState.Failed or JobState.Cancelled) || job.Settlement is not null)
        {
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (_ledger is null)
        {
            await RecordAsync(jobId, new JobSettlement(now, "0", [], [], null, "No ledger is configured; nothing was paid."), cancellationToken);
            return;
        }

        if (job.Spec.Payer is not { } client)
        {
            await RecordAsync(jobId, new JobSettlement(now, "0", [], [], null, "The job names no payer, so no escrow pays for it; nothing was paid."), cancellationToken);
            return;
        }

        EscrowState? escrow = await _ledger.GetEscrowAsync(client, jobId, cancellationToken);
        if (escrow is null)
        {
            await RecordAsync(jobId, new JobSettlement(now, "0", [], [], null, "The job has no escrow on the ledger; nothing was paid."), cancellationToken);
            return;
        }

        IReadOnlyList<TaskRecord> tasks = await _store.GetTasksAsync(jobId, cancellationToken);
        int frameCount = job.Spec.Frames.Count;
        BigInteger price = frameCount > 0 ? escrow.Locked / frameCount : BigInteger.Zero;
        var notes = new List<string>();

        // Slash first, while the escrow is open: a provider must be recorded on the escrow to be slashed for the job. The
        // contract takes what the provider has (stake, then a pending withdrawal: the delay exists for exactly this),
        // capped per job, and sends it to the treasury, never to the client.
        var slashes = new List<ProviderSlash>();
        BigInteger slashAmount = TokenUnits.FromTokens(_options.SlashTokens);
        List<string> cheats = [.. tasks.SelectMany(t => t.RejectedBy).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase)];
        bool recorded = cheats.Count > 0 && slashAmount > 0;
        if (recorded)
        {
            try
            {
                await _ledger.AssignAsync(client, jobId, cheats, cancellationToken);
            }
            catch (LedgerException exception) when (exception.Reason == "EscrowClosed")
            {
                recorded = false;
                notes.Add("The escrow was closed before the cheats could be recorded on it, so none was slashed.");
            }
        }

        foreach (string cheat in cheats)
        {
            SlashReceipt? slash = recorded ? await _ledger.SlashAsync(client, jobId, cheat, slashAmount, cancellationToken) : null;
            slashes.Add(new ProviderSlash(cheat, (slash?.Slashed ?? BigInteger.Zero).ToString(CultureInfo.InvariantCulture), slash?.TransactionId));
        }

        // Only verified frames pay: an output counts when a spot check of exactly that output by its provider passed.
        // (With spot checks switched off nothing is verified, so nothing is paid and the escrow is refunded.)
        var payouts = new List<ProviderPayout>();
        foreach (IGrouping<string, TaskRecord> provider in tasks
            .Where(t => t.State == FarmTaskState.Succeeded && t.Provider is not null)
            .GroupBy(t => t.Provider!.ToLowerInvariant())
            .OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            int frames = provider.Sum(t => t.Outputs.Count(o => IsVerified(job, t, o)));
            BigInteger amount = price * frames;
            if (amount.IsZero)
            {
                continue;
            }

            string address = provider.First().Provider!;
            string batchId = $"{jobId:N}:{provider.Key}";
            LedgerReceipt receipt;
            try
            {
                receipt = await _ledger.ReleaseAsync(client, jobId, batchId, [new Payout(address, amount)], cancellationToken);
            }
            catch (LedgerException exception) when (exception.Reason == "EscrowClosed")
            {
                // The client reclaimed the escrow after its deadline, before this settlement paid the provider.
                notes.Add($"The escrow was closed before {address} was paid for {frames} verified frames.");
                continue;
            }

            payouts.Add(new ProviderPayout(address, frames, amount.ToString(CultureInfo.InvariantCulture), batchId, receipt.TransactionId));
        }

        LedgerReceipt refund = await _ledger.RefundAsync(client, jobId, cancellationToken);
        await RecordAsync(
            jobId,
            new JobSettlement(_time.GetUtcNow(), price.ToString(CultureInfo.InvariantCulture), payouts, slashes, refund.TransactionId, notes.Count == 0 ? null : string.Join(" ", notes)),
            cancellationToken);
    }

    // A frame is verified by a passed check of exactly it; an inference item by its task's passed re-executions (the
    // task succeeds only once every re-executed item of it agreed).
    private static bool IsVerified(JobRecord job, TaskRecord task, FrameOutput output) => task.Checks.Any(c =>
        c.State == SpotCheckState.Passed && (job.Spec.Inference is not null || (c.Frame == output.Frame && c.OutputSha256 == output.Sha256))
        && task.Outputs.Any(o => o.Frame == c.Frame && o.Sha256 == c.OutputSha256)
        && string.Equals(c.RenderedBy, task.Provider, StringComparison.OrdinalIgnoreCase));

    private async Task RecordAsync(Guid jobId, JobSettlement settlement, CancellationToken cancellationToken)
    {
        if (await _store.TrySetJobSettlementAsync(jobId, settlement, cancellationToken))
        {
            LogSettled(jobId, settlement.Payouts.Count, settlement.Slashes.Count, settlement.Note ?? "");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} settled: {Payouts} providers paid, {Slashes} slashed. {Note}")]
    private partial void LogSettled(Guid jobId, int payouts, int slashes, string note);
}
