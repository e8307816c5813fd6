namespace RenderFarm.Coordinator;

/// <summary>A request the coordinator refuses: becomes a problem-details response with this status and detail.</summary>
internal sealed class CoordinatorException(int statusCode, string detail) : Exception(detail)
{
    /// <summary>The HTTP status code (4xx).</summary>
    public int StatusCode { get; } = statusCode;
}
