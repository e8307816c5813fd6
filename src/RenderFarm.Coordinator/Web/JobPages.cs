using System.Globalization;
using System.Numerics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Api;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Core.Storage;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// The jobs list, a job's page (frames filling in as they are verified, each task in words, the verification report,
/// payment, downloads, cancel) and a task's timeline. Jobs are read through <see cref="JobService"/>, so an account sees
/// its own jobs and gets 404 for any other, and the operator sees all — exactly as the API answers.
/// </summary>
internal static class JobPages
{
    private const int ListLimit = 200;
    private const int MaxFramesShown = 500;
    private const int MaxTimelineEntries = 500;

    public static void Map(RouteGroupBuilder web)
    {
        web.MapGet("/jobs", (HttpContext context, CancellationToken cancellationToken) => WebApp.WithCallerAsync(context, async caller =>
        {
            Html live = await JobsLiveAsync(context, caller, cancellationToken);
            return WebLayout.Page(context, caller, "Jobs", Html.Of($"""
                {Html.If(!caller.IsOperator, Html.Of($"""<p><a class="button" href="/submit">Submit a render</a></p>"""))}
                <div id="live">{live}</div>
                """), stream: "/jobs/events");
        }));
        web.MapGet("/jobs/events", (HttpContext context, CancellationToken cancellationToken) => WebApp.StreamAsync(context, (caller, ct) => JobsLiveAsync(context, caller, ct)));

        web.MapGet("/jobs/{id:guid}", (Guid id, HttpContext context) => WebApp.WithCallerAsync(context, async caller =>
        {
            JobView view = await JobView.LoadAsync(context, caller, id, context.RequestAborted);
            return WebLayout.Page(context, caller, $"Job {view.Job.Spec.SceneFileName}", Html.Of($"""
                <div id="live">{JobLive(context, view)}</div>
                """), stream: $"/jobs/{id}/events");
        }));
        web.MapGet("/jobs/{id:guid}/events", (Guid id, HttpContext context) =>
            WebApp.StreamAsync(context, async (caller, ct) => JobLive(context, await JobView.LoadAsync(context, caller, id, ct))));

        web.MapGet("/jobs/{id:guid}/tasks/{index:int}", (Guid id, int index, HttpContext context) => WebApp.WithCallerAsync(context, async caller =>
        {
            Html live = await TaskLiveAsync(context, caller, id, index, context.RequestAborted);
            return WebLayout.Page(context, caller, string.Create(CultureInfo.InvariantCulture, $"Task {index}"), Html.Of($"""
                <p><a href="/jobs/{id}">Back to the job</a></p>
                <div id="live">{live}</div>
                """), stream: $"/jobs/{id}/tasks/{index}/events");
        }));
        web.MapGet("/jobs/{id:guid}/tasks/{index:int}/events", (Guid id, int index, HttpContext context) =>
            WebApp.StreamAsync(context, (caller, ct) => TaskLiveAsync(context, caller, id, index, ct)));

        web.MapPost("/jobs/{id:guid}/cancel", (Guid id, HttpContext context, JobService jobs) => WebApp.PostAsync(context, async (caller, _) =>
        {
            await jobs.CancelAsync(id, caller, context.RequestAborted);
            return Results.Redirect($"/jobs/{id}");
        }));

        web.MapPost("/jobs/{id:guid}/pause", (Guid id, HttpContext context, JobService jobs) => WebApp.PostAsync(context, async (caller, _) =>
        {
            await jobs.SetPausedAsync(id, true, caller, context.RequestAborted);
            return Results.Redirect($"/jobs/{id}");
        }));

        web.MapPost("/jobs/{id:guid}/resume", (Guid id, HttpContext context, JobService jobs) => WebApp.PostAsync(context, async (caller, _) =>
        {
            await jobs.SetPausedAsync(id, false, caller, context.RequestAborted);
            return Results.Redirect($"/jobs/{id}");
        }));

        web.MapPost("/jobs/{id:guid}/requeue-failed", (Guid id, HttpContext context, JobService jobs) => WebApp.PostAsync(context, async (caller, _) =>
        {
            await jobs.RequeueFailedAsync(id, caller, context.RequestAborted);
            return Results.Redirect($"/jobs/{id}");
        }));

        web.MapPost("/jobs/{id:guid}/escrow", (Guid id, HttpContext context, JobService jobs) => WebApp.PostAsync(context, async (caller, _) =>
        {
            await jobs.ConfirmEscrowAsync(id, caller, context.RequestAborted);
            return Results.Redirect($"/jobs/{id}");
        }));

        web.MapGet("/jobs/{id:guid}/frames/{frame:int}", (Guid id, int frame, HttpContext context, JobService jobs) => WebApp.WithCallerAsync(context, async caller =>
        {
            JobRecord job = await GetVisibleJobAsync(context, caller, id);
            Stream stream = await jobs.OpenFrameAsync(id, frame, caller, context.RequestAborted);
            string extension = FarmKeys.OutputExtension(job.Spec);
            return Results.Stream(stream, FarmKeys.OutputContentType(job.Spec), string.Create(CultureInfo.InvariantCulture, $"frame_{frame:D4}{extension}"));
        }));

        web.MapGet("/jobs/{id:guid}/thumbs/{frame:int}", (Guid id, int frame, HttpContext context, JobService jobs, IObjectStore objects, Thumbnails thumbnails) =>
            WebApp.WithCallerAsync(context, async caller =>
            {
                FrameOutput output = (await jobs.GetFinishedFramesAsync(id, caller, context.RequestAborted)).FirstOrDefault(o => o.Frame == frame && Thumbnails.HasThumbnail(o))
                    ?? throw new CoordinatorException(StatusCodes.Status404NotFound, $"Frame {frame} of job {id} is not verified yet.");
                string key = Thumbnails.KeyFor(output.Key);
                if (await objects.StatAsync(key, context.RequestAborted) is null)
                {
                    // Not made yet (the queue is behind) or made before thumbnails existed: made now, once.
                    await thumbnails.MakeAsync(output, context.RequestAborted);
                }

                context.Response.Headers.CacheControl = "private, max-age=86400, immutable";
                return Results.Stream(await objects.OpenReadAsync(key, context.RequestAborted), "image/jpeg");
            }));

        web.MapGet("/jobs/{id:guid}/frames.zip", (Guid id, HttpContext context, JobService jobs) => WebApp.WithCallerAsync(context, async caller =>
        {
            IReadOnlyList<FrameOutput> frames = await jobs.GetFinishedFramesAsync(id, caller, context.RequestAborted);
            return Results.Stream(
                async body =>
                {
                    // As the API's zip: ZipArchive writes each entry's data descriptor synchronously.
                    if (context.Features.Get<IHttpBodyControlFeature>() is { } bodyControl)
                    {
                        bodyControl.AllowSynchronousIO = true;
                    }

                    await jobs.WriteZipAsync(frames, body, context.RequestAborted);
                },
                "application/zip",
                $"{id:N}-frames.zip");
        }));
    }

