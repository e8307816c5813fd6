using System.Globalization;
using System.Numerics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Coordinator.Observability;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// The providers page (device, tasks done, verified frames, times caught, stake, earnings), a provider's own page, and
/// the operator's page (queue depths, active leases, throughput, lease latency, failures). Work and earnings are summed
/// over the farm's newest jobs; a provider's page lists by job only the jobs the viewer may open.
/// </summary>
internal static class FarmPages
{
    private const int JobWindow = 200;
    private const int ProviderLimit = 200;
    private const int StakeLookups = 50;

    public static void Map(RouteGroupBuilder web)
    {
        web.MapGet("/providers", (HttpContext context, CancellationToken cancellationToken) => WebApp.WithCallerAsync(context, async caller =>
        {
            Html live = await ProvidersLiveAsync(context, cancellationToken);
            return WebLayout.Page(context, caller, "Providers", Html.Of($"""<div id="live">{live}</div>"""), stream: "/providers/events");
        }));
        web.MapGet("/providers/events", (HttpContext context, CancellationToken cancellationToken) => WebApp.StreamAsync(context, (_, ct) => ProvidersLiveAsync(context, ct)));

        web.MapGet("/providers/{address}", (string address, HttpContext context) => WebApp.WithCallerAsync(context, async caller =>
        {
            string normalized = SignInTokens.NormalizeAddress(address);
            Html live = await ProviderLiveAsync(context, caller, normalized, context.RequestAborted);
            return WebLayout.Page(context, caller, $"Provider {TaskWords.Short(normalized)}", Html.Of($"""<div id="live">{live}</div>"""), stream: $"/providers/{normalized}/events");
        }));
        web.MapGet("/providers/{address}/events", (string address, HttpContext context) =>
            WebApp.StreamAsync(context, (caller, ct) => ProviderLiveAsync(context, caller, SignInTokens.NormalizeAddress(address), ct)));

        web.MapGet("/operator", (HttpContext context, CancellationToken cancellationToken) => WebApp.WithCallerAsync(context, async caller =>
        {
            Html live = await OperatorLiveAsync(context, RequireOperator(caller), cancellationToken);
            return WebLayout.Page(context, caller, "Operator", Html.Of($"""<div id="live">{live}</div>"""), stream: "/operator/events");
        }));
        web.MapGet("/operator/events", (HttpContext context, CancellationToken cancellationToken) => WebApp.StreamAsync(context, (caller, ct) => OperatorLiveAsync(context, RequireOperator(caller), ct)));
    }

    private static ClientIdentity RequireOperator(ClientIdentity caller) => caller.IsOperator
        ? caller
        : throw new CoordinatorException(StatusCodes.Status404NotFound, "The operator's page is for the operator (sign in with the operator key).");

    private static async Task<Html> ProvidersLiveAsync(HttpContext context, CancellationToken cancellationToken)
    {
        IServiceProvider services = context.RequestServices;
        IFarmStore store = services.GetRequiredService<IFarmStore>();
        DateTimeOffset now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        IReadOnlyList<ProviderRecord> providers = await store.ListProvidersAsync(ProviderLimit, cancellationToken);
        if (providers.Count == 0)
        {
            return Html.Of($"<p>No provider has signed in yet. Start one with <code>renderfarm worker --coordinator URL</code>.</p>");
        }

        Dictionary<string, Work> work = await WorkAsync(store, cancellationToken);
        ILedger? ledger = services.GetService<ILedger>();
        string?[] stakes = await Task.WhenAll(providers.Select((p, i) => i < StakeLookups ? StakeAsync(ledger, p.Address, cancellationToken) : Task.FromResult<string?>(null)));
        var rows = providers.Select((p, i) =>
        {
            Work w = work.GetValueOrDefault(p.Address.ToLowerInvariant()) ?? new Work();
            return Html.Of($"""
                <tr>
                  <th scope="row"><a href="/providers/{p.Address}">{TaskWords.Short(p.Address)}</a></th>
                  <td>{p.Device ?? "—"}</td>
                  <td>{w.TasksDone}</td>
                  <td>{p.VerifiedFrames}</td>
                  <td>{p.TimesCaught}</td>
                  <td>{stakes[i] ?? "—"}</td>
                  <td>{TokenUnits.Format(w.Earned)}</td>
                  <td>{WebLayout.Ago(p.LastSeenAt, now)}</td>
                </tr>
                """);
        });
        return Html.Of($"""
            <table>
              <caption>Providers, most recently seen first (tasks done and earnings over the newest {JobWindow} jobs)</caption>
              <thead><tr><th scope="col">Provider</th><th scope="col">Device</th><th scope="col">Tasks done</th><th scope="col">Verified frames</th><th scope="col">Times caught</th><th scope="col">Stake</th><th scope="col">Earned</th><th scope="col">Last seen</th></tr></thead>
              <tbody>{rows}</tbody>
            </table>
            """);
    }

