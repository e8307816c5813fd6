using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>Runs a command body and turns failures into one-line messages and exit codes.</summary>
internal static class CommandRunner
{
    /// <summary>Exit code for a mistake in the user's input.</summary>
    public const int UserErrorExitCode = 2;

    /// <summary>Exit code after Ctrl-C, as shells report SIGINT.</summary>
    public const int CancelledExitCode = 130;

    public static async Task<int> RunAsync(Func<Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (UserInputException exception)
        {
            await Console.Error.WriteLineAsync($"renderfarm: error: {exception.Message}").ConfigureAwait(false);
            return UserErrorExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("renderfarm: cancelled.").ConfigureAwait(false);
            return CancelledExitCode;
        }
    }
}
