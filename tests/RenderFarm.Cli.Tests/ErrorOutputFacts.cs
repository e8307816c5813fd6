using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// The command line's failures the user can act on are one line on standard error and a documented exit code, never a
/// stack trace: a coordinator that cannot be reached (3), one that answers nonsense (4), and a coordinator that cannot
/// start (2: a missing or placeholder secret, a database that is down).
/// </summary>
public sealed class ErrorOutputFacts
{
    // Production, with none of the coordinator's settings inherited from the environment running the tests.
    private static Dictionary<string, string?> Production(params (string Name, string Value)[] settings)
    {
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__Postgres"] = null,
            ["Storage__S3__ServiceUrl"] = null,
            ["Coordinator__TokenSigningKey"] = null,
            ["Coordinator__SpotCheckSecret"] = null,
            ["Coordinator__OperatorKey"] = null,
        };
        foreach ((string name, string value) in settings)
        {
            environment[name] = value;
        }

        return environment;
    }

    private static readonly (string, string)[] s_goodSecrets =
    [
        ("Coordinator__TokenSigningKey", "5c0e2b7a91d84f36a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4e5f6071"),
        ("Coordinator__SpotCheckSecret", "9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddccbbaa99887766554433221100"),
        ("Coordinator__OperatorKey", "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"),
    ];

    private static void AssertOneLine(CliResult result, string mustContain, int exitCode = 2)
    {
        Assert.True(result.ExitCode == exitCode, $"exit code {result.ExitCode}; stderr: {result.Error}");
        string[] lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"Expected one line on stderr, got {lines.Length}:\n{result.Error}");
        Assert.StartsWith("renderfarm: error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(mustContain, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error + result.Output, StringComparison.Ordinal);
    }

    // Guards: `render --coordinator` at an address nobody listens on printed a 24-line HttpRequestException stack trace.
    [Fact]
    public async Task A_coordinator_nobody_answers_at_is_one_line()
    {
        int port = LoopbackPort.Free();
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;
        try
        {
            CliResult result = await CliRunner.RunAsync(
                "render", "samples/cornell-box/cornell-box.glb", "--coordinator", $"http://127.0.0.1:{port}", "--out", output);

            AssertOneLine(result, "cannot reach the coordinator", exitCode: 3);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    // Guards: a coordinator (or a proxy in front of it) answering with an HTML page or JSON null made the command line
    // print a JsonException or NullReferenceException stack trace.
    [Theory]
    [InlineData("<html><body>Welcome to nginx!</body></html>")]
    [InlineData("null")]
    public async Task A_coordinator_answering_nonsense_is_one_line(string body)
    {
        int port = LoopbackPort.Free();
        using var server = new System.Net.HttpListener();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        using var stop = new CancellationTokenSource();
        Task serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                System.Net.HttpListenerContext context;
                try
                {
                    context = await server.GetContextAsync();
                }
                catch (System.Net.HttpListenerException)
                {
                    return;
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                // Drain the upload, then answer 200 with the body, whatever was asked.
                await context.Request.InputStream.CopyToAsync(Stream.Null);
                byte[] answer = System.Text.Encoding.UTF8.GetBytes(body);
                context.Response.StatusCode = 200;
                context.Response.ContentType = body.StartsWith('<') ? "text/html" : "application/json";
                await context.Response.OutputStream.WriteAsync(answer);
                context.Response.Close();
            }
        });
        string output = Directory.CreateTempSubdirectory("renderfarm-cli-").FullName;
        try
        {
            CliResult result = await CliRunner.RunAsync(
                "render", "samples/cornell-box/cornell-box.glb", "--coordinator", $"http://127.0.0.1:{port}", "--out", output);

            AssertOneLine(result, "not the JSON expected", exitCode: 4);
        }
        finally
        {
            await stop.CancelAsync();
            server.Stop();
            await serving;
            Directory.Delete(output, recursive: true);
        }
    }

    // Guards: outside Development a coordinator without a token signing key started with a random one, and one keyed
    // with docker-compose's published placeholder started too, so anyone could forge a token for any address.
    [Theory]
    [InlineData(null, "Coordinator:TokenSigningKey is missing")]
    [InlineData("change-me-to-a-long-random-secret-of-32+-chars", "Coordinator:TokenSigningKey is a well-known placeholder")]
    [InlineData("short", "Coordinator:TokenSigningKey must hold at least 32 characters")]
    public async Task A_coordinator_without_a_usable_secret_refuses_to_start_in_one_line(string? signingKey, string expected)
    {
        Dictionary<string, string?> environment = Production(s_goodSecrets);
        environment["Coordinator__TokenSigningKey"] = signingKey;

        CliResult result = await CliRunner.RunAsync(environment, "coordinator", "--urls", $"http://127.0.0.1:{LoopbackPort.Free()}");

        AssertOneLine(result, expected);
        Assert.Contains("openssl rand -hex 32", result.Error, StringComparison.Ordinal);
    }

    // Guards: a coordinator whose PostgreSQL or S3 store is down printed 48 to 88 lines of "Hosting failed to start"
    // and stack traces.
    [Theory]
    [InlineData("ConnectionStrings__Postgres", "Host=127.0.0.1;Port={0};Username=nobody;Password=nothing;Database=none;Timeout=5")]
    [InlineData("Storage__S3__ServiceUrl", "http://127.0.0.1:{0}")]
    public async Task A_coordinator_whose_store_is_down_is_one_line(string setting, string value)
    {
        // A port that refuses connections: bound by nobody.
        int port = LoopbackPort.Free();
        Dictionary<string, string?> environment = Production(s_goodSecrets);
        environment[setting] = string.Format(System.Globalization.CultureInfo.InvariantCulture, value, port);
        environment["Storage__S3__AccessKey"] = "access";
        environment["Storage__S3__SecretKey"] = "secret-key";

        CliResult result = await CliRunner.RunAsync(environment, "coordinator", "--urls", $"http://127.0.0.1:{LoopbackPort.Free()}");

        AssertOneLine(result, "The coordinator cannot start");
        Assert.Contains("refused", result.Error, StringComparison.OrdinalIgnoreCase);
    }
}
