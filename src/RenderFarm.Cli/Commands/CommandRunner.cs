using System.Text.Json;
using RenderFarm.Coordinator;
using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>Runs a command body and turns failures into one-line messages and exit codes, never a stack trace.</summary>
internal static class CommandRunner
{
    /// <summary>
    /// Exit code for a mistake in the user's input or set-up: a bad argument, a coordinator that cannot be reached or
    /// answers nonsense, a coordinator that cannot start with its settings.
    /// </summary>
    public const int UserErrorExitCode = 2;

    /// <summary>Exit code after Ctrl-C, as shells report SIGINT.</summary>
    public const int CancelledExitCode = 130;

    public static async Task<int> RunAsync(Func<Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("renderfarm: cancelled.").ConfigureAwait(false);
            return CancelledExitCode;
        }
        catch (Exception exception) when (Describe(exception) is { } message)
        {
            await Console.Error.WriteLineAsync($"renderfarm: error: {message.ReplaceLineEndings(" ")}").ConfigureAwait(false);
            return UserErrorExitCode;
        }
    }

    /// <summary>The one line to print for a failure the user can act on, or null for a fault of the program itself.</summary>
    internal static string? Describe(Exception exception) => exception switch
    {
        UserInputException or CoordinatorStartException => exception.Message,

        // No answer at all: refused, reset, name not found. Answers with a status carry their own message.
        HttpRequestException { StatusCode: null, HttpRequestError: not HttpRequestError.Unknown } network =>
            $"cannot reach the coordinator: {network.Message}{(network.InnerException is { } inner && !network.Message.Contains(inner.Message, StringComparison.Ordinal) ? $" ({inner.Message})" : "")}",
        HttpRequestException answered => answered.Message,

        // HttpClient's own timeout (the caller's token did not fire).
        TaskCanceledException { InnerException: TimeoutException } => $"the coordinator did not answer in time: {exception.Message}",
        JsonException json => $"the coordinator's answer is not the JSON expected: {json.Message}",
        _ => null,
    };
}
