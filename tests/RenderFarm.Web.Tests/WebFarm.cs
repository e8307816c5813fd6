using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Nethereum.Signer;
using RenderFarm.Coordinator;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using RenderFarm.Worker;

namespace RenderFarm.Web.Tests;

/// <summary>
/// A real coordinator on loopback (embedded stores, spot checks on) with two in-process workers rendering on the local
/// Vulkan device, two client accounts with API keys, and headless Debian chromium driven by Playwright. One farm for all
/// the browser facts (<see cref="WebFarmCollection"/>), which keep screenshots of every page under <c>TestResults/web</c>.
/// </summary>
public sealed class WebFarm : IAsyncLifetime
{
    public const string OperatorKey = "operator-key-for-the-web-tests";

    /// <summary>Debian's chromium; Playwright's own browser download is not used.</summary>
    public const string Chromium = "/usr/bin/chromium";

    private readonly CancellationTokenSource _stopWorkers = new();
    private readonly List<(WorkerAgent Agent, Task Run)> _workers = [];
    private DirectoryInfo? _data;
    private CoordinatorHost? _host;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public CoordinatorHost Host => _host ?? throw new InvalidOperationException("Not started.");

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("Not started.");

    /// <summary>The first account (an artist) and its API key.</summary>
    public EthECKey Artist { get; } = EthECKey.GenerateKey();

    public string ArtistApiKey { get; private set; } = "";

    /// <summary>Another account, which must never see the artist's jobs.</summary>
    public EthECKey Other { get; } = EthECKey.GenerateKey();

    public string OtherApiKey { get; private set; } = "";

    /// <summary>The providers' addresses.</summary>
    public IReadOnlyList<string> Providers { get; private set; } = [];

    /// <summary>Where screenshots are kept.</summary>
    public static string Screenshots { get; } = RepositoryPaths.Combine("TestResults/web");

    public async Task InitializeAsync()
    {
        _data = Directory.CreateTempSubdirectory("renderfarm-web-tests-");
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Coordinator:SpotChecks"] = "true",
            ["Coordinator:OperatorKey"] = OperatorKey,
        }).Build();
        _host = await CoordinatorHost.StartAsync(
            "http://127.0.0.1:0",
            CoordinatorBackends.CreateEmbedded(Path.Combine(_data.FullName, "objects")),
            configuration,
            builder =>
            {
                builder.Environment.EnvironmentName = "Development";
                if (Environment.GetEnvironmentVariable("RENDERFARM_TEST_LOGS") is null)
                {
                    builder.Logging.ClearProviders();
                }
            });

        var providers = new List<string>();
        for (int i = 1; i <= 2; i++)
        {
            var options = new WorkerOptions
            {
                Coordinator = _host.Address,
                KeyFile = Path.Combine(_data.FullName, $"worker-{i}.key"),
                CacheDirectory = Path.Combine(_data.FullName, $"worker-{i}"),
                Name = $"web-test-{i}",
                LeaseWaitSeconds = 1,
            };
            WorkerAgent agent = WorkerAgent.Create(options);
            providers.Add(ProviderKey.LoadOrCreate(options.KeyFile).Address);
            _workers.Add((agent, Task.Run(() => agent.RunAsync(_stopWorkers.Token))));
        }

        Providers = providers;
        ArtistApiKey = await IssueApiKeyAsync(Artist.GetPublicAddress());
        OtherApiKey = await IssueApiKeyAsync(Other.GetPublicAddress());
        Directory.CreateDirectory(Screenshots);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium, Headless = true });
    }

    /// <summary>A fresh browser session (its own cookies) on the farm.</summary>
    public async Task<IPage> NewPageAsync()
    {
        IBrowserContext context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Host.Address.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            AcceptDownloads = true,
        });
        // A deadline for each step on a loaded machine, not a timing: a slow step only waits longer.
        context.SetDefaultTimeout(60_000);
        return await context.NewPageAsync();
    }

    /// <summary>Signs a fresh browser session in with an API key and returns its page, on the jobs list.</summary>
    public async Task<IPage> SignInAsync(string apiKey)
    {
        IPage page = await NewPageAsync();
        await page.GotoAsync("/signin");
        await page.GetByLabel("API key", new() { Exact = true }).FillAsync(apiKey);
        IResponse answer = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Sign in with the API key" }).ClickAsync(),
            response => response.Request.Method == "POST" && response.Url.EndsWith("/signin", StringComparison.Ordinal));
        await page.WaitForLoadStateAsync(LoadState.DOMContentLoaded);
        if (answer.Status != 302 || !page.Url.EndsWith("/jobs", StringComparison.Ordinal))
        {
            string reason = await page.Locator(".error").CountAsync() > 0 ? await page.Locator(".error").InnerTextAsync() : await page.ContentAsync();
            Assert.Fail($"Signing in answered {answer.Status} and went to {page.Url}: {reason}");
        }

        return page;
    }

    /// <summary>Saves a whole-page screenshot as <c>TestResults/web/NAME.png</c>.</summary>
    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = true });

    /// <summary>The Cornell box sample, the scene the browser facts render.</summary>
    public static string Scene => RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");

    /// <summary>Uploads <see cref="Scene"/> and submits a small, cheap render of <paramref name="frames"/> through the API as the key's account.</summary>
    /// <returns>The job's id.</returns>
    public async Task<string> SubmitThroughApiAsync(string apiKey, string frames = "1-2")
    {
        using HttpClient client = ApiClient(apiKey);
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        using var content = new ByteArrayContent(File.ReadAllBytes(Scene));
        content.Headers.ContentType = new("application/octet-stream");
        using HttpResponseMessage uploaded = await client.PostAsync("api/scenes?name=cornell-box.glb", content);
        uploaded.EnsureSuccessStatusCode();
        SceneUploaded scene = (await uploaded.Content.ReadFromJsonAsync<SceneUploaded>(json))!;
        using HttpResponseMessage submitted = await client.PostAsJsonAsync("api/jobs", new { sceneSha256 = scene.Sha256, frames, size = "32x32", samplesPerPixel = 2 });
        submitted.EnsureSuccessStatusCode();
        return (await submitted.Content.ReadFromJsonAsync<JobSummary>(json))!.Id.ToString();
    }

    /// <summary>An HTTP client of the API with the given API key.</summary>
    public HttpClient ApiClient(string apiKey)
    {
        var client = new HttpClient { BaseAddress = Host.Address };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("ApiKey", apiKey);
        return client;
    }

    /// <summary>
    /// An API key of a new account with no jobs: for a fact that needs an empty jobs list whichever facts ran before it
    /// on this farm.
    /// </summary>
    public Task<string> NewAccountApiKeyAsync() => IssueApiKeyAsync(EthECKey.GenerateKey().GetPublicAddress());

    private async Task<string> IssueApiKeyAsync(string account)
    {
        using var client = new HttpClient { BaseAddress = Host.Address };
        client.DefaultRequestHeaders.Add("X-Operator-Key", OperatorKey);
        using HttpResponseMessage response = await client.PostAsJsonAsync("api/keys", new CreateApiKeyRequest(account));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<ApiKeyIssued>(new JsonSerializerOptions(JsonSerializerDefaults.Web)))!.Key;
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await _stopWorkers.CancelAsync();
        foreach ((WorkerAgent agent, Task run) in _workers)
        {
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }

            agent.Dispose();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        _stopWorkers.Dispose();
        _data?.Delete(recursive: true);
    }
}
