using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Nethereum.Signer;
using RenderFarm.Client;
using RenderFarm.Coordinator;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using RenderFarm.Worker;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// <c>render --coordinator</c> signs in: with a key file (created on first use) whose account then owns the job, or with
/// an API key; a refused sign-in is one line and exit code 2.
/// </summary>
public sealed class ClientSignInFacts : IAsyncLifetime
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private readonly string _folder = Directory.CreateTempSubdirectory("renderfarm-cli-signin-").FullName;
    private CoordinatorHost? _host;

    [Fact]
    [Trait("Category", "Gpu")]
    public async Task Render_on_a_coordinator_signs_in_with_a_new_key_file_whose_account_owns_the_job()
    {
        CoordinatorHost host = await StartCoordinatorAsync();
        using var stop = new CancellationTokenSource();
        using WorkerAgent worker = WorkerAgent.Create(new WorkerOptions
        {
            Coordinator = host.Address,
            KeyFile = Path.Combine(_folder, "provider.key"),
            CacheDirectory = Path.Combine(_folder, "cache"),
            Name = "cli-test",
            LeaseWaitSeconds = 1,
        });
        Task running = worker.RunAsync(stop.Token);
        string key = Path.Combine(_folder, "client.key");
        string output = Path.Combine(_folder, "frames");

        CliResult result = await CliRunner.RunAsync(
            "render", s_cornellBox, "--frames", "1", "--size", "16x16", "--spp", "1", "--coordinator", host.Address.AbsoluteUri, "--key", key, "--out", output);
        await stop.CancelAsync();
        await running;

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.True(File.Exists(Path.Combine(output, "frame_0001.png")));
        ProviderKey client = ProviderKey.LoadOrCreate(key);
        Assert.False(client.WasCreated);
        using HttpClient owner = SignedIn(host, client.Address, client.Sign);
        Assert.Single((await owner.GetFromJsonAsync<List<JobSummary>>("api/jobs", s_json))!);
        EthECKey stranger = EthECKey.GenerateKey();
        using HttpClient other = SignedIn(host, stranger.GetPublicAddress(), message => new EthereumMessageSigner().EncodeUTF8AndSign(message, stranger));
        Assert.Empty((await other.GetFromJsonAsync<List<JobSummary>>("api/jobs", s_json))!);
    }

    [Fact]
    public async Task An_unknown_api_key_is_refused_in_one_line_with_exit_code_2()
    {
        CoordinatorHost host = await StartCoordinatorAsync();
        string unknown = $"rfk_{new string('a', 24)}_{new string('b', 64)}";

        CliResult result = await CliRunner.RunAsync(
            "render", s_cornellBox, "--coordinator", host.Address.AbsoluteUri, "--api-key", unknown, "--out", Path.Combine(_folder, "frames"));

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("renderfarm: error: The coordinator answered 401", result.Error, StringComparison.Ordinal);
        Assert.Contains("API key is not valid", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--key", "k.key", "--api-key", "rfk_x", "not both")]
    [InlineData("--budget", "5", "--api-key", "rfk_x", "leave out --api-key")]
    public async Task Contradicting_sign_in_options_are_refused(string option1, string value1, string option2, string value2, string expected)
    {
        CliResult result = await CliRunner.RunAsync(
            "render", s_cornellBox, "--coordinator", "http://127.0.0.1:1", option1, value1, option2, value2, "--ledger-key", Path.Combine(_folder, "none.key"),
            "--rpc", "http://127.0.0.1:1", "--out", Path.Combine(_folder, "frames"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }

    private static HttpClient SignedIn(CoordinatorHost host, string address, Func<string, string> sign) =>
        new(CoordinatorSignIn.WithKey(host.Address, address, sign)) { BaseAddress = host.Address };

    private async Task<CoordinatorHost> StartCoordinatorAsync()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Coordinator:SpotChecks"] = "false",
                ["Coordinator:CanaryRate"] = "0",

                // Outside Development the coordinator starts only with real secrets.
                ["Coordinator:TokenSigningKey"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
                ["Coordinator:SpotCheckSecret"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
                ["Coordinator:OperatorKey"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            })
            .Build();
        _host = await CoordinatorHost.StartAsync(
            "http://127.0.0.1:0",
            CoordinatorBackends.CreateEmbedded(Path.Combine(_folder, "objects")),
            configuration,
            builder => builder.Logging.ClearProviders());
        return _host;
    }
}
