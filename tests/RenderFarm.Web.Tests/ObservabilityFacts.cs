using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using RenderFarm.Coordinator;
using RenderFarm.Coordinator.Observability;
using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Web.Tests;

/// <summary>The coordinator's request log and its Prometheus metrics.</summary>
// Never beside the browser facts (WebFarmCollection runs alone): while a coordinator of these facts ran in the same
// process, the browser farm's /metrics answered with target_info alone.
public sealed class ObservabilityFacts : IDisposable
{
    private const string OperatorKey = "operator-key-for-the-observability-facts";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("renderfarm-observability-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public async Task Lease_polls_are_logged_at_debug_and_page_requests_at_information()
    {
        // Guards against the log flood of lease polls: one line per request, the repeating provider traffic at Debug.
        var capture = new CaptureProvider();
        await using CoordinatorHost host = await StartAsync("Development", builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(capture);
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
        });
        using var http = new HttpClient { BaseAddress = host.Address };
        int pollStatus;
        using (HttpResponseMessage poll = await http.PostAsync("api/leases", new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
        {
            // Refused (no provider token), which is logged like any poll.
            pollStatus = (int)poll.StatusCode;
            Assert.InRange(pollStatus, 400, 401);
        }

        using (HttpResponseMessage page = await http.GetAsync("signin"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        await host.StopAsync();
        (LogLevel Level, string Message)[] requests = [.. capture.Entries.Where(e => e.Category == "RenderFarm.Coordinator.Requests").Select(e => (e.Level, e.Message))];
        Assert.Contains((LogLevel.Debug, $"POST /api/leases answered {pollStatus}"), requests.Select(r => (r.Level, r.Message[..r.Message.IndexOf(" in ", StringComparison.Ordinal)])));
        Assert.Contains((LogLevel.Information, "GET /signin answered 200"), requests.Select(r => (r.Level, r.Message[..r.Message.IndexOf(" in ", StringComparison.Ordinal)])));

        // ASP.NET Core's own per-request lines are gone.
        Assert.DoesNotContain(capture.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore.Hosting", StringComparison.Ordinal) && e.Level < LogLevel.Warning);
    }

    [Fact]
    public async Task Metrics_are_served_for_prometheus_and_ask_for_the_operator_key_outside_development()
    {
        await using CoordinatorHost host = await StartAsync("Production", builder => builder.Logging.ClearProviders());
        using var anonymous = new HttpClient { BaseAddress = host.Address };
        using (HttpResponseMessage refused = await anonymous.GetAsync("metrics"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var scraper = new HttpClient { BaseAddress = host.Address };
        scraper.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String("prometheus:"u8.ToArray().Concat(System.Text.Encoding.UTF8.GetBytes(OperatorKey)).ToArray()));
        using HttpResponseMessage metrics = await scraper.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        string text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("renderfarm_queue_depth{", text, StringComparison.Ordinal);
        Assert.Contains("queue=\"render_1_normal\"", text, StringComparison.Ordinal);
    }

    // The check-cost metric's unit: a tile check costs the share of the frame's pixels it re-renders, a whole-frame
    // check (or a re-executed inference item, which has no tiles) one frame.
    [Fact]
    public void A_checks_cost_is_the_share_of_a_frame_it_re_renders()
    {
        var tiles = new SpotCheckRecord
        {
            Number = 1,
            Frame = 1,
            RenderedBy = "0x1",
            OutputSha256 = "00",
            Tiles = [new PixelTile(0, 0, 16, 16), new PixelTile(32, 32, 16, 16)],
        };
        Assert.Equal(512.0 / 4096, FarmMetrics.CheckFrames(tiles, new ImageSize(64, 64)));
        Assert.Equal(1, FarmMetrics.CheckFrames(tiles with { Tiles = [new PixelTile(0, 0, 64, 64)], WholeFrame = true }, new ImageSize(64, 64)));
        Assert.Equal(1, FarmMetrics.CheckFrames(tiles with { Tiles = [], WholeFrame = true }, new ImageSize(64, 64)));
    }

    private Task<CoordinatorHost> StartAsync(string environment, Action<Microsoft.AspNetCore.Builder.WebApplicationBuilder> logging)
    {
        var settings = new Dictionary<string, string?> { ["Coordinator:OperatorKey"] = OperatorKey };
        if (environment != "Development")
        {
            foreach ((string key, string? value) in CoordinatorSecrets.Generate())
            {
                settings.TryAdd(key, value);
            }
        }

        return CoordinatorHost.StartAsync(
            "http://127.0.0.1:0",
            CoordinatorBackends.CreateEmbedded(Path.Combine(_folder.FullName, environment)),
            new ConfigurationBuilder().AddInMemoryCollection(settings).Build(),
            builder =>
            {
                builder.Environment.EnvironmentName = environment;
                logging(builder);
            });
    }

    private sealed class CaptureProvider : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Capture(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Capture(CaptureProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                provider.Entries.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}