    private static async Task<Html> ProviderLiveAsync(HttpContext context, ClientIdentity caller, string address, CancellationToken cancellationToken)
    {
        IServiceProvider services = context.RequestServices;
        IFarmStore store = services.GetRequiredService<IFarmStore>();
        DateTimeOffset now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        ProviderRecord provider = await store.GetProviderAsync(address, cancellationToken)
            ?? throw new CoordinatorException(StatusCodes.Status404NotFound, $"No provider {address} has signed in here.");
        Dictionary<string, Work> all = await WorkAsync(store, cancellationToken);
        Work work = all.GetValueOrDefault(address.ToLowerInvariant()) ?? new Work();
        string? stake = await StakeAsync(services.GetService<ILedger>(), address, cancellationToken);
        var jobs = work.Jobs.Select(j => Html.Of($"""
            <tr>
              <td>{(caller.MayAccess(j.Owner) ? Html.Of($"""<a href="/jobs/{j.JobId}">{j.Scene}</a>""") : Html.Text("another account's job"))}</td>
              <td>{j.TasksDone}</td>
              <td>{(j.Paid is { } paid ? TokenUnits.Format(paid) + " paid" : j.PendingFrames > 0 ? $"{j.PendingFrames} verified frames awaiting settlement" : "—")}</td>
            </tr>
            """));
        return Html.Of($"""
            <dl class="facts">
              <dt>Address</dt><dd><code>{provider.Address}</code></dd>
              <dt>Device</dt><dd>{provider.Device ?? "—"}</dd>
              <dt>First seen</dt><dd>{WebLayout.Ago(provider.RegisteredAt, now)}</dd>
              <dt>Last seen</dt><dd>{WebLayout.Ago(provider.LastSeenAt, now)}</dd>
              <dt>Verified frames (all time)</dt><dd>{provider.VerifiedFrames}</dd>
              <dt>Times caught</dt><dd>{provider.TimesCaught}</dd>
              <dt>Stake</dt><dd>{stake ?? "no ledger"}</dd>
              <dt>Earned</dt><dd>{TokenUnits.Format(work.Earned)}</dd>
              <dt>Pending</dt><dd>{work.Jobs.Sum(j => j.PendingFrames)} verified frames in jobs not settled yet</dd>
            </dl>
            {(work.Jobs.Count == 0 ? Html.Of($"<p>No work in the newest {JobWindow} jobs.</p>") : Html.Of($"""
              <table><caption>Work by job (newest {JobWindow} jobs)</caption>
              <thead><tr><th scope="col">Job</th><th scope="col">Tasks done</th><th scope="col">Payment</th></tr></thead>
              <tbody>{jobs}</tbody></table>
              """))}
            """);
    }

    private static async Task<Html> OperatorLiveAsync(HttpContext context, ClientIdentity caller, CancellationToken cancellationToken)
    {
        _ = caller;
        IServiceProvider services = context.RequestServices;
        IFarmStore store = services.GetRequiredService<IFarmStore>();
        FarmMetrics metrics = services.GetRequiredService<FarmMetrics>();
        DateTimeOffset now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var queues = metrics.QueueDepths().Select(q => Html.Of($"<tr><th scope=\"row\">{q.Key}</th><td>{q.Value}</td></tr>"));
        var leases = new List<Html>();
        foreach (JobRecord job in (await store.ListJobsAsync(JobWindow, cancellationToken)).Where(j => j.State == JobState.Running))
        {
            foreach (TaskRecord task in await store.GetTasksAsync(job.Id, cancellationToken))
            {
                if (task.State == FarmTaskState.Leased)
                {
                    leases.Add(LeaseRow(job, task.Index, "render", task.Provider, task.StartedAt, task.LeaseExpiresAt, now));
                }

                foreach (SpotCheckRecord check in task.Checks.Where(c => c.State == SpotCheckState.Leased))
                {
                    leases.Add(LeaseRow(job, task.Index, check.Canary ? "canary" : "check", check.Validator, null, check.LeaseExpiresAt, now));
                }
            }
        }

        RecentMinutes recent = metrics.Recent;
        double[]? latency = recent.LatencyQuantiles(0.5, 0.9, 0.99);
        return Html.Of($"""
            <div class="columns">
              <section aria-labelledby="queues-heading">
                <h2 id="queues-heading">Queues</h2>
                <table><caption>Hangfire jobs waiting per queue</caption><thead><tr><th scope="col">Queue</th><th scope="col">Waiting</th></tr></thead><tbody>{queues}</tbody></table>
              </section>
              <section aria-labelledby="latency-heading">
                <h2 id="latency-heading">Lease latency</h2>
                <p>{(latency is null ? "No lease granted since start." : string.Create(CultureInfo.InvariantCulture, $"Request to grant over the latest leases: p50 {latency[0]:0} ms, p90 {latency[1]:0} ms, p99 {latency[2]:0} ms."))}</p>
              </section>
            </div>
            <section aria-labelledby="throughput-heading">
              <h2 id="throughput-heading">The last hour, per minute</h2>
              {Chart("Frames verified", recent.Series(RecentMinutes.Verified))}
              {Chart("Outputs uploaded", recent.Series(RecentMinutes.Uploads))}
              {Chart("Leases granted", recent.Series(RecentMinutes.Leases))}
              {Chart("Failures", recent.Series(RecentMinutes.Failures))}
            </section>
            <section aria-labelledby="leases-heading">
              <h2 id="leases-heading">Active leases</h2>
              {(leases.Count == 0 ? Html.Of($"<p>No lease is held.</p>") : Html.Of($"""
                <table><caption>Leases held now</caption>
                <thead><tr><th scope="col">Job</th><th scope="col">Task</th><th scope="col">Work</th><th scope="col">Provider</th><th scope="col">Since</th><th scope="col">Lapses</th></tr></thead>
                <tbody>{leases}</tbody></table>
                """))}
            </section>
            <p>Metrics for Prometheus: <a href="/metrics">/metrics</a>. Hangfire's dashboard: <a href="/hangfire">/hangfire</a>.</p>
            """);
    }