    // The newest jobs the caller may see: its own, or every account's for the operator (as GET /api/jobs).
    private static async Task<Html> JobsLiveAsync(HttpContext context, ClientIdentity caller, CancellationToken cancellationToken)
    {
        IFarmStore store = context.RequestServices.GetRequiredService<IFarmStore>();
        DateTimeOffset now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        IReadOnlyList<JobRecord> jobs = caller.IsOperator
            ? await store.ListJobsAsync(ListLimit, cancellationToken)
            : await store.ListJobsOfAsync(caller.RequireAccount(), ListLimit, cancellationToken);
        if (jobs.Count == 0)
        {
            return Html.Of($"""<p>No jobs yet.{Html.If(!caller.IsOperator, Html.Of($""" <a href="/submit">Submit a render</a>."""))}</p>""");
        }

        var rows = new List<Html>(jobs.Count);
        foreach (JobRecord job in jobs)
        {
            IReadOnlyList<TaskRecord> tasks = await store.GetTasksAsync(job.Id, cancellationToken);
            (int verified, int total) = Progress(job, tasks);
            rows.Add(Html.Of($"""
                <tr>
                  <td><a href="/jobs/{job.Id}">{job.Spec.SceneFileName}</a> <span class="muted">{job.Id.ToString("N")[..8]}</span></td>
                  <td><span class="state state-{job.State.ToString().ToLowerInvariant()}">{StateWords(job.State)}</span>{Html.If(job.Paused && job.State is JobState.Queued or JobState.AwaitingEscrow or JobState.Running, Html.Of($" (paused)"))}</td>
                  <td>{ProgressBar(verified, total, job.Spec.Inference is null ? "frames" : "items")}</td>
                  <td>{job.Spec.Priority}</td>
                  <td>{Cost(job)}</td>
                  <td>{WebLayout.Address(job.Owner)}</td>
                  <td>{WebLayout.Ago(job.CreatedAt, now)}</td>
                </tr>
                """));
        }

        return Html.Of($"""
            <table>
              <caption>Newest jobs first{(caller.IsOperator ? " (every account's)" : "")}</caption>
              <thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Verified</th><th scope="col">Priority</th><th scope="col">Cost</th><th scope="col">Owner</th><th scope="col">Age</th></tr></thead>
              <tbody>{rows}</tbody>
            </table>
            """);
    }

