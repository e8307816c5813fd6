using System.Text.Json;
using System.Text.RegularExpressions;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary><c>job pause</c> and <c>job resume</c> on a coordinator.</summary>
public sealed partial class JobPauseCommandFacts
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    [GeneratedRegex(@"job ([0-9a-f-]{36}): ")]
    private static partial Regex JobLine();

    // Guards: the CLI had no way to pause or resume a job; an ended job is refused in one line.
    [Fact]
    public async Task A_job_is_paused_resumed_and_an_ended_one_refused()
    {
        await using CliFarm farm = await CliFarm.StartAsync();
        CliResult submitted = await farm.RunAsync(
            "render", s_cornellBox, "--frames", "1-2", "--size", "16x16", "--spp", "1", "--detach", "--out", Path.Combine(farm.Folder, "frames"));
        Assert.True(submitted.ExitCode == 0, submitted.Error);
        Match line = JobLine().Match(submitted.Output);
        Assert.True(line.Success, submitted.Output);
        string id = line.Groups[1].Value;

        CliResult paused = await farm.RunAsync("job", "pause", id, "--json");
        Assert.True(paused.ExitCode == 0, paused.Error);
        Assert.True(JsonSerializer.Deserialize<JobSummary>(paused.Output, s_json)!.Paused);

        CliResult resumed = await farm.RunAsync("job", "resume", id);
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Contains("resumed; job", resumed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("(paused)", resumed.Output, StringComparison.Ordinal);

        CliResult cancelled = await farm.RunAsync("job", "cancel", id);
        Assert.True(cancelled.ExitCode == 0, cancelled.Error);
        JobCommandFacts.AssertOneLine(await farm.RunAsync("job", "pause", id), 2, $"is {JobState.Cancelled}");
    }
}
