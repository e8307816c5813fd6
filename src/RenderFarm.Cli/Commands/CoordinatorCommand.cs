using System.CommandLine;
using Microsoft.Extensions.Configuration;
using RenderFarm.Coordinator;
using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm coordinator</c>: the farm's coordinator (client and provider APIs, Hangfire server and
/// dashboard) on the stores its configuration names: PostgreSQL with <c>ConnectionStrings__Postgres</c>,
/// S3 with <c>Storage__S3__ServiceUrl</c> and friends, in-memory and a local folder otherwise.
/// </summary>
internal static class CoordinatorCommand
{
    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "Where to listen.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
        var config = new Option<string?>("--config") { Description = "A JSON settings file (environment variables override it, e.g. ConnectionStrings__Postgres)." };
        var command = new Command("coordinator", "Run the farm's coordinator: APIs for clients and providers, Hangfire server and dashboard.")
        {
            urls, config,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                string? configPath = result.GetValue(config);
                if (configPath is not null && !File.Exists(configPath))
                {
                    throw new UserInputException($"Settings file '{configPath}' does not exist.");
                }

                var builder = new ConfigurationBuilder();
                if (configPath is not null)
                {
                    builder.AddJsonFile(Path.GetFullPath(configPath), optional: false);
                }

                IConfiguration configuration = builder.AddEnvironmentVariables().Build();
                await using CoordinatorHost host = await CoordinatorHost.StartFromConfigurationAsync(result.GetValue(urls)!, configuration, cancellationToken: cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"Coordinator listening on {host.Address} (web app: {host.Address}, dashboard: {host.Address}hangfire, metrics: {host.Address}metrics, API description: {host.Address}openapi/v1.json)");
                await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
                return 0;
            },
            cancellationToken));
        return command;
    }
}
