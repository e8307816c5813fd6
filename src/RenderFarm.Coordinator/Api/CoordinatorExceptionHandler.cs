using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Core;
using RenderFarm.Core.Storage;

namespace RenderFarm.Coordinator.Api;

/// <summary>
/// Turns refusals into RFC 7807 problem details whose <c>detail</c> says in one line what was
/// wrong; anything else stays a 500 without internals.
/// </summary>
internal sealed class CoordinatorExceptionHandler(IProblemDetailsService problemDetails) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        (int status, string detail)? problem = exception switch
        {
            CoordinatorException refused => (refused.StatusCode, refused.Message),
            UserInputException input => (StatusCodes.Status400BadRequest, input.Message),
            ObjectNotFoundException missing => (StatusCodes.Status404NotFound, missing.Message),

            // Thrown by minimal APIs (RouteHandlerOptions.ThrowOnBadRequest) for unreadable bodies,
            // unknown JSON members and bodies over Kestrel's size limit.
            BadHttpRequestException bad => (bad.StatusCode, OneLine(bad.InnerException is JsonException json ? $"Invalid JSON: {json.Message}" : bad.Message)),
            _ => null,
        };
        if (problem is not { } p || httpContext.Response.HasStarted)
        {
            return false;
        }

        httpContext.Response.StatusCode = p.status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = { Status = p.status, Title = ReasonPhrases.GetReasonPhrase(p.status), Detail = p.detail },
        });
    }

    /// <summary>
    /// Gives an error answered without a body (a 404 of an unknown route, a 405, the 415 of an upload without an
    /// accepted content type) the problem body every other refusal has, with a one-line detail.
    /// </summary>
    public static async Task WriteStatusProblemAsync(StatusCodeContext context)
    {
        HttpContext http = context.HttpContext;
        int status = http.Response.StatusCode;
        string request = $"{http.Request.Method} {http.Request.Path}";
        string detail = status switch
        {
            StatusCodes.Status401Unauthorized => $"{request} needs a valid bearer token (sign in first).",
            StatusCodes.Status403Forbidden => $"{request} is not allowed for this caller.",
            StatusCodes.Status404NotFound => $"{request} names nothing here.",
            StatusCodes.Status405MethodNotAllowed => $"{http.Request.Method} is not allowed on {http.Request.Path}.",
            StatusCodes.Status415UnsupportedMediaType => http.Request.ContentType is { Length: > 0 } type
                ? $"{request} does not accept content type '{Clip(type)}'; /openapi/v1.json lists the accepted types."
                : $"{request} needs a Content-Type header; /openapi/v1.json lists the accepted types.",
            _ => $"{request} failed: {ReasonPhrases.GetReasonPhrase(status)}.",
        };
        IProblemDetailsService problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = status, Title = ReasonPhrases.GetReasonPhrase(status), Detail = detail },
        });
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    // A header is the caller's text: one line, and short enough for a message.
    private static string Clip(string text)
    {
        string line = OneLine(text);
        return line.Length <= 100 ? line : line[..100] + "…";
    }
}
