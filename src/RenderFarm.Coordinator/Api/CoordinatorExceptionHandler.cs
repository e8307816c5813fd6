using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
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

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