    private static Html JobLive(HttpContext context, JobView view)
    {
        JobRecord job = view.Job;
        DateTimeOffset now = view.Now;
        (int verified, int total) = Progress(job, view.Raw);
        bool open = job.State is JobState.Queued or JobState.AwaitingEscrow or JobState.Running;
        bool render = job.Spec.Inference is null;
        string unit = render ? "frames" : "items";
        Html actions = Html.Of($"""
            <div class="actions">
              {Html.If(verified > 0 && render, Html.Of($"""<a class="button" href="/jobs/{job.Id}/frames.zip" download>Download all verified frames (.zip)</a>"""))}
              {Html.If(open, Html.Of($"""
                <form method="post" action="/jobs/{job.Id}/{(job.Paused ? "resume" : "pause")}">
                  {WebLayout.FormToken(context)}
                  <button type="submit" id="{(job.Paused ? "resume-job" : "pause-job")}">{(job.Paused ? "Resume" : "Pause")}</button>
                </form>
                <form method="post" action="/jobs/{job.Id}/cancel">
                  {WebLayout.FormToken(context)}
                  <button type="submit" class="danger" id="cancel-job">Cancel the job</button>
                </form>
                """))}
              {Html.If(job.State == JobState.Failed && job.Spec.Budget <= 0 && view.Raw.Any(t => t.State == FarmTaskState.Failed), Html.Of($"""
                <form method="post" action="/jobs/{job.Id}/requeue-failed">
                  {WebLayout.FormToken(context)}
                  <button type="submit" id="requeue-failed">Requeue the failed tasks</button>
                </form>
                """))}
            </div>
            """);
        return Html.Of($"""
            <dl class="facts">
              <dt>State</dt><dd><span class="state state-{job.State.ToString().ToLowerInvariant()}">{StateWords(job.State)}</span>{Html.If(open && job.Paused, Html.Of($" — paused: queued tasks wait for the resume"))}{(job.Error is null ? Html.Empty : Html.Of($" — {job.Error}"))}</dd>
              <dt>Verified</dt><dd>{ProgressBar(verified, total, unit)}</dd>
              <dt>{(render ? "Frames" : "Items")}</dt><dd>{job.Spec.Frames} ({view.Raw.Count} tasks)</dd>
              {Html.If(render, Html.Of($"<dt>Size, samples</dt><dd>{job.Spec.Settings.Size} at {job.Spec.Settings.SamplesPerPixel} spp</dd>"))}
              {Html.If(render, Html.Of($"<dt>Output</dt><dd>{OutputWords(job.Spec.Settings)}</dd>"))}
              <dt>Priority</dt><dd>{job.Spec.Priority}</dd>
              <dt>Owner</dt><dd>{WebLayout.Address(job.Owner)}</dd>
              <dt>Submitted</dt><dd>{WebLayout.Ago(job.CreatedAt, now)}</dd>
            </dl>
            {actions}
            <section aria-labelledby="frames-heading">
              <h2 id="frames-heading">{(render ? "Frames" : "Outputs")}</h2>
              {FrameGrid(view)}
            </section>
            <section aria-labelledby="tasks-heading">
              <h2 id="tasks-heading">Tasks</h2>
              {TaskTable(view)}
            </section>
            <section aria-labelledby="verification-heading">
              <h2 id="verification-heading">Verification</h2>
              {VerificationReport(view.Details)}
            </section>
            <section aria-labelledby="payment-heading">
              <h2 id="payment-heading">Payment</h2>
              {Payment(context, view)}
            </section>
            """);
    }

