using System.Diagnostics;
using System.Globalization;

namespace RenderFarm.Cli.Terminal;

/// <summary>
/// A one-line progress bar with elapsed time and an estimate of the time left. It redraws in place
/// on a terminal; when the output is redirected (logs, CI) it prints a plain line every few seconds.
/// </summary>
internal sealed class ProgressBar : IDisposable
{
    private const int BarWidth = 30;
    private static readonly TimeSpan s_redirectedInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_terminalInterval = TimeSpan.FromMilliseconds(100);

    // Workers report from their own threads.
    private readonly Lock _sync = new();
    private readonly TextWriter _writer;
    private readonly bool _interactive;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan? _lastDraw;
    private bool _visible;

    public ProgressBar(TextWriter writer)
    {
        _writer = writer;
        _interactive = !Console.IsErrorRedirected && ReferenceEquals(writer, Console.Error);
    }

    /// <summary>Shows <paramref name="fraction"/> (0..1) done with a label.</summary>
    public void Update(double fraction, string label)
    {
        lock (_sync)
        {
            Draw(fraction, label);
        }
    }

    /// <summary>Writes a line to standard output without tearing the bar.</summary>
    public void WriteLine(string text)
    {
        lock (_sync)
        {
            Erase();
            Console.Out.WriteLine(text);
            Console.Out.Flush();
        }
    }

    /// <summary>Erases the bar.</summary>
    public void Clear()
    {
        lock (_sync)
        {
            Erase();
        }
    }

    public void Dispose() => Clear();

    private void Draw(double fraction, string label)
    {
        TimeSpan now = _clock.Elapsed;
        TimeSpan interval = _interactive ? s_terminalInterval : s_redirectedInterval;
        if (_lastDraw is TimeSpan last && now - last < interval && fraction < 1)
        {
            return;
        }

        _lastDraw = now;
        fraction = Math.Clamp(fraction, 0, 1);
        string eta = fraction > 0.001
            ? FormatDuration(TimeSpan.FromSeconds(now.TotalSeconds * (1 - fraction) / fraction))
            : "?";
        int filled = (int)Math.Round(fraction * BarWidth);
        string line = string.Create(
            CultureInfo.InvariantCulture,
            $"[{new string('#', filled)}{new string('-', BarWidth - filled)}] {fraction * 100,5:F1}%  {label}  elapsed {FormatDuration(now)}  left {eta}");
        if (_interactive)
        {
            _writer.Write("\r" + line + "\u001b[K");
            _visible = true;
        }
        else
        {
            _writer.WriteLine(line);
        }
    }

    private void Erase()
    {
        if (_visible)
        {
            _writer.Write("\r\u001b[K");
            _visible = false;
        }
    }

    private static string FormatDuration(TimeSpan duration) => duration.TotalHours >= 1
        ? duration.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : duration.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
