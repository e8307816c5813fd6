using Microsoft.AspNetCore.Http;
using RenderFarm.Coordinator.Auth;

namespace RenderFarm.Coordinator.Web;

/// <summary>The frame every page shares: head, navigation, who is signed in, and the live region a page streams into.</summary>
internal static class WebLayout
{
    // Scripts, styles and images come from this coordinator only; no inline script runs, and no site may frame a page.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

    /// <summary>A whole page.</summary>
    /// <param name="context">The request.</param>
    /// <param name="caller">Who is signed in, or null on the sign-in pages.</param>
    /// <param name="title">The page's title and heading.</param>
    /// <param name="body">The page's content; a live page holds an element with id <c>live</c>.</param>
    /// <param name="stream">The URL of the page's server-sent events, for a live page.</param>
    /// <param name="status">The HTTP status.</param>
    public static IResult Page(HttpContext context, ClientIdentity? caller, string title, Html body, string? stream = null, int status = StatusCodes.Status200OK)
    {
        Html nav = caller is null
            ? Html.Empty
            : Html.Of($"""
                <nav aria-label="Main">
                  <a href="/jobs">Jobs</a>
                  {Html.If(!caller.IsOperator, Html.Of($"""<a href="/submit">Submit a render</a>"""))}
                  <a href="/providers">Providers</a>
                  {Html.If(caller.IsOperator, Html.Of($"""<a href="/operator">Operator</a>"""))}
                </nav>
                <form class="who" method="post" action="/signout">
                  <span>Signed in as {(caller.IsOperator ? Html.Text("the operator") : Address(caller.Account))}</span>
                  {FormToken(context)}
                  <button type="submit">Sign out</button>
                </form>
                """);
        Html page = Html.Of($"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{title} · RenderFarm</title>
            <link rel="stylesheet" href="/static/farm.css">
            <script src="/static/farm.js" defer></script>
            </head>
            <body>
            <a class="skip" href="#main">Skip to the content</a>
            <header><a class="brand" href="/">RenderFarm</a>{nav}</header>
            <main id="main" tabindex="-1"{(stream is null ? Html.Empty : Html.Of($" data-stream=\"{stream}\""))}>
            <h1>{title}</h1>
            {body}
            </main>
            </body>
            </html>
            """);
        return Result(context, page, status);
    }

    /// <summary>An HTML answer with the app's security headers.</summary>
    public static IResult Result(HttpContext context, Html html, int status = StatusCodes.Status200OK)
    {
        SecurityHeaders(context);
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Content(html.Value, "text/html; charset=utf-8", statusCode: status);
    }

    /// <summary>The headers every page and fragment carries.</summary>
    public static void SecurityHeaders(HttpContext context)
    {
        context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers["Referrer-Policy"] = "same-origin";
    }

    /// <summary>An error page: the one-line reason, as the API would give it.</summary>
    public static IResult Error(HttpContext context, ClientIdentity? caller, int status, string message) =>
        Page(context, caller, status == StatusCodes.Status404NotFound ? "Not found" : "That did not work", Html.Of($"""
            <p class="error" role="alert">{message}</p>
            <p><a href="/jobs">Back to the jobs</a></p>
            """), status: status);

    /// <summary>The hidden field that proves a form came from this session's pages.</summary>
    public static Html FormToken(HttpContext context) =>
        Html.Of($"""<input type="hidden" name="{WebSession.FormTokenField}" value="{WebSession.FormToken(context)}">""");

    /// <summary>An address shortened for reading, whole in its tooltip.</summary>
    public static Html Address(string? address) =>
        address is null ? Html.Text("—") : Html.Of($"""<abbr class="address" title="{address}">{TaskWords.Short(address)}</abbr>""");

    /// <summary>A time as "40 s ago", exact in its tooltip.</summary>
    public static Html Ago(DateTimeOffset? at, DateTimeOffset now) =>
        at is { } time ? Html.Of($"""<time datetime="{time:O}" title="{time:yyyy-MM-dd HH:mm:ss} UTC">{TaskWords.Ago(time, now)}</time>""") : Html.Text("—");
}
