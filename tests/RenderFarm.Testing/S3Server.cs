using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RenderFarm.Testing;

/// <summary>
/// A throwaway S3-compatible server: s3rver (npm, from <c>tests/services</c>) on a free loopback port
/// with a temporary data folder. Disposing kills it and deletes the folder.
/// </summary>
public sealed partial class S3Server : IAsyncDisposable
{
    /// <summary>The access key id s3rver accepts.</summary>
    public const string AccessKey = "S3RVER";

    /// <summary>The secret access key s3rver accepts.</summary>
    public const string SecretKey = "S3RVER";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    private readonly Lock _sync = new();
    private readonly string _script;
    private readonly string _folder;
    private readonly StringBuilder _output;
    private Process _process;
    private bool _disposed;

    private S3Server(Process process, string script, string folder, StringBuilder output, Uri serviceUrl)
    {
        _process = process;
        _script = script;
        _folder = folder;
        _output = output;
        ServiceUrl = serviceUrl;
        Watch(process);
    }

    /// <summary>The server's endpoint, e.g. <c>http://127.0.0.1:41234/</c>; use path-style addressing.</summary>
    public Uri ServiceUrl { get; }

    /// <summary>Starts s3rver and waits until it listens.</summary>
    /// <exception cref="InvalidOperationException">Node or the npm packages are missing, or s3rver did not start.</exception>
    public static async Task<S3Server> StartAsync(CancellationToken cancellationToken = default)
    {
        string script = RepositoryPaths.Combine("tests/services/node_modules/s3rver/bin/s3rver.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException(
                $"s3rver is not installed ({script} is missing); run scripts/install-deps.sh --dev (or npm ci --prefix tests/services).");
        }

        string folder = Directory.CreateTempSubdirectory("renderfarm-s3-").FullName;
        // Port 0: s3rver binds a free port and prints it, so no other process can take it in between.
        ProcessStartInfo start = StartInfo(script, folder, 0);

        var output = new StringBuilder();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            Directory.Delete(folder, recursive: true);
            throw new InvalidOperationException("Node.js is not installed; run scripts/install-deps.sh --dev.", exception);
        }

        void OnLine(object sender, DataReceivedEventArgs line)
        {
            if (line.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(line.Data);
            }

            Match match = ListeningLine().Match(line.Data);
            if (match.Success)
            {
                listening.TrySetResult(new Uri(string.Create(
                    CultureInfo.InvariantCulture,
                    $"http://{match.Groups["address"].Value}:{match.Groups["port"].Value}/")));
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Task exited = process.WaitForExitAsync(cancellationToken);
            Task first = await Task.WhenAny(listening.Task, exited, Task.Delay(s_startTimeout, cancellationToken)).ConfigureAwait(false);
            if (first != listening.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string printed;
                lock (output)
                {
                    printed = output.ToString();
                }

                throw new InvalidOperationException(
                    $"s3rver did not start within {s_startTimeout.TotalSeconds:0} s{(process.HasExited ? $" (exit code {process.ExitCode})" : "")}: {printed}");
            }

            return new S3Server(process, script, folder, output, await listening.Task.ConfigureAwait(false));
        }
        catch
        {
            await StopAsync(process, folder).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>What s3rver printed so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Kills the server and deletes its data folder.</summary>
    public async ValueTask DisposeAsync()
    {
        Process process;
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            process = _process;
        }

        await StopAsync(process, _folder).ConfigureAwait(false);
    }

    // s3rver 3.7 occasionally dies under many concurrent requests (it exits; the cause is inside s3rver). A test
    // server that vanished would fail every later test of the run, so it is started again on the same port and data
    // folder: clients see a short outage, which they retry like any other, and every stored object is still there.
    private void Watch(Process process)
    {
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            lock (_sync)
            {
                if (_disposed || !ReferenceEquals(process, _process))
                {
                    return;
                }

                lock (_output)
                {
                    _output.AppendLine(string.Create(CultureInfo.InvariantCulture, $"s3rver exited with code {process.ExitCode}; starting it again on port {ServiceUrl.Port}."));
                }

                Process restarted = Process.Start(StartInfo(_script, _folder, ServiceUrl.Port))!;
                restarted.OutputDataReceived += (_, line) => Append(line.Data);
                restarted.ErrorDataReceived += (_, line) => Append(line.Data);
                restarted.BeginOutputReadLine();
                restarted.BeginErrorReadLine();
                _process = restarted;
                Watch(restarted);
            }
        };
    }

    private static ProcessStartInfo StartInfo(string script, string folder, int port)
    {
        var start = new ProcessStartInfo { FileName = "node", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[script, "-d", folder, "-a", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "--silent", "--no-vhost-buckets"])
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static async Task StopAsync(Process process, string folder)
    {
        try
        {
            await ServiceProcesses.KillAsync(process).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [GeneratedRegex(@"S3rver listening on (?<address>[0-9.]+):(?<port>\d+)")]
    private static partial Regex ListeningLine();
}
