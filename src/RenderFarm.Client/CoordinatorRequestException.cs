namespace RenderFarm.Client;

/// <summary>What kind of failure a call to the coordinator met; each has its own exit code in the command line.</summary>
public enum CoordinatorFailure
{
    /// <summary>The coordinator refused the request (a 4xx answer): the request, the account or the job is at fault.</summary>
    Refused,

    /// <summary>No answer: the address does not resolve, nothing listens, the connection broke, or it timed out.</summary>
    Unreachable,

    /// <summary>The coordinator answered with a server error (5xx) or with something that is not the answer expected.</summary>
    ServerError,
}

/// <summary>A call to the coordinator failed; the message is one line that says why.</summary>
public sealed class CoordinatorRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failure">What kind of failure.</param>
    /// <param name="statusCode">The HTTP status of the answer, when there was one.</param>
    /// <param name="message">One line.</param>
    /// <param name="inner">What caused it.</param>
    public CoordinatorRequestException(CoordinatorFailure failure, int? statusCode, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
        StatusCode = statusCode;
    }

    /// <summary>What kind of failure.</summary>
    public CoordinatorFailure Failure { get; }

    /// <summary>The HTTP status of the answer, when there was one.</summary>
    public int? StatusCode { get; }
}

/// <summary>A job ended without all its frames: it failed or was cancelled.</summary>
/// <param name="message">Why, in one line.</param>
public sealed class JobFailedException(string message) : Exception(message);
