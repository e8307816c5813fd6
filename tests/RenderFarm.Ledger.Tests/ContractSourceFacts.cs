using System.Diagnostics;
using RenderFarm.Testing;

namespace RenderFarm.Ledger.Tests;

public sealed class ContractSourceFacts
{
    [Fact]
    public async Task Committed_artifacts_match_the_solidity_sources()
    {
        var start = new ProcessStartInfo("node", [RepositoryPaths.Combine("contracts/compile.js"), "--check"])
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        // The script explains a missing solc (and how to install it) on stderr.
        Assert.True(
            process.ExitCode == 0,
            $"node contracts/compile.js --check exited with {process.ExitCode}:\n{await stdout}{await stderr}");
    }
}
