using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// Jobs outlive the terminal: <c>render</c> on a coordinator prints the job and its page, <c>--detach</c> returns at
/// once, Ctrl-C detaches instead of cancelling, and <c>jobs</c> / <c>job show|download|cancel|requeue</c> find the job
/// again through the settings file.
/// </summary>
public sealed partial class JobCommandFacts
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    [GeneratedRegex(@"job ([0-9a-f-]{36}): (http://\S+)")]
    private static partial Regex JobLine();

    // Guards: `render --coordinator` printed no job id, Blender-style frame lists were refused, and there was no
    // command to find, cancel or requeue a job later.
    [Fact]
    public async Task A_detached_job_with_a_frame_list_is_listed_shown_cancelled_and_requeued()
    {
        await using CliFarm farm = await CliFarm.StartAsync();

        CliResult submitted = await farm.RunAsync(
            "render", s_cornellBox, "--frames", "1,3,5-9,10-20x2", "--size", "16x16", "--spp", "1", "--priority", "3", "--detach", "--out", Path.Combine(farm.Folder, "frames"));

        Assert.True(submitted.ExitCode == 0, submitted.Error);
        Match line = JobLine().Match(submitted.Output);
        Assert.True(line.Success, submitted.Output);
        Guid id = Guid.Parse(line.Groups[1].Value);
        Assert.Equal(new Uri(farm.Host.Address, $"jobs/{id}"), new Uri(line.Groups[2].Value));

        JobSummary listed = Assert.Single(await ListAsync(farm));
        Assert.Equal(id, listed.Id);
        Assert.Equal(13, listed.TasksTotal);
        Assert.Equal(3, listed.Priority);
        Assert.Equal("1-5x2,6-10,12-20x2", listed.Frames);

        CliResult shown = await farm.RunAsync("job", "show", id.ToString());
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Contains("Queued", shown.Output, StringComparison.Ordinal);
        Assert.Contains($"jobs/{id}", shown.Output, StringComparison.Ordinal);

        CliResult cancelled = await farm.RunAsync("job", "cancel", id.ToString());
        Assert.True(cancelled.ExitCode == 0, cancelled.Error);
        CliResult again = await farm.RunAsync("job", "cancel", id.ToString());
        AssertOneLine(again, 2, "already Cancelled");

        // In place, only a failed job's failed tasks are requeued; a cancelled job's frames go to a new job.
        AssertOneLine(await farm.RunAsync("job", "requeue", id.ToString()), 2, "only failed tasks of a failed job are requeued in place");
        CliResult requeued = await farm.RunAsync("job", "requeue", id.ToString(), "--new-job", "--json");
        Assert.True(requeued.ExitCode == 0, requeued.Error);
        JobSummary copy = JsonSerializer.Deserialize<JobSummary>(requeued.Output, s_json)!;
        Assert.NotEqual(id, copy.Id);
        Assert.Equal(JobState.Queued, copy.State);
        Assert.Equal("1-5x2,6-10,12-20x2", copy.Frames);
        Assert.Equal(2, (await ListAsync(farm)).Count);
    }

    [Theory]
    [InlineData("not-a-guid", "not a job id")]
    [InlineData("3f2b8c1e-5d4a-4c3b-9a1f-0e2d3c4b5a69", "404")]
    public async Task An_unknown_job_is_one_line_and_exit_code_2(string id, string expected)
    {
        await using CliFarm farm = await CliFarm.StartAsync();

        AssertOneLine(await farm.RunAsync("job", "show", id), 2, expected);
    }

    // Guards: Ctrl-C (or a closed terminal) during `render --coordinator` cancelled the job on the farm.
    [Fact]
    public async Task Ctrl_C_detaches_and_the_job_keeps_running()
    {
        await using CliFarm farm = await CliFarm.StartAsync();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryPaths.Root,
        };
        foreach ((string name, string? value) in farm.Environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        foreach (string argument in new[] { Path.Combine(AppContext.BaseDirectory, "renderfarm.dll"), "render", s_cornellBox, "--size", "16x16", "--spp", "1", "--out", Path.Combine(farm.Folder, "frames") })
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string? jobLine;
        while ((jobLine = await process.StandardOutput.ReadLineAsync()) is not null && !JobLine().IsMatch(jobLine))
        {
        }

        Assert.NotNull(jobLine);
        Guid id = Guid.Parse(JobLine().Match(jobLine).Groups[1].Value);
        using (Process kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(130, process.ExitCode);
        Assert.Contains($"detached; job {id} keeps running", await error, StringComparison.Ordinal);
        Assert.Contains(Assert.Single(await ListAsync(farm)).State, new[] { JobState.Queued, JobState.Running });
    }

    [Fact]
    public async Task Without_a_coordinator_anywhere_the_job_commands_say_how_to_name_one()
    {
        var environment = new Dictionary<string, string?>
        {
            ["RENDERFARM_CONFIG"] = Path.Combine(Path.GetTempPath(), $"no-such-renderfarm-config-{Guid.NewGuid():N}.json"),
            ["RENDERFARM_COORDINATOR"] = null,
        };

        AssertOneLine(await CliRunner.RunAsync(environment, "jobs"), 2, "RENDERFARM_COORDINATOR");
    }

    [Fact]
    public async Task The_coordinator_and_key_come_from_the_environment_too()
    {
        await using CliFarm farm = await CliFarm.StartAsync();
        var environment = new Dictionary<string, string?>
        {
            ["RENDERFARM_CONFIG"] = Path.Combine(farm.Folder, "missing.json"),
            ["RENDERFARM_COORDINATOR"] = farm.Host.Address.AbsoluteUri,
            ["RENDERFARM_KEY"] = Path.Combine(farm.Folder, "env.key"),
        };

        CliResult result = await CliRunner.RunAsync(environment, "jobs", "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Empty(JsonSerializer.Deserialize<List<JobSummary>>(result.Output, s_json)!);
        Assert.True(File.Exists(Path.Combine(farm.Folder, "env.key")));
    }

    // Guards: frames came back only while the submitting terminal stayed open; now they can be fetched later, and a
    // second download skips what is already there with the same hash.
    [Fact]
    [Trait("Category", "Gpu")]
    public async Task Frames_of_a_list_arrive_and_a_later_download_resumes()
    {
        await using CliFarm farm = await CliFarm.StartAsync();
        farm.StartWorker();
        string frames = Path.Combine(farm.Folder, "frames");

        CliResult rendered = await farm.RunAsync("render", s_cornellBox, "--frames", "1,3", "--size", "16x16", "--spp", "1", "--out", frames);

        Assert.True(rendered.ExitCode == 0, rendered.Error);
        Assert.Equal(["frame_0001.png", "frame_0003.png"], Directory.GetFiles(frames).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Guid id = Guid.Parse(JobLine().Match(rendered.Output).Groups[1].Value);

        string later = Path.Combine(farm.Folder, "later");
        CliResult first = await farm.RunAsync("job", "download", id.ToString(), "--out", later);
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.StartsWith("2 frame(s) downloaded, 0 already there", first.Output, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(frames, "frame_0003.png")), await File.ReadAllBytesAsync(Path.Combine(later, "frame_0003.png")));

        await File.WriteAllTextAsync(Path.Combine(later, "frame_0001.png"), "a broken earlier download");
        CliResult second = await farm.RunAsync("job", "download", id.ToString(), "--out", later);
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.StartsWith("1 frame(s) downloaded, 1 already there", second.Output, StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(frames, "frame_0001.png")), await File.ReadAllBytesAsync(Path.Combine(later, "frame_0001.png")));
    }

    private static async Task<List<JobSummary>> ListAsync(CliFarm farm)
    {
        CliResult result = await farm.RunAsync("jobs", "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        return JsonSerializer.Deserialize<List<JobSummary>>(result.Output, s_json)!;
    }

    internal static void AssertOneLine(CliResult result, int exitCode, string mustContain)
    {
        Assert.True(result.ExitCode == exitCode, $"exit code {result.ExitCode}; stderr: {result.Error}");
        string[] lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"Expected one line on stderr, got {lines.Length}:\n{result.Error}");
        Assert.StartsWith("renderfarm: error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(mustContain, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error + result.Output, StringComparison.Ordinal);
    }
}
