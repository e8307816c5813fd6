using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// What of docker-compose.yml can be checked without a Docker engine: the image's entry point and the bucket script,
/// run directly, and the compose file's promises (pinned images, a key per worker, no secret placeholders).
/// </summary>
public sealed partial class ComposeFacts
{
    private static readonly string s_entrypoint = RepositoryPaths.Combine("docker/entrypoint.sh");
    private static readonly string s_createBucket = RepositoryPaths.Combine("docker/create-bucket.sh");

    [Fact]
    public async Task The_health_check_passes_on_200_only()
    {
        using HealthServer server = HealthServer.Start();

        Assert.Equal(0, (await RunAsync([s_entrypoint, "health", $"{server.Url}health"])).ExitCode);
        Assert.Equal(1, (await RunAsync([s_entrypoint, "health", $"{server.Url}other"])).ExitCode);
        Assert.Equal(1, (await RunAsync([s_entrypoint, "health", $"http://127.0.0.1:{LoopbackPort.Free()}/health"])).ExitCode);
    }

    [Fact]
    public async Task The_coordinator_starts_once_its_database_and_store_answer_and_gives_up_in_one_line()
    {
        using HealthServer server = HealthServer.Start();
        var ready = new Dictionary<string, string>
        {
            ["RENDERFARM_PROGRAM"] = "echo",
            ["ConnectionStrings__Postgres"] = $"Host=127.0.0.1;Port={server.Port};Username=renderfarm",
            ["Storage__S3__ServiceUrl"] = server.Url.AbsoluteUri,
        };

        (int exitCode, string output, _) = await RunAsync([s_entrypoint, "coordinator", "--urls", "http://0.0.0.0:5080"], ready);
        Assert.Equal(0, exitCode);
        Assert.Equal("coordinator --urls http://0.0.0.0:5080", output.Trim());

        ready["ConnectionStrings__Postgres"] = $"Host=127.0.0.1;Port={LoopbackPort.Free()}";
        ready["RENDERFARM_WAIT_SECONDS"] = "2";
        (exitCode, output, string error) = await RunAsync([s_entrypoint, "coordinator"], ready);
        Assert.Equal(1, exitCode);
        Assert.Empty(output);
        Assert.Matches(@"^entrypoint: PostgreSQL at 127\.0\.0\.1:\d+ did not answer within 2s", error.Trim());
    }

    [Fact]
    public async Task A_worker_starts_once_the_coordinator_is_healthy()
    {
        using HealthServer server = HealthServer.Start();
        var environment = new Dictionary<string, string> { ["RENDERFARM_PROGRAM"] = "echo", ["RENDERFARM_WAIT_SECONDS"] = "2" };

        (int exitCode, string output, _) = await RunAsync([s_entrypoint, "worker", "--coordinator", server.Url.AbsoluteUri, "--key", "/keys/provider.key"], environment);
        Assert.Equal(0, exitCode);
        Assert.Equal($"worker --coordinator {server.Url.AbsoluteUri} --key /keys/provider.key", output.Trim());

        Assert.Equal(1, (await RunAsync([s_entrypoint, "worker", "--coordinator", $"http://127.0.0.1:{LoopbackPort.Free()}"], environment)).ExitCode);
    }

