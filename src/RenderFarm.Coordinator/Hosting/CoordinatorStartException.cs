namespace RenderFarm.Coordinator;

/// <summary>
/// A coordinator could not start: a setting is unusable, or PostgreSQL, the object store or the ledger cannot be
/// reached or prepared. The message is one line for the operator; the cause stays in <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class CoordinatorStartException : Exception
{
    /// <summary>Wraps the cause of a failed start.</summary>
    /// <param name="cause">What went wrong.</param>
    public CoordinatorStartException(Exception cause)
        : base($"The coordinator cannot start: {Describe(cause)}", cause)
    {
    }

    // The innermost message is the useful one ("Failed to connect to 127.0.0.1:5432"); wrappers add only their own words.
    private static string Describe(Exception cause)
    {
        Exception root = cause;
        while (root is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            root = aggregate.InnerExceptions[0];
        }

        string message = root.InnerException is { } inner && !root.Message.Contains(inner.Message, StringComparison.Ordinal)
            ? $"{root.Message} ({inner.Message})"
            : root.Message;
        return message.ReplaceLineEndings(" ").Trim();
    }
}
