using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace RenderFarm.Testing;

/// <summary>
/// A throwaway EVM chain: a Hardhat 2 node (npm, from <c>tests/services</c>) on a free loopback port,
/// chain id <see cref="ChainId"/>, mining every transaction at once, in a temporary project folder.
/// Its accounts are Hardhat's well-known test accounts, each funded with 10,000 ETH. Disposing kills
/// it and deletes the folder.
/// </summary>
public sealed partial class HardhatNode : IAsyncDisposable
{
    /// <summary>The chain id the node serves.</summary>
    public const long ChainId = 31337;

    private const int AccountCount = 20;

    // Hardhat 2 needs a project with a config file, and refuses to run unless hardhat resolves from it.
    private const string Config = """
        // Written by RenderFarm.Testing.HardhatNode.
        module.exports = {
          networks: {
            hardhat: {
              chainId: 31337,
              mining: { auto: true },
            },
          },
        };
        """;

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _folder;
    private readonly StringBuilder _output;
    private bool _disposed;

    private HardhatNode(Process process, string folder, StringBuilder output, Uri rpcUrl, IReadOnlyList<string> privateKeys)
    {
        _process = process;
        _folder = folder;
        _output = output;
        RpcUrl = rpcUrl;
        PrivateKeys = privateKeys;
    }

    /// <summary>The node's JSON-RPC endpoint, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri RpcUrl { get; }

    /// <summary>The private keys (0x-prefixed hex) of the node's funded accounts, in Hardhat's order.</summary>
    public IReadOnlyList<string> PrivateKeys { get; }

    /// <summary>What the node printed so far, for failure messages.</summary>
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

    /// <summary>Starts a Hardhat node and waits until its JSON-RPC server listens and it has printed its accounts.</summary>
    /// <exception cref="InvalidOperationException">Node or the npm packages are missing, or Hardhat did not start.</exception>
    public static async Task<HardhatNode> StartAsync(CancellationToken cancellationToken = default)
    {
        string modules = RepositoryPaths.Combine("tests/services/node_modules");
        string cli = Path.Combine(modules, "hardhat", "internal", "cli", "cli.js");
        if (!File.Exists(cli))
        {
            throw new InvalidOperationException(
                $"Hardhat is not installed ({cli} is missing); run scripts/install-deps.sh --dev (or npm ci --prefix tests/services).");
        }

        string folder = Directory.CreateTempSubdirectory("renderfarm-hardhat-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "hardhat.config.js"), Config, cancellationToken).ConfigureAwait(false);
        Directory.CreateSymbolicLink(Path.Combine(folder, "node_modules"), modules);
        var start = new ProcessStartInfo
        {
            FileName = "node",
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Port 0: the node binds a free port and prints it, so no other process can take it in between.
        foreach (string argument in (string[])[cli, "node", "--hostname", "127.0.0.1", "--port", "0"])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["HARDHAT_DISABLE_TELEMETRY_PROMPT"] = "true";
        start.Environment["CI"] = "true";

        var output = new StringBuilder();
        var keys = new List<string>();
        Uri? rpcUrl = null;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
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
                if (ListeningLine().Match(line.Data) is { Success: true } listening)
                {
                    rpcUrl = new Uri(listening.Groups["url"].Value);
                }
                else if (KeyLine().Match(line.Data) is { Success: true } key)
                {
                    keys.Add(key.Groups["key"].Value);
                    if (keys.Count == AccountCount && rpcUrl is not null)
                    {
                        ready.TrySetResult();
                    }
                }
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            Task exited = process.WaitForExitAsync(cancellationToken);
            Task first = await Task.WhenAny(ready.Task, exited, Task.Delay(s_startTimeout, cancellationToken)).ConfigureAwait(false);
            lock (output)
            {
                if (first != ready.Task)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new InvalidOperationException(
                        $"The Hardhat node did not start within {s_startTimeout.TotalSeconds:0} s{(process.HasExited ? $" (exit code {process.ExitCode})" : "")}: {output}");
                }

                return new HardhatNode(process, folder, output, rpcUrl!, [.. keys]);
            }
        }
        catch
        {
            await StopAsync(process, folder).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Moves the chain's block time forward (<c>evm_increaseTime</c>), then mines a block that carries it
    /// (<c>evm_mine</c>). It moves for every contract on the node.
    /// </summary>
    public async Task AdvanceTimeAsync(TimeSpan time, CancellationToken cancellationToken = default)
    {
        await CallAsync("evm_increaseTime", $"[{(long)time.TotalSeconds}]", cancellationToken).ConfigureAwait(false);
        await MineAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Mines one block now (<c>evm_mine</c>), with whatever transactions wait in the node's pool.</summary>
    public Task MineAsync(CancellationToken cancellationToken = default) => CallAsync("evm_mine", "[]", cancellationToken);

    /// <summary>
    /// Switches mining on every transaction on or off (<c>evm_setAutomine</c>). While off, sent transactions wait
    /// in the pool until <see cref="MineAsync"/>; a test that switches it off switches it back on.
    /// </summary>
    public Task SetAutomineAsync(bool automine, CancellationToken cancellationToken = default) =>
        CallAsync("evm_setAutomine", automine ? "[true]" : "[false]", cancellationToken);

    private async Task CallAsync(string method, string parameters, CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        using var request = new StringContent($$"""{"jsonrpc":"2.0","id":1,"method":"{{method}}","params":{{parameters}}}""", Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await http.PostAsync(RpcUrl, request, cancellationToken).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode || body.Contains("\"error\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Hardhat refused {method}: {body}");
        }
    }

    /// <summary>Kills the node and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await StopAsync(_process, _folder).ConfigureAwait(false);
    }

    private static async Task StopAsync(Process process, string folder)
    {
        try
        {
            await ServiceProcesses.KillAsync(process).ConfigureAwait(false);
        }
        finally
        {

            // The folder holds a link to tests/services/node_modules: delete the link, never what it points to.
            foreach (string entry in Directory.EnumerateFileSystemEntries(folder))
            {
                if (File.GetAttributes(entry).HasFlag(FileAttributes.ReparsePoint) || File.Exists(entry))
                {
                    File.Delete(entry);
                }
                else
                {
                    Directory.Delete(entry, recursive: true);
                }
            }

            Directory.Delete(folder);
        }
    }

    [GeneratedRegex(@"JSON-RPC server at (?<url>http://[0-9.]+:\d+/)")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"^Private Key: (?<key>0x[0-9a-fA-F]{64})$")]
    private static partial Regex KeyLine();
}