    private static Html LeaseRow(JobRecord job, int index, string work, string? provider, DateTimeOffset? since, DateTimeOffset? expires, DateTimeOffset now) => Html.Of($"""
        <tr><td><a href="/jobs/{job.Id}">{job.Spec.SceneFileName}</a></td><td><a href="/jobs/{job.Id}/tasks/{index}">{index}</a></td><td>{work}</td><td>{WebLayout.Address(provider)}</td><td>{WebLayout.Ago(since, now)}</td><td>{(expires is { } e ? string.Create(CultureInfo.InvariantCulture, $"in {Math.Max(0, (e - now).TotalSeconds):0} s") : "—")}</td></tr>
        """);

    // A bar per minute, drawn as SVG; the numbers are in its label for screen readers.
    private static Html Chart(string title, long[] series)
    {
        long max = Math.Max(1, series.Max());
        const int Width = 600;
        const int Height = 60;
        double bar = (double)Width / series.Length;
        var bars = series.Select((value, i) => Html.Of($"""<rect x="{i * bar:0.##}" y="{Height - (value * Height / (double)max):0.##}" width="{bar - 1:0.##}" height="{value * Height / (double)max:0.##}"></rect>"""));
        return Html.Of($"""
            <figure class="chart">
              <figcaption>{title}: {series.Sum()} in the last hour, {series[^1]} this minute</figcaption>
              <svg viewBox="0 0 {Width} {Height}" role="img" aria-label="{title} per minute over the last hour, oldest first: {string.Join(", ", series)}">{bars}</svg>
            </figure>
            """);
    }

    private static async Task<string?> StakeAsync(ILedger? ledger, string address, CancellationToken cancellationToken)
    {
        if (ledger is null)
        {
            return null;
        }

        try
        {
            return TokenUnits.Format(await ledger.GetStakeAsync(address, cancellationToken));
        }
        catch (LedgerException)
        {
            return "unavailable";
        }
    }

    // Tasks done, pay and pending frames per provider (lowercase address), over the newest jobs.
    private static async Task<Dictionary<string, Work>> WorkAsync(IFarmStore store, CancellationToken cancellationToken)
    {
        var work = new Dictionary<string, Work>(StringComparer.Ordinal);
        foreach (JobRecord job in await store.ListJobsAsync(JobWindow, cancellationToken))
        {
            IReadOnlyList<TaskRecord> tasks = await store.GetTasksAsync(job.Id, cancellationToken);
            foreach (IGrouping<string, TaskRecord> done in tasks.Where(t => t.State == FarmTaskState.Succeeded && t.Provider is not null).GroupBy(t => t.Provider!.ToLowerInvariant()))
            {
                Work w = work.TryGetValue(done.Key, out Work? found) ? found : work[done.Key] = new Work();
                int frames = done.Sum(t => t.LastFrame - t.FirstFrame + 1);
                ProviderPayout? payout = job.Settlement?.Payouts.FirstOrDefault(p => string.Equals(p.Provider, done.Key, StringComparison.OrdinalIgnoreCase));
                BigInteger? paid = payout is null ? null : BigInteger.Parse(payout.Amount, CultureInfo.InvariantCulture);
                w.TasksDone += done.Count();
                w.Earned += paid ?? BigInteger.Zero;
                w.Jobs.Add(new JobWork(job.Id, job.Spec.SceneFileName, job.Owner, done.Count(), paid, job.Settlement is null && job.Spec.Budget > 0 ? frames : 0));
            }
        }

        return work;
    }

    private sealed class Work
    {
        public int TasksDone { get; set; }

        public BigInteger Earned { get; set; }

        public List<JobWork> Jobs { get; } = [];
    }

    private sealed record JobWork(Guid JobId, string Scene, string? Owner, int TasksDone, BigInteger? Paid, int PendingFrames);
}
