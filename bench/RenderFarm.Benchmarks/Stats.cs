using System.Diagnostics;
using System.Globalization;

namespace RenderFarm.Benchmarks;

/// <summary>Percentiles (nearest rank) of a set of durations in milliseconds.</summary>
internal sealed class Stats
{
    private readonly double[] _sorted;

    public Stats(IEnumerable<double> milliseconds)
    {
        _sorted = [.. milliseconds.Order()];
    }

    public int Count => _sorted.Length;

    public double Max => _sorted.Length == 0 ? double.NaN : _sorted[^1];

    public double Mean => _sorted.Length == 0 ? double.NaN : _sorted.Average();

    public double Percentile(double p)
    {
        if (_sorted.Length == 0)
        {
            return double.NaN;
        }

        int rank = (int)Math.Ceiling(p / 100.0 * _sorted.Length);
        return _sorted[Math.Clamp(rank - 1, 0, _sorted.Length - 1)];
    }

    /// <summary>Milliseconds since a <see cref="Stopwatch.GetTimestamp"/> value.</summary>
    public static double Since(long timestamp) => Stopwatch.GetElapsedTime(timestamp).TotalMilliseconds;

    public static string Ms(double value) => double.IsNaN(value) ? "-" : value.ToString(value < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    /// <summary>Writes one line with numbers formatted in the invariant culture.</summary>
    public static void Print(FormattableString line) => Console.WriteLine(FormattableString.Invariant(line));

    /// <summary>One line about the machine and its load, to print with every result.</summary>
    public static string Machine()
    {
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {load}");
    }
}
