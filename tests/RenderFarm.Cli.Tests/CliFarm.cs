using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator;
using RenderFarm.Worker;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// A real coordinator on loopback (embedded backends in a temp folder) that the command line reaches through a
/// settings file (<c>RENDERFARM_CONFIG</c>), and, when started, in-process workers on the local Vulkan device.
/// </summary>
internal sealed class CliFarm : IAsyncDisposable
{
    private readonly List<(WorkerAgent Agent, Task Running)> _workers = [];
    private readonly CancellationTokenSource _stop = new();

    private CliFarm(CoordinatorHost host, string folder, string operatorKey)
    {
        OperatorKey = operatorKey;
        Host = host;
        Folder = folder;
        ConfigPath = Path.Combine(folder, "config.json");
        File.WriteAllText(ConfigPath, JsonSerializer.Serialize(new { coordinator = host.Address.AbsoluteUri, keyFile = "client.key" }));
    }

    public CoordinatorHost Host { get; }

    /// <summary>The operator's key (X-Operator-Key), e.g. to issue API keys.</summary>
    public string OperatorKey { get; }

    public string Folder { get; }

    /// <summary>The settings file naming the coordinator and the client key file beside it.</summary>
    public string ConfigPath { get; }

    /// <summary>The environment that makes the command line use this farm with no options.</summary>
    public Dictionary<string, string?> Environment => new()
    {
        ["RENDERFARM_CONFIG"] = ConfigPath,
        ["RENDERFARM_COORDINATOR"] = null,
        ["RENDERFARM_KEY"] = null,
        ["RENDERFARM_API_KEY"] = null,
    };

    public static async Task<CliFarm> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-cli-farm-").FullName;
        var values = new Dictionary<string, string?>
        {
            ["Coordinator:SpotChecks"] = "false",
            ["Coordinator:CanaryRate"] = "0",
            ["Coordinator:TokenSigningKey"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            ["Coordinator:SpotCheckSecret"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            ["Coordinator:OperatorKey"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
        };
        foreach ((string name, string? value) in settings ?? new Dictionary<string, string?>())
        {
            values[name] = value;
        }

        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        CoordinatorHost host = await CoordinatorHost.StartAsync(
            "http://127.0.0.1:0",
            CoordinatorBackends.CreateEmbedded(Path.Combine(folder, "objects")),
            configuration,
            builder => builder.Logging.ClearProviders());
        return new CliFarm(host, folder, values["Coordinator:OperatorKey"]!);
    }

    /// <summary>Starts a worker with a key of its own: a provider of its own.</summary>
    public void StartWorker()
    {
        int index = _workers.Count;
        WorkerAgent agent = WorkerAgent.Create(new WorkerOptions
        {
            Coordinator = Host.Address,
            KeyFile = Path.Combine(Folder, $"provider{index}.key"),
            CacheDirectory = Path.Combine(Folder, $"cache{index}"),
            Name = $"cli-test-{index}",
            LeaseWaitSeconds = 1,
        });
        _workers.Add((agent, agent.RunAsync(_stop.Token)));
    }

    public Task<CliResult> RunAsync(params string[] arguments) => CliRunner.RunAsync(Environment, arguments);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach ((WorkerAgent agent, Task running) in _workers)
        {
            await running;
            agent.Dispose();
        }

        await Host.DisposeAsync();
        _stop.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
