using System.Net;

namespace RenderFarm.Worker;

/// <summary>The coordinator refused a request; <see cref="Exception.Message"/> carries its explanation.</summary>
public class FarmRequestException : Exception
{
    /// <summary>Creates the exception for a refused request.</summary>
    /// <param name="message">One line for people: the request, the status and the coordinator's explanation.</param>
    /// <param name="statusCode">The HTTP status of the response.</param>
    /// <param name="detail">The problem details' <c>detail</c> (or <c>title</c>), when the response had one.</param>
    public FarmRequestException(string message, HttpStatusCode statusCode, string? detail)
        : base(message)
    {
        StatusCode = statusCode;
        Detail = detail;
    }

    /// <summary>The HTTP status of the response.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The coordinator's explanation from the problem details, when it sent one.</summary>
    public string? Detail { get; }
}

/// <summary>
/// The lease is no longer this provider's (it expired and was given to someone else, or was cancelled),
/// so work on it should stop; nothing about it needs reporting.
/// </summary>
public sealed class LeaseLostException : FarmRequestException
{
    /// <summary>Creates the exception for a lease the coordinator no longer recognises as this provider's.</summary>
    /// <param name="message">One line for people.</param>
    /// <param name="statusCode">403, 404 or 409.</param>
    /// <param name="detail">The coordinator's explanation, when it sent one.</param>
    public LeaseLostException(string message, HttpStatusCode statusCode, string? detail)
        : base(message, statusCode, detail)
    {
    }
}