    private static string OutputWords(RenderSettings settings) => settings.Format == FrameFormat.Exr
        ? $"OpenEXR ({settings.ExrDepth.ToString().ToLowerInvariant()}), linear, with albedo, normal and depth AOVs"
            + (settings.Denoise ? "; denoising asked for: the client denoises each verified frame after download" : "")
        : $"{(settings.SixteenBit ? 16 : 8)}-bit PNG";

    private static Html FrameGrid(JobView view)
    {
        JobRecord job = view.Job;
        bool render = job.Spec.Inference is null;
        bool exr = render && job.Spec.Settings.Format == FrameFormat.Exr;
        var figures = new List<Html>();
        foreach (TaskDetails task in view.Details.Tasks)
        {
            string words = view.Words(task);
            for (int frame = task.FirstFrame; frame <= task.LastFrame && figures.Count < MaxFramesShown; frame++)
            {
                FrameLink? link = task.Frames.FirstOrDefault(f => f.Frame == frame);
                Html picture = link is null
                    ? Html.Of($"""<div class="placeholder">{words}</div>""")
                    : render
                        ? Html.Of($"""<a href="/jobs/{job.Id}/frames/{frame}" download><img src="/jobs/{job.Id}/thumbs/{frame}" alt="Frame {frame}" loading="lazy"></a>""")
                        : Html.Of($"""<a class="placeholder" href="/jobs/{job.Id}/frames/{frame}" download>Download item {frame} ({FarmKeys.OutputExtension(job.Spec)})</a>""");
                figures.Add(Html.Of($"""
                    <figure class="{(link is null ? "pending" : "verified")}">
                      {picture}
                      <figcaption>{(render ? "Frame" : "Item")} {frame} · <a href="/jobs/{job.Id}/tasks/{task.Index}">task {task.Index}</a>{Html.If(link is not null && exr, Html.Of($""" · <a href="/jobs/{job.Id}/frames/{frame}" download>EXR</a>"""))}</figcaption>
                    </figure>
                    """));
            }
        }

        int all = job.Spec.Frames.Count;
        return Html.Of($"""
            <div class="grid">{figures}</div>
            {Html.If(all > figures.Count, Html.Of($"<p class=\"muted\">The first {figures.Count} of {all} are shown.</p>"))}
            """);
    }

    private static Html TaskTable(JobView view)
    {
        var rows = view.Details.Tasks.Take(MaxFramesShown).Select(task => Html.Of($"""
            <tr>
              <td><a href="/jobs/{view.Job.Id}/tasks/{task.Index}">Task {task.Index}</a></td>
              <td>{(task.FirstFrame == task.LastFrame ? task.FirstFrame.ToString(CultureInfo.InvariantCulture) : $"{task.FirstFrame}-{task.LastFrame}")}</td>
              <td class="words">{view.Words(task)}</td>
              <td>{task.Attempts}</td>
            </tr>
            """));
        return Html.Of($"""
            <table>
              <caption>Each task in words; open one for its timeline</caption>
              <thead><tr><th scope="col">Task</th><th scope="col">Frames</th><th scope="col">Where it is</th><th scope="col">Leases</th></tr></thead>
              <tbody>{rows}</tbody>
            </table>
            """);
    }

