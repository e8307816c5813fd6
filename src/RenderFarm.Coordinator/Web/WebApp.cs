using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Coordinator.Observability;
using RenderFarm.Core;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// The web app the coordinator serves at <c>/</c>: server-rendered pages over the same services, accounts and
/// authorization as the API, live through one server-sent event stream per page, with a small committed script and
/// style sheet (no build step).
/// </summary>
internal static class WebApp
{
    // A live page's stream renders again at least this often, so pages follow coordinators that share the database
    // and relative times stay fresh; changes made here wake it at once.
    private static readonly TimeSpan s_refresh = TimeSpan.FromSeconds(10);

    // Bursts of changes (a lease, its upload, its check) are sent as one update.
    private static readonly TimeSpan s_coalesce = TimeSpan.FromMilliseconds(250);

    /// <summary>Registers what the pages, the timelines, the thumbnails and the metrics need.</summary>
    public static IServiceCollection AddRenderFarmWeb(this IServiceCollection services)
    {
        services.AddSingleton<FarmChanges>();
        services.AddSingleton<Thumbnails>();
        services.AddHostedService(sp => sp.GetRequiredService<Thumbnails>());
        services.AddSingleton<FarmActivity>();
        services.AddFarmMetrics();
        return services;
    }

    /// <summary>Maps the pages, their streams and the static assets, and the request log and <c>/metrics</c>.</summary>
    public static void MapRenderFarmWeb(WebApplication app)
    {
        CoordinatorObservability.UseFarmObservability(app);
        RouteGroupBuilder web = app.MapGroup("").ExcludeFromDescription();
        web.MapGet("/", (HttpContext context, CancellationToken cancellationToken) => Results.Redirect("/jobs"));
        WebAssets.Map(web);
        SignInPages.Map(web);
        JobPages.Map(web);
        SubmitPage.Map(web);
        FarmPages.Map(web);
    }

    /// <summary>Runs a page for the signed-in caller; sends others to the sign-in page, and turns refusals into error pages.</summary>
    public static async Task<IResult> WithCallerAsync(HttpContext context, Func<ClientIdentity, Task<IResult>> page)
    {
        ClientIdentity? caller = await WebSession.AuthenticateAsync(context);
        if (caller is null)
        {
            string next = context.Request.Path + context.Request.QueryString;
            return Results.Redirect($"/signin?next={Uri.EscapeDataString(next)}");
        }

        try
        {
            return await page(caller);
        }
        catch (CoordinatorException exception)
        {
            return WebLayout.Error(context, caller, exception.StatusCode, exception.Message);
        }
        catch (UserInputException exception)
        {
            return WebLayout.Error(context, caller, StatusCodes.Status400BadRequest, exception.Message);
        }
    }

    /// <summary>As <see cref="WithCallerAsync"/>, for a form post: it must carry the session's form token.</summary>
    /// <param name="context">The request.</param>
    /// <param name="action">What the post does, with the caller and the form.</param>
    /// <param name="maxBodyBytes">The largest body this post reads (file uploads), or null for the server's default.</param>
    public static Task<IResult> PostAsync(HttpContext context, Func<ClientIdentity, IFormCollection, Task<IResult>> action, long? maxBodyBytes = null) =>
        WithCallerAsync(context, async caller =>
        {
            if (maxBodyBytes is { } most && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            {
                size.MaxRequestBodySize = most;
            }

            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted);
            if (!WebSession.HasFormToken(context, form[WebSession.FormTokenField]))
            {
                throw new CoordinatorException(StatusCodes.Status403Forbidden, "The form did not come from this session's pages; reload the page and try again.");
            }

            return await action(caller, form);
        });

    /// <summary>
    /// A page's server-sent event stream: sends the live part (event <c>live</c>) whenever it differs from what was sent,
    /// woken by the farm's changes and by a slow refresh; ends when the session no longer holds.
    /// </summary>
    public static async Task StreamAsync(HttpContext context, Func<ClientIdentity, CancellationToken, Task<Html>> render)
    {
        FarmChanges changes = context.RequestServices.GetRequiredService<FarmChanges>();
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted, context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        CancellationToken cancellationToken = stop.Token;
        HttpResponse response = context.Response;
        WebLayout.SecurityHeaders(context);
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        string? sent = null;
        try
        {
            await response.WriteAsync("retry: 3000\n\n", cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
            while (!cancellationToken.IsCancellationRequested)
            {
                long version = changes.Version;
                ClientIdentity? caller = await WebSession.AuthenticateAsync(context);
                if (caller is null)
                {
                    await response.WriteAsync("event: end\ndata: signed out\n\n", cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    return;
                }

                string html;
                try
                {
                    html = (await render(caller, cancellationToken)).Value;
                }
                catch (CoordinatorException exception)
                {
                    html = Html.Of($"""<p class="error" role="alert">{exception.Message}</p>""").Value;
                }

                if (html != sent)
                {
                    await response.WriteAsync(Event("live", html), cancellationToken);
                    await response.Body.FlushAsync(cancellationToken);
                    sent = html;
                }

                await changes.WaitAsync(version, s_refresh, cancellationToken);
                await Task.Delay(s_coalesce, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The page was closed, or the coordinator stops.
        }
    }

    // One event; every line of the data gets its own "data:" field, as the format asks.
    private static string Event(string name, string data)
    {
        var text = new StringBuilder($"event: {name}\n");
        foreach (string line in data.Split('\n'))
        {
            text.Append("data: ").Append(line.TrimEnd('\r')).Append('\n');
        }

        return text.Append('\n').ToString();
    }

    /// <summary>A local path to return to after signing in: only paths of this site, never another host.</summary>
    public static string SafeNext(string? next) =>
        next is { Length: > 1 and < 2000 } && next[0] == '/' && next[1] is not ('/' or '\\') && !next.Contains('\n', StringComparison.Ordinal)
            ? next
            : "/jobs";
}
