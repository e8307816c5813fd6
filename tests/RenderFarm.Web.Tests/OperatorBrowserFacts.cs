using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using static Microsoft.Playwright.Assertions;

namespace RenderFarm.Web.Tests;

/// <summary>
/// The operator's pages of a <see cref="WebFarm"/> (queues, leases, providers) and the metrics it exports for
/// Prometheus.
/// </summary>
[Trait("Category", "Gpu")]
[Trait("Category", "Browser")]
[Collection(WebFarmCollection.Name)]
public sealed partial class OperatorBrowserFacts(WebFarm farm)
{
    [Fact]
    public async Task The_operator_sees_queues_leases_and_providers()
    {
        await farm.SubmitThroughApiAsync(await farm.NewAccountApiKeyAsync());
        IPage page = await farm.NewPageAsync();
        await page.GotoAsync("/signin");
        await page.GetByText("Operator", new() { Exact = true }).ClickAsync();
        await page.GetByLabel("Operator key").FillAsync(WebFarm.OperatorKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in as the operator" }).ClickAsync();
        await page.WaitForURLAsync("**/jobs");
        await Expect(page.GetByRole(AriaRole.Table)).ToContainTextAsync("cornell-box.glb");

        await page.GetByRole(AriaRole.Link, new() { Name = "Operator" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Hangfire jobs waiting per queue" })).ToContainTextAsync("render_1_normal");
        await Expect(page.GetByRole(AriaRole.Img, new() { NameRegex = new Regex("^Leases granted per minute") })).ToBeVisibleAsync();
        await WebFarm.ScreenshotAsync(page, "operator");

        await page.GetByRole(AriaRole.Link, new() { Name = "Providers" }).ClickAsync();
        ILocator providers = page.GetByRole(AriaRole.Table, new() { NameRegex = new Regex("^Providers, most recently seen first") });
        foreach (string address in farm.Providers)
        {
            await Expect(providers.GetByRole(AriaRole.Link, new() { Name = $"{address[..6]}…{address[^4..]}" })).ToBeVisibleAsync();
        }

        await WebFarm.ScreenshotAsync(page, "providers");
        await providers.GetByRole(AriaRole.Link).First.ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync("Provider 0x");
        await WebFarm.ScreenshotAsync(page, "provider");

        // Metrics for Prometheus, with the farm's own instruments.
        IAPIResponse metrics = await page.Context.APIRequest.GetAsync("/metrics");
        Assert.Equal(200, metrics.Status);
        Assert.Contains("renderfarm_queue_depth", await metrics.TextAsync(), StringComparison.Ordinal);
    }

    // Guards the check-cost metric of issue 13's observability list: after a job verified by tile checks, /metrics
    // exports each decided check's work in frames re-rendered, by kind. The farm is shared with the other browser facts,
    // so the count is compared with the one before this job's checks (the count only grows).
    [Fact]
    public async Task The_check_cost_of_a_verified_job_is_exported_for_prometheus()
    {
        string apiKey = await farm.NewAccountApiKeyAsync();
        using HttpClient client = farm.ApiClient(apiKey);
        double before = TileCheckCount(await ScrapeAsync(client)) ?? 0;
        string jobId = await farm.SubmitThroughApiAsync(apiKey);
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        JobState state = JobState.Queued;
        for (int look = 0; look < 300 && state is not (JobState.Completed or JobState.Failed or JobState.Cancelled); look++)
        {
            // A deadline for the farm to render and verify two small frames, not a timing.
            await Task.Delay(500);
            state = (await client.GetFromJsonAsync<JobDetails>($"api/jobs/{jobId}", json))!.Job.State;
        }

        Assert.Equal(JobState.Completed, state);

        // The exporter's first scrape of a fresh process may hold only target_info: a bounded number of scrapes.
        string metrics = "";
        double? count = null;
        for (int scrape = 0; scrape < 20 && !(count >= before + 2); scrape++)
        {
            if (scrape > 0)
            {
                await Task.Delay(500);
            }

            metrics = await ScrapeAsync(client);
            count = TileCheckCount(metrics);
        }

        Assert.True(
            count >= before + 2,
            $"The tile-check cost count went from {before} to {count?.ToString(CultureInfo.InvariantCulture) ?? "none"} in /metrics ({metrics.Length} characters):\n{metrics[..Math.Min(metrics.Length, 3000)]}");
        Match sum = CheckCostSum().Match(metrics);
        Assert.True(sum.Success && double.Parse(sum.Groups[1].Value, CultureInfo.InvariantCulture) > 0, sum.Value);
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using HttpResponseMessage scraped = await client.GetAsync("metrics");
        scraped.EnsureSuccessStatusCode();
        return await scraped.Content.ReadAsStringAsync();
    }

    // The count of decided tile checks in a scrape; null when the scrape has none.
    private static double? TileCheckCount(string metrics) =>
        CheckCostCount().Match(metrics) is { Success: true } count ? double.Parse(count.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"^renderfarm_checks_cost\w*_count\{[^}]*kind=""tiles""[^}]*\} ([0-9.eE+]+)", RegexOptions.Multiline)]
    private static partial Regex CheckCostCount();

    [GeneratedRegex(@"^renderfarm_checks_cost\w*_sum\{[^}]*kind=""tiles""[^}]*\} ([0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex CheckCostSum();
}
