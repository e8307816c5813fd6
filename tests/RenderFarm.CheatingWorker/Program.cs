using System.Runtime.InteropServices;
using RenderFarm.CheatingWorker;
using RenderFarm.Worker;

// A provider that signs in and leases like `renderfarm worker`, but delivers frames faked in one way:
//   RenderFarm.CheatingWorker --coordinator URL --cheat KIND [--key FILE] [--cache DIR] [--name NAME]
// It serves only the render queue: it cannot render tiles, so it never judges other providers.

Dictionary<string, string> options;
try
{
    options = ParseOptions(args);
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync($"cheating worker: {ex.Message}{Environment.NewLine}usage: --coordinator URL --cheat {string.Join('|', CheatNames.All)} [--key FILE] [--cache DIR] [--name NAME]");
    return 2;
}

if (CheatNames.Parse(options["--cheat"]) is not { } cheat)
{
    await Console.Error.WriteLineAsync($"cheating worker: unknown cheat '{options["--cheat"]}'; one of {string.Join(", ", CheatNames.All)}.");
    return 2;
}

using var stop = new CancellationTokenSource();
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

ProviderKey key = ProviderKey.LoadOrCreate(options.GetValueOrDefault("--key", "provider.key"));
using var honest = new VulkanFrameRenderer();
var renderer = new CheatingFrameRenderer(honest, cheat);
string baseUrl = options["--coordinator"];
using var http = new HttpClient
{
    BaseAddress = new Uri(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/"),
    Timeout = Timeout.InfiniteTimeSpan,
};
var events = new ConsoleLines();
string device = options.TryGetValue("--name", out string? name) ? $"{name}: {renderer.DeviceName}" : renderer.DeviceName;
var client = new FarmClient(http, key, device, events);
using var agent = new WorkerAgent(
    client,
    renderer,
    new WorkerOptions
    {
        Coordinator = http.BaseAddress,
        KeyFile = key.Path,
        CacheDirectory = options.GetValueOrDefault("--cache", WorkerOptions.DefaultCacheDirectory),
        Queues = ["render"],
        Name = name,
    },
    events);
Console.WriteLine($"Cheating by delivering {CheatNames.NameOf(cheat)} frames as {key.Address}.");
await agent.RunAsync(stop.Token);
Console.WriteLine("Worker stopped.");
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

static Dictionary<string, string> ParseOptions(string[] args)
{
    string[] known = ["--coordinator", "--cheat", "--key", "--cache", "--name"];
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    for (int i = 0; i < args.Length; i += 2)
    {
        if (!known.Contains(args[i]) || i + 1 >= args.Length)
        {
            throw new ArgumentException($"unexpected '{args[i]}'.");
        }

        options[args[i]] = args[i + 1];
    }

    foreach (string required in (string[])["--coordinator", "--cheat"])
    {
        if (!options.ContainsKey(required))
        {
            throw new ArgumentException($"{required} is required.");
        }
    }

    return options;
}

/// <summary>Prints each worker event as it happens, in order, one line each.</summary>
internal sealed class ConsoleLines : IProgress<WorkerEvent>
{
    /// <inheritdoc/>
    public void Report(WorkerEvent value) => Console.WriteLine(value.Message);
}
