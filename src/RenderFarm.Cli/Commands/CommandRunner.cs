using RenderFarm.Client;
using RenderFarm.Coordinator;
using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// Runs a command body and turns failures into one line on standard error and a documented exit code (README, "Exit
/// codes"), never a stack trace.
/// </summary>
internal static class CommandRunner
{
    /// <summary>Exit code for a job that failed or was cancelled on the farm.</summary>
    public const int JobFailedExitCode = 1;

    /// <summary>
    /// Exit code for a mistake in the user's input or set-up, a request the coordinator refused (4xx: a bad request, an
    /// unknown job, a key it does not take), and a coordinator that cannot start with its settings.
    /// </summary>
    public const int UserErrorExitCode = 2;

    /// <summary>Exit code for a coordinator that cannot be reached: no such host, nothing listening, a broken connection, no answer in time.</summary>
    public const int UnreachableExitCode = 3;

    /// <summary>Exit code for a coordinator that failed (5xx) or answered something that is not its API's answer.</summary>
    public const int ServerErrorExitCode = 4;

    /// <summary>Exit code after Ctrl-C, as shells report SIGINT; a job on a coordinator keeps running.</summary>
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
        catch (Exception exception) when (Describe(exception) is { } failure)
        {
            await Console.Error.WriteLineAsync($"renderfarm: error: {failure.Message.ReplaceLineEndings(" ")}").ConfigureAwait(false);
            return failure.ExitCode;
        }
    }

    /// <summary>The one line to print for a failure the user can act on, and its exit code; null for a fault of the program itself.</summary>
    internal static (string Message, int ExitCode)? Describe(Exception exception)
    {
        if (exception is UserInputException or CoordinatorStartException)
        {
            return (exception.Message, UserErrorExitCode);
        }

        if (exception is JobFailedException)
        {
            return (exception.Message, JobFailedExitCode);
        }

        return CoordinatorClient.Classify(exception, "a call to the coordinator") is { } failure
            ? (failure.Message, failure.Failure switch
            {
                CoordinatorFailure.Refused => UserErrorExitCode,
                CoordinatorFailure.Unreachable => UnreachableExitCode,
                _ => ServerErrorExitCode,
            })
            : null;
    }
}