    private static Html VerificationReport(JobDetails details)
    {
        IReadOnlyList<ProviderVerification> report = details.Verification ?? [];
        if (report.Count == 0)
        {
            return Html.Of($"<p>Nothing delivered yet.</p>");
        }

        var rows = report.Select(p => Html.Of($"""
            <tr>
              <th scope="row">{WebLayout.Address(p.Provider)}</th>
              <td>{p.FramesDelivered}</td>
              <td>{p.SpotChecks}</td>
              <td>{p.WholeFrameSamples}</td>
              <td>{p.Canaries}</td>
              <td>{p.ChecksFailed}</td>
              <td>{(p.Caught ? Html.Of($"<strong class=\"bad\">caught cheating</strong>") : Html.Text("no"))}</td>
              <td>{EscapeOdds(p)}</td>
            </tr>
            """));
        return Html.Of($"""
            <table>
              <caption>Per provider: what was checked, and the odds that cheating would have escaped these checks</caption>
              <thead><tr><th scope="col">Provider</th><th scope="col">Delivered</th><th scope="col">Tile checks</th><th scope="col">Whole-frame checks</th><th scope="col">Canaries</th><th scope="col">Failed checks</th><th scope="col">Caught</th><th scope="col">Escape odds</th></tr></thead>
              <tbody>{rows}</tbody>
            </table>
            """);
    }

    // Rows: the share of frames cheated; columns: the share of each cheated frame that is wrong.
    private static Html EscapeOdds(ProviderVerification provider)
    {
        double[] areas = [.. provider.Escape.Select(e => e.CheatedArea).Distinct().Order()];
        var rows = provider.Escape.GroupBy(e => e.CheatedShare).OrderBy(g => g.Key).Select(g => Html.Of($"""
            <tr><th scope="row">{g.Key:P0}</th>{areas.Select(a => g.FirstOrDefault(e => e.CheatedArea == a) is { } odds ? Html.Of($"<td>{odds.Probability:P2}</td>") : Html.Of($"<td>—</td>"))}</tr>
            """));
        return Html.Of($"""
            <table class="odds">
              <caption>Chance that cheating escaped, {TaskWords.Short(provider.Provider)}</caption>
              <thead><tr><th scope="col">Frames cheated</th>{areas.Select(a => Html.Of($"<th scope=\"col\">{a:P0} of each</th>"))}</tr></thead>
              <tbody>{rows}</tbody>
            </table>
            """);
    }

