using System.Diagnostics;

namespace RenderFarm.Testing;

/// <summary>What the throwaway servers share about the processes they start.</summary>
internal static class ServiceProcesses
{
    /// <summary>Kills the process with its children, waits for it to exit and releases it.</summary>
    public static async Task KillAsync(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            process.Dispose();
        }
    }
}
