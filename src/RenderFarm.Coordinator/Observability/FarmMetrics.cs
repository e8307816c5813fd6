using System.Diagnostics.Metrics;
using Hangfire;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Coordinator.Observability;

/// <summary>
/// The coordinator's metrics (meter <c>RenderFarm.Coordinator</c>, exported for Prometheus on <c>/metrics</c>): leases,
/// uploads, failures, verified frames, check verdicts and cost, lease latency and queue depths. It also keeps the last hour in
/// per-minute counts for the operator page. Call sites are one line each.
/// </summary>
internal sealed class FarmMetrics : IDisposable
{
    /// <summary>The meter's name, as exporters select it.</summary>
    public const string MeterName = "RenderFarm.Coordinator";

    private static readonly string[] s_queues =
    [
        FarmQueues.RenderHigh, FarmQueues.RenderNormal, FarmQueues.RenderLow, FarmQueues.Inference, FarmQueues.Validate,
        FarmQueues.Split, FarmQueues.Settle, FarmQueues.Maintenance,
    ];

    private readonly Meter _meter;
    private readonly Counter<long> _leases;
    private readonly Counter<long> _uploads;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _verified;
    private readonly Counter<long> _verdicts;
    private readonly Histogram<double> _leaseLatency;
    private readonly Histogram<double> _checkCost;
    private readonly JobStorage _storage;
    private readonly TimeProvider _time;
    private readonly RecentMinutes _recent;
    private readonly Lock _queueLock = new();
    private (long At, Dictionary<string, long> Depths)? _queueCache;

    public FarmMetrics(IMeterFactory meters, JobStorage storage, TimeProvider time)
    {
        _storage = storage;
        _time = time;
        _recent = new RecentMinutes(time);
        _meter = meters.Create(MeterName);
        _leases = _meter.CreateCounter<long>("renderfarm.leases", "{lease}", "Leases granted to providers, by work (task or check).");
        _uploads = _meter.CreateCounter<long>("renderfarm.uploads", "{frame}", "Outputs uploaded and accepted.");
        _failures = _meter.CreateCounter<long>("renderfarm.failures", "{failure}", "Task failures: reported, lapsed leases and refused outputs.");
        _verified = _meter.CreateCounter<long>("renderfarm.frames.verified", "{frame}", "Frames (or items) that passed verification and became the client's.");
        _verdicts = _meter.CreateCounter<long>("renderfarm.checks.verdicts", "{check}", "Check verdicts, by kind and result.");
        _leaseLatency = _meter.CreateHistogram<double>(
            "renderfarm.lease.latency",
            "s",
            "Time from a provider's lease request to its grant.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _checkCost = _meter.CreateHistogram<double>(
            "renderfarm.checks.cost",
            "{frame}",
            "Work of each decided check, in frames re-rendered: its tiles' pixels over the frame's (1 for a whole frame or a re-executed item), by kind. Its sum over renderfarm.frames.verified is the check cost per verified frame.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        _meter.CreateObservableGauge("renderfarm.queue.depth", ObserveQueues, "{job}", "Hangfire jobs waiting per queue.");
    }

    /// <summary>The last hour, per minute, for the operator page.</summary>
    public RecentMinutes Recent => _recent;

    public void Leased(string work)
    {
        _leases.Add(1, new KeyValuePair<string, object?>("work", work));
        _recent.Add(RecentMinutes.Leases);
    }

    public void Uploaded(int outputs)
    {
        _uploads.Add(outputs);
        _recent.Add(RecentMinutes.Uploads, outputs);
    }

    public void Failed(string cause)
    {
        _failures.Add(1, new KeyValuePair<string, object?>("cause", cause));
        _recent.Add(RecentMinutes.Failures);
    }

    public void Verified(int frames)
    {
        _verified.Add(frames);
        _recent.Add(RecentMinutes.Verified, frames);
    }

    public void Verdict(string kind, string result) =>
        _verdicts.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("result", result));

    /// <summary>Records a decided check's work (see <see cref="CheckFrames"/>).</summary>
    public void CheckCost(string kind, double frames) =>
        _checkCost.Record(frames, new KeyValuePair<string, object?>("kind", kind));