    private static Html Payment(HttpContext context, JobView view)
    {
        JobRecord job = view.Job;
        if (job.Spec.Budget <= 0)
        {
            return Html.Of($"<p>Unpaid job (no budget).</p>");
        }

        Html budget = Html.Of($"<p>Budget: {TokenUnits.Format(TokenUnits.FromTokens(job.Spec.Budget))}, paid from {WebLayout.Address(job.Spec.Payer)}.</p>");
        if (job.State == JobState.AwaitingEscrow)
        {
            return Html.Of($"""
                {budget}
                <p>Waiting for the budget to be locked in this job's escrow (from the paying account's wallet, or
                <code>renderfarm render --budget</code>). Once it is locked:</p>
                <form method="post" action="/jobs/{job.Id}/escrow">{WebLayout.FormToken(context)}<button type="submit">Start the job: the budget is locked</button></form>
                """);
        }

        if (job.Settlement is not { } settlement)
        {
            return Html.Of($"{budget}<p>Locked in escrow; providers are paid when the job ends.</p>");
        }

        var payouts = settlement.Payouts.Select(p => Html.Of($"""
            <tr><th scope="row">{WebLayout.Address(p.Provider)}</th><td>{p.Frames}</td><td>{TokenUnits.Format(BigInteger.Parse(p.Amount, CultureInfo.InvariantCulture))}</td><td><code>{p.TransactionId}</code></td></tr>
            """));
        var slashes = settlement.Slashes.Select(s => Html.Of($"""
            <li>{WebLayout.Address(s.Provider)} slashed {TokenUnits.Format(BigInteger.Parse(s.Amount, CultureInfo.InvariantCulture))}{(s.TransactionId is null ? Html.Empty : Html.Of($" (<code>{s.TransactionId}</code>)"))}</li>
            """));
        return Html.Of($"""
            {budget}
            <p>Settled {WebLayout.Ago(settlement.SettledAt, view.Now)} at {TokenUnits.Format(BigInteger.Parse(settlement.PricePerFrame, CultureInfo.InvariantCulture))} a verified frame.{(settlement.Note is null ? "" : " " + settlement.Note)}</p>
            {Html.If(settlement.Payouts.Count > 0, Html.Of($"""
              <table><caption>Payouts</caption>
              <thead><tr><th scope="col">Provider</th><th scope="col">Verified frames</th><th scope="col">Paid</th><th scope="col">Transaction</th></tr></thead>
              <tbody>{payouts}</tbody></table>
              """))}
            {Html.If(settlement.Slashes.Count > 0, Html.Of($"<ul>{slashes}</ul>"))}
            <p>Refund of the rest: {(settlement.RefundTransactionId is null ? Html.Text("none") : Html.Of($"<code>{settlement.RefundTransactionId}</code>"))}</p>
            """);
    }

    private static async Task<Html> TaskLiveAsync(HttpContext context, ClientIdentity caller, Guid id, int index, CancellationToken cancellationToken)
    {
        JobView view = await JobView.LoadAsync(context, caller, id, cancellationToken);
        TaskDetails task = view.Details.Tasks.FirstOrDefault(t => t.Index == index)
            ?? throw new CoordinatorException(StatusCodes.Status404NotFound, $"Job {id} has no task {index}.");
        IFarmStore store = context.RequestServices.GetRequiredService<IFarmStore>();
        IReadOnlyList<TaskEventRecord> events = await store.GetTaskEventsAsync(id, index, MaxTimelineEntries, cancellationToken);
        var entries = events.Select(e => Html.Of($"""
            <li class="event event-{e.Kind.ToString().ToLowerInvariant()}"><time datetime="{e.At:O}">{e.At:HH:mm:ss}</time> <span class="kind">{KindWords(e.Kind)}</span> {e.Detail}</li>
            """));
        IReadOnlyList<SpotCheckRecord> checks = task.Checks ?? [];
        var checkRows = checks.Select(c => Html.Of($"""
            <tr>
              <td>#{c.Number}</td><td>{c.Frame}</td><td>{TaskTimeline.Describe(c)}</td><td>{WebLayout.Address(c.Validator)}</td><td>{c.State}</td>
              <td>{(c.State is SpotCheckState.Passed or SpotCheckState.Failed ? TaskTimeline.Decision(c) : "")}</td>
            </tr>
            """));
        return Html.Of($"""
            <p class="words" id="task-words"><strong>{view.Words(task)}</strong></p>
            <dl class="facts">
              <dt>Frames</dt><dd>{task.FirstFrame}-{task.LastFrame}</dd>
              <dt>Provider</dt><dd>{WebLayout.Address(task.Provider)}</dd>
              <dt>Leases</dt><dd>{task.Attempts}</dd>
            </dl>
            <section aria-labelledby="timeline-heading">
              <h2 id="timeline-heading">Timeline</h2>
              {(events.Count == 0 ? Html.Of($"<p>Nothing has happened to this task yet.</p>") : Html.Of($"""<ol class="timeline" aria-label="Timeline of task {index}">{entries}</ol>"""))}
            </section>
            {Html.If(checks.Count > 0, Html.Of($"""
              <section aria-labelledby="checks-heading">
                <h2 id="checks-heading">Checks</h2>
                <table><caption>Every check of this task's output, with its numbers</caption>
                <thead><tr><th scope="col">Check</th><th scope="col">Frame</th><th scope="col">Kind</th><th scope="col">Validator</th><th scope="col">State</th><th scope="col">Numbers and verdict</th></tr></thead>
                <tbody>{checkRows}</tbody></table>
              </section>
              """))}
            """);
    }

