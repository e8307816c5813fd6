using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// One <c>renderfarm</c> program (coordinator or worker) running as its own OS process, started
/// directly (no shell) with <c>dotnet renderfarm.dll</c>. Every line it prints is kept, stamped with
/// the time since the test began, for failure messages. Disposing kills it and its children.
/// </summary>
internal sealed partial class FarmProcess : IDisposable
{
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disposed;
    private int? _exitCode;

    private FarmProcess(string name, Process process, Stopwatch clock)
    {
        Name = name;
        _process = process;
        _clock = clock;
    }

    /// <summary>A short name for messages, e.g. <c>coordinator</c> or <c>worker-a</c>.</summary>
    public string Name { get; }

    /// <summary>The operating system's process id.</summary>
    public int Id { get; private set; }

    /// <summary>Whether the test stopped or killed the process on purpose.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _exited.Task.IsCompleted || _exitCode is not null;

    /// <summary>The exit code; only valid once <see cref="HasExited"/>.</summary>
    public int ExitCode => _exitCode ?? _process.ExitCode;

    /// <summary>Everything printed so far on stdout and stderr, one stamped line each.</summary>
    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join(Environment.NewLine, _lines);
            }
        }
    }

    /// <summary>Starts <c>dotnet renderfarm.dll ARGUMENTS</c> from the test's output folder.</summary>
    /// <param name="name">A short name for messages.</param>
    /// <param name="arguments">The command line after the program.</param>
    /// <param name="environment">Variables to set (null removes one) on top of this process's environment.</param>
    /// <param name="workingDirectory">The process's current folder.</param>
    /// <param name="clock">Runs since the test began; stamps every line.</param>
    public static FarmProcess Start(
        string name,
        IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string?> environment,
        string workingDirectory,
        Stopwatch clock) =>
        Start(name, "renderfarm.dll", arguments, environment, workingDirectory, clock);

    /// <summary>Starts <c>dotnet PROGRAM ARGUMENTS</c> from the test's output folder, e.g. the cheating worker.</summary>
    /// <param name="name">A short name for messages.</param>
    /// <param name="programFile">The program's .dll in the test's output folder, copied there by a project reference.</param>
    /// <param name="arguments">The command line after the program.</param>
    /// <param name="environment">Variables to set (null removes one) on top of this process's environment.</param>
    /// <param name="workingDirectory">The process's current folder.</param>
    /// <param name="clock">Runs since the test began; stamps every line.</param>
    public static FarmProcess Start(
        string name,
        string programFile,
        IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string?> environment,
        string workingDirectory,
        Stopwatch clock)
    {
        string program = Path.Combine(AppContext.BaseDirectory, programFile);
        if (!File.Exists(program))
        {
            throw new InvalidOperationException($"{program} is missing; a project reference of the test project copies it there.");
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add(program);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string? value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var farmProcess = new FarmProcess(name, process, clock);
        process.OutputDataReceived += (_, line) => farmProcess.Append("out", line.Data);
        process.ErrorDataReceived += (_, line) => farmProcess.Append("err", line.Data);
        process.Exited += (_, _) => farmProcess._exited.TrySetResult();
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {name}.");
        }

        farmProcess.Id = process.Id;
        farmProcess.Append("---", $"started pid {process.Id}: dotnet {string.Join(' ', start.ArgumentList)}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return farmProcess;
    }

    /// <summary>Waits for a printed line that matches, failing early when the process exits first.</summary>
    /// <returns>The line, without its stamp.</returns>
    /// <exception cref="TimeoutException">No such line came in time, or the process ended without one.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        int seen = 0;
        while (true)
        {
            bool exited = HasExited;
            lock (_lines)
            {
                for (; seen < _lines.Count; seen++)
                {
                    string text = Unstamped(_lines[seen]);
                    if (match(text))
                    {
                        return text;
                    }
                }
            }

            if (exited)
            {
                // The output handlers may still be draining; give them a moment before giving up.
                await _process.WaitForExitAsync();
                lock (_lines)
                {
                    if (seen < _lines.Count)
                    {
                        continue;
                    }
                }

                throw new TimeoutException($"{Name} exited with code {_process.ExitCode} before printing {what}.");
            }

            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"{Name} did not print {what} within {timeout.TotalSeconds:0} s.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Waits for the process to end.</summary>
    /// <returns>False when it still runs after <paramref name="timeout"/>.</returns>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        if (await Task.WhenAny(_exited.Task, Task.Delay(timeout)) != _exited.Task)
        {
            return false;
        }

        // Also waits for the end of the redirected output.
        await _process.WaitForExitAsync();
        return true;
    }

    /// <summary>Sends SIGTERM, as a service manager or <c>docker stop</c> would.</summary>
    public void Terminate()
    {
        StopRequested = true;
        Append("---", "sending SIGTERM");
        if (Kill(Id, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill({Id}, SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Kills the process and its children at once (SIGKILL), as a crash or power cut would.</summary>
    public void KillNow()
    {
        if (HasExited)
        {
            return;
        }

        StopRequested = true;
        Append("---", "sending SIGKILL");
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It ended in between.
        }
    }

    /// <summary>Kills the process if it still runs and waits briefly for it to go.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        KillNow();
        if (_process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            _exitCode = _process.ExitCode;
        }

        _process.Dispose();
    }

    private static string Unstamped(string line)
    {
        int end = line.IndexOf("] ", StringComparison.Ordinal);
        return end < 0 ? line : line[(end + 2)..];
    }

    private void Append(string stream, string? text)
    {
        if (text is null)
        {
            return;
        }

        string line = string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,7:0.000} {Name} {stream}] {text}");
        lock (_lines)
        {
            _lines.Add(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
