using System.Diagnostics;
using Xunit;

namespace RenderFarm.Gpu.Tests;

public sealed class ShaderSourceFacts
{
    [Fact]
    public async Task Committed_spirv_matches_the_shader_sources()
    {
        string root = RepositoryRoot.Find();
        var startInfo = new ProcessStartInfo("bash", ["scripts/compile-shaders.sh", "--check"])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        using Process process = Process.Start(startInfo)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);

        // The script itself explains a missing glslc (and how to install it) on stderr.
        Assert.True(
            process.ExitCode == 0,
            $"scripts/compile-shaders.sh --check exited with {process.ExitCode} (glslc is required: `sudo apt-get install glslc`):\n" +
            $"{await stdout}{await stderr}");
    }
}