    private static async Task<JobRecord> GetVisibleJobAsync(HttpContext context, ClientIdentity caller, Guid id)
    {
        // The API's own check first (404 for another account's job), then the record for its spec.
        await context.RequestServices.GetRequiredService<JobService>().GetFinishedFramesAsync(id, caller, context.RequestAborted);
        return (await context.RequestServices.GetRequiredService<IFarmStore>().GetJobAsync(id, context.RequestAborted))!;
    }

    private static (int Verified, int Total) Progress(JobRecord job, IReadOnlyList<TaskRecord> tasks) =>
        (tasks.Where(t => t.State == FarmTaskState.Succeeded).Sum(t => t.LastFrame - t.FirstFrame + 1), job.Spec.Frames.Count);

    private static Html ProgressBar(int verified, int total, string unit) =>
        Html.Of($"""<progress max="{total}" value="{verified}" aria-label="{verified} of {total} {unit} verified"></progress> <span class="count">{verified}/{total}</span>""");

    private static Html Cost(JobRecord job)
    {
        if (job.Settlement is { } settlement)
        {
            BigInteger paid = settlement.Payouts.Aggregate(BigInteger.Zero, (sum, p) => sum + BigInteger.Parse(p.Amount, CultureInfo.InvariantCulture));
            return Html.Text($"{TokenUnits.Format(paid)} paid");
        }

        return job.Spec.Budget > 0 ? Html.Text($"up to {TokenUnits.Format(TokenUnits.FromTokens(job.Spec.Budget))}") : Html.Text("unpaid");
    }

    private static string StateWords(JobState state) => state switch
    {
        JobState.AwaitingEscrow => "awaiting escrow",
        _ => state.ToString().ToLowerInvariant(),
    };

    private static string KindWords(TaskEventKind kind) => kind switch
    {
        TaskEventKind.CheckQueued => "check planned",
        TaskEventKind.CheckLeased => "check leased",
        TaskEventKind.CheckDecided => "check decided",
        TaskEventKind.FailedForGood => "failed for good",
        _ => kind.ToString().ToLowerInvariant(),
    };

    /// <summary>A job as its page shows it: the API's view (authorized, canaries and addresses filtered) and the lease clocks.</summary>
    private sealed record JobView(JobRecord Job, JobDetails Details, IReadOnlyList<TaskRecord> Raw, DateTimeOffset Now, TimeSpan LeaseDuration)
    {
        public static async Task<JobView> LoadAsync(HttpContext context, ClientIdentity caller, Guid id, CancellationToken cancellationToken)
        {
            IServiceProvider services = context.RequestServices;
            JobDetails details = await services.GetRequiredService<JobService>().GetAsync(id, caller, new Uri("http://localhost/"), cancellationToken);
            IFarmStore store = services.GetRequiredService<IFarmStore>();
            JobRecord job = await store.GetJobAsync(id, cancellationToken) ?? throw new CoordinatorException(StatusCodes.Status404NotFound, $"No job {id}.");
            IReadOnlyList<TaskRecord> raw = await store.GetTasksAsync(id, cancellationToken);
            return new JobView(
                job,
                details,
                raw,
                services.GetRequiredService<TimeProvider>().GetUtcNow(),
                services.GetRequiredService<IOptions<CoordinatorOptions>>().Value.LeaseDuration);
        }

        public string Words(TaskDetails task) =>
            task.State == FarmTaskState.Queued && Job is { Paused: true, State: JobState.Queued or JobState.AwaitingEscrow or JobState.Running }
                ? "paused: waits for the job to be resumed"
                : TaskWords.Describe(task, Raw.FirstOrDefault(t => t.Index == task.Index)?.LeaseExpiresAt, Now, LeaseDuration);
    }
}