    /// <summary>
    /// A check's work in frames: a whole-frame check (or a re-executed inference item) re-renders one; a tile check the
    /// share of the frame's pixels its tiles cover, at the frame's samples per pixel, so about that share of a render.
    /// </summary>
    public static double CheckFrames(SpotCheckRecord check, ImageSize frame)
    {
        if (check.WholeFrame || frame.PixelCount == 0)
        {
            return 1;
        }

        long pixels = check.Tiles.Sum(t => (long)Math.Max(t.Width, 0) * Math.Max(t.Height, 0));
        return Math.Min(1, (double)pixels / frame.PixelCount);
    }

    public void LeaseGranted(TimeSpan latency)
    {
        _leaseLatency.Record(latency.TotalSeconds);
        _recent.AddLatency(latency);
    }

    /// <summary>Hangfire jobs waiting in each farm queue, read at most once a second.</summary>
    public IReadOnlyDictionary<string, long> QueueDepths()
    {
        long now = _time.GetTimestamp();
        lock (_queueLock)
        {
            if (_queueCache is { } cache && _time.GetElapsedTime(cache.At, now) < TimeSpan.FromSeconds(1))
            {
                return cache.Depths;
            }
        }

        var depths = new Dictionary<string, long>(StringComparer.Ordinal);
        Hangfire.Storage.IMonitoringApi monitoring = _storage.GetMonitoringApi();
        foreach (string queue in s_queues)
        {
            depths[queue] = monitoring.EnqueuedCount(queue);
        }

        lock (_queueLock)
        {
            _queueCache = (now, depths);
        }

        return depths;
    }

    private IEnumerable<Measurement<long>> ObserveQueues() =>
        QueueDepths().Select(q => new Measurement<long>(q.Value, new KeyValuePair<string, object?>("queue", q.Key)));

    public void Dispose() => _meter.Dispose();
}

/// <summary>Per-minute counts of the last hour and the latest lease latencies, for the operator page.</summary>
internal sealed class RecentMinutes(TimeProvider time)
{
    public const int Leases = 0;
    public const int Uploads = 1;
    public const int Failures = 2;
    public const int Verified = 3;
    public const int Minutes = 60;
    private const int Kinds = 4;
    private const int LatencySamples = 500;

    private readonly Lock _lock = new();
    private readonly long[,] _counts = new long[Minutes, Kinds];
    private readonly long[] _minuteOf = new long[Minutes];
    private readonly double[] _latencies = new double[LatencySamples];
    private int _latencyCount;
    private int _latencyNext;

    public void Add(int kind, long count = 1)
    {
        long minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        int slot = (int)(minute % Minutes);
        lock (_lock)
        {
            if (_minuteOf[slot] != minute)
            {
                _minuteOf[slot] = minute;
                for (int k = 0; k < Kinds; k++)
                {
                    _counts[slot, k] = 0;
                }
            }

            _counts[slot, kind] += count;
        }
    }

    public void AddLatency(TimeSpan latency)
    {
        lock (_lock)
        {
            _latencies[_latencyNext] = latency.TotalMilliseconds;
            _latencyNext = (_latencyNext + 1) % LatencySamples;
            _latencyCount = Math.Min(_latencyCount + 1, LatencySamples);
        }
    }

    /// <summary>Counts of <paramref name="kind"/> for each of the last <see cref="Minutes"/> minutes, oldest first.</summary>
    public long[] Series(int kind)
    {
        long minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        var series = new long[Minutes];
        lock (_lock)
        {
            for (int i = 0; i < Minutes; i++)
            {
                long m = minute - (Minutes - 1) + i;
                int slot = (int)(((m % Minutes) + Minutes) % Minutes);
                series[i] = _minuteOf[slot] == m ? _counts[slot, kind] : 0;
            }
        }

        return series;
    }

    /// <summary>The given quantiles (0..1) of the latest lease latencies in milliseconds, or null before any lease.</summary>
    public double[]? LatencyQuantiles(params double[] quantiles)
    {
        double[] samples;
        lock (_lock)
        {
            samples = _latencies[.._latencyCount];
        }

        if (samples.Length == 0)
        {
            return null;
        }

        Array.Sort(samples);
        return [.. quantiles.Select(q => samples[(int)Math.Clamp(Math.Ceiling(q * samples.Length) - 1, 0, samples.Length - 1)])];
    }
}