    // Guards: the bucket was created once, with no retry, so a MinIO still starting left the farm without a bucket.
    [Fact]
    public async Task Bucket_creation_retries_until_the_store_takes_it()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-bucket-").FullName;
        try
        {
            // An mc that refuses "mb" twice, as MinIO does while it starts, and records what it was asked.
            string mc = Path.Combine(folder, "mc");
            await File.WriteAllTextAsync(mc, $"""
                #!/bin/sh
                n=$(cat '{folder}/count' 2>/dev/null || echo 0)
                if [ "$1" = "mb" ]; then n=$((n+1)); echo $n > '{folder}/count'; [ $n -ge 3 ] || exit 1; echo "$@" > '{folder}/made'; fi
                exit 0
                """.Replace("\r\n", "\n", StringComparison.Ordinal));
            var environment = new Dictionary<string, string> { ["MC"] = $"sh {mc}", ["S3_ACCESS_KEY"] = "renderfarm", ["S3_SECRET_KEY"] = "secret" };

            (int exitCode, _, _) = await RunAsync(["sh", s_createBucket], environment, viaBash: false);
            Assert.Equal(0, exitCode);
            Assert.Equal("mb --ignore-existing farm/renderfarm", (await File.ReadAllTextAsync(Path.Combine(folder, "made"))).Trim());

            File.Delete(Path.Combine(folder, "count"));
            environment["ATTEMPTS"] = "2";
            (exitCode, _, string error) = await RunAsync(["sh", s_createBucket], environment, viaBash: false);
            Assert.Equal(1, exitCode);
            Assert.Contains("did not accept bucket renderfarm after 2 attempts", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Guards: `minio/minio:latest` (no longer published) and one key volume shared by every worker replica, which made
    // all workers one provider, so spot checks never found a second.
    [Fact]
    public void Images_are_pinned_and_every_worker_has_a_key_of_its_own()
    {
        string compose = File.ReadAllText(RepositoryPaths.Combine("docker-compose.yml"));

        string[] images = [.. ImageLine().Matches(compose).Select(m => m.Groups[1].Value)];
        Assert.NotEmpty(images);
        Assert.All(images, image => Assert.Matches(@"^[\w./-]+:[\w.-]+$", image));
        Assert.DoesNotContain(images, image => image.EndsWith(":latest", StringComparison.Ordinal));
        string[] keyVolumes = [.. KeyVolume().Matches(compose).Select(m => m.Groups[1].Value)];
        Assert.True(keyVolumes.Length >= 2, compose);
        Assert.Equal(keyVolumes.Length, keyVolumes.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains("NVIDIA_DRIVER_CAPABILITIES: compute,graphics,utility", compose, StringComparison.Ordinal);
        Assert.Contains("Storage__S3__PublicServiceUrl", compose, StringComparison.Ordinal);

        foreach (string dockerfileImage in FromLine().Matches(File.ReadAllText(RepositoryPaths.Combine("src/RenderFarm.Cli/Dockerfile"))).Select(m => m.Groups[1].Value))
        {
            Assert.Matches(@":\d+\.\d+\.\d+", dockerfileImage);
        }
    }

    [Fact]
    public void The_env_template_holds_no_value_that_could_pass_for_a_secret()
    {
        string[] settings = [.. File.ReadAllLines(RepositoryPaths.Combine(".env.example")).Where(l => l.Length > 0 && !l.StartsWith('#'))];

        Assert.NotEmpty(settings);
        Assert.All(settings, line => Assert.EndsWith("=", line, StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^\s*image:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ImageLine();

    [GeneratedRegex(@"volumes:\s*\[([\w-]+):/keys\]")]
    private static partial Regex KeyVolume();

    [GeneratedRegex(@"^FROM\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex FromLine();

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string[] command, Dictionary<string, string>? environment = null, bool viaBash = true)
    {
        var start = new ProcessStartInfo(viaBash ? "bash" : command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in viaBash ? command : command[1..])
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    // Answers 200 on /health and 404 elsewhere, like the coordinator's health endpoint.
    private sealed class HealthServer : IDisposable
    {
        private readonly HttpListener _listener = new();

        private HealthServer(int port)
        {
            Port = port;
            Url = new Uri($"http://127.0.0.1:{port}/");
            _listener.Prefixes.Add(Url.AbsoluteUri);
            _listener.Start();
            _ = ServeAsync();
        }

        public int Port { get; }

        public Uri Url { get; }

        public static HealthServer Start() => new(LoopbackPort.Free());

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                context.Response.StatusCode = context.Request.Url?.AbsolutePath == "/health" ? 200 : 404;
                await context.Response.OutputStream.WriteAsync("Healthy"u8.ToArray());
                context.Response.Close();
            }
        }
    }
}
