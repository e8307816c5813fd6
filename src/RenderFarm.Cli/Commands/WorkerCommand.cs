using System.CommandLine;
using RenderFarm.Cli.Terminal;
using RenderFarm.Core;
using RenderFarm.Worker;

namespace RenderFarm.Cli.Commands;

/// <summary><c>renderfarm worker</c>: a provider agent that leases frame tasks from a coordinator and renders them.</summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var coordinator = new Option<string>("--coordinator") { Description = "The coordinator's URL, e.g. http://farm.example:5080.", Required = true };
        var key = new Option<string>("--key") { Description = "File holding the provider's Ethereum key (created on first run).", DefaultValueFactory = _ => "provider.key" };
        var device = new Option<int?>("--device") { Description = "Vulkan device index (see 'renderfarm devices')." };
        var cache = new Option<string?>("--cache") { Description = "Folder for cached scenes and frames being uploaded." };
        var name = new Option<string?>("--name") { Description = "A name shown to the operator next to the device." };
        var command = new Command("worker", "Serve a coordinator as a provider: lease frame tasks, render them on the local Vulkan device, upload.")
        {
            coordinator, key, device, cache, name,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                var options = new WorkerOptions
                {
                    Coordinator = ParseUrl(result.GetValue(coordinator)!),
                    KeyFile = result.GetValue(key)!,
                    DeviceIndex = result.GetValue(device),
                    CacheDirectory = result.GetValue(cache) ?? WorkerOptions.DefaultCacheDirectory,
                    Name = result.GetValue(name),
                };
                var events = new SynchronousProgress<WorkerEvent>(e => Console.WriteLine(e.Message));
                using WorkerAgent agent = WorkerAgent.Create(options, events);
                try
                {
                    await agent.RunAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (FarmRequestException refused)
                {
                    throw new UserInputException($"The coordinator refused this provider: {refused.Message}", refused);
                }

                Console.WriteLine("Worker stopped.");
                return 0;
            },
            CancellationToken.None));
        return command;
    }

    /// <summary>Parses an absolute http(s) URL or explains what is wrong with it.</summary>
    public static Uri ParseUrl(string text)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out Uri? url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps))
        {
            return url;
        }

        throw new UserInputException($"'{text}' is not an http(s) URL; write e.g. http://127.0.0.1:5080.");
    }
}
