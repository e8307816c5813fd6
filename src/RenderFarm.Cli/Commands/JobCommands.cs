using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RenderFarm.Cli.Farm;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// Jobs on a coordinator, after the terminal that submitted them is gone: <c>renderfarm jobs</c> lists them;
/// <c>renderfarm job show|download|cancel|pause|resume|requeue ID</c> looks at one, fetches its verified frames
/// (resumable), stops, pauses or resumes it, or queues its failed tasks again (<c>--new-job</c>: submits what it did not
/// finish as a new job). <c>--json</c> prints the coordinator's answer for scripts.
/// </summary>
internal static class JobCommands
{
    private static readonly JsonSerializerOptions s_print = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    /// <summary>The <c>jobs</c> command.</summary>
    public static Command CreateList()
    {
        var json = JsonOption();
        var client = new ClientSettings();
        var command = new Command("jobs", "List your newest jobs on the coordinator (every account's for the operator).") { json };
        client.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                using CoordinatorClient coordinator = Connect(client, result);
                IReadOnlyList<JobSummary> jobs = await coordinator.ListJobsAsync(cancellationToken).ConfigureAwait(false);
                if (result.GetValue(json))
                {
                    PrintJson(jobs);
                    return 0;
                }

                Console.WriteLine($"{"ID",-36}  {"STATE",-14}  {"TASKS",-11}  {"PRIORITY",8}  {"CREATED (UTC)",-16}  {"FRAMES",-16}  SCENE");
                foreach (JobSummary job in jobs)
                {
                    Console.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"{job.Id,-36}  {job.State,-14}  {$"{job.TasksDone}/{job.TasksTotal}",-11}  {job.Priority,8}  {job.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm}  {Shorten(job.Frames, 16),-16}  {job.SceneFileName}"));
                }

                return 0;
            },
            cancellationToken));
        return command;
    }

    /// <summary>The <c>job</c> command and its subcommands.</summary>
    public static Command CreateJob()
    {
        var command = new Command("job", "Look at, download, cancel, pause, resume or requeue one job on the coordinator.");
        command.Subcommands.Add(CreateShow());
        command.Subcommands.Add(CreateDownload());
        command.Subcommands.Add(CreateCancel());
        command.Subcommands.Add(CreatePause(true));
        command.Subcommands.Add(CreatePause(false));
        command.Subcommands.Add(CreateRequeue());
        return command;
    }

    private static Command CreateShow()
    {
        var id = IdArgument();
        var json = JsonOption();
        var client = new ClientSettings();
        var command = new Command("show", "Show a job: its state, progress, tasks, warnings and web page.") { id, json };
        client.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                using CoordinatorClient coordinator = Connect(client, result);
                Guid jobId = ParseId(result.GetValue(id)!);
                JobDetails job = await coordinator.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
                if (result.GetValue(json))
                {
                    PrintJson(job);
                    return 0;
                }

                JobSummary summary = job.Job;
                int frames = job.Tasks.Sum(t => t.Frames.Count);
                Print($"job       {summary.Id}");
                Print($"page      {coordinator.JobPage(summary.Id)}");
                Print($"state     {summary.State}{(summary.Error is { } error ? $": {error}" : "")}");
                Print($"scene     {summary.SceneFileName}");
                Print($"frames    {summary.Frames} ({frames} verified, {summary.TasksDone}/{summary.TasksTotal} tasks done)");
                Print($"settings  {job.Settings.Size}, {job.Settings.SamplesPerPixel} spp, priority {summary.Priority}");
                Print($"created   {summary.CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC{(summary.FinishedAt is { } finished ? $", finished {finished.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC" : "")}");
                if (summary.Warning is { } warning)
                {
                    Print($"warning   {warning}");
                }

                foreach (IGrouping<FarmTaskState, TaskDetails> state in job.Tasks.GroupBy(t => t.State).OrderBy(g => g.Key))
                {
                    Print($"tasks     {state.Count()} {state.Key}");
                }

                return 0;
            },
            cancellationToken));
        return command;
    }

    private static Command CreateDownload()
    {
        var id = IdArgument();
        var output = new Option<string>("--out") { Description = "Folder for the PNG frames (created if missing); frames already there with the same SHA-256 are skipped.", DefaultValueFactory = _ => "frames" };
        var wait = new Option<bool>("--wait") { Description = "Keep downloading as frames are verified until the job ends." };
        var client = new ClientSettings();
        var command = new Command("download", "Download a job's verified frames into a folder; run it again to resume.") { id, output, wait };
        client.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                using CoordinatorClient coordinator = Connect(client, result);
                Guid jobId = ParseId(result.GetValue(id)!);
                string folder = result.GetValue(output)!;
                var downloader = new FrameDownloader(coordinator, folder);
                JobDetails job = result.GetValue(wait)
                    ? await JobFollower.FollowAsync(coordinator, jobId, downloader, null, cancellationToken).ConfigureAwait(false)
                    : await coordinator.GetJobAsync(jobId, cancellationToken).ConfigureAwait(false);
                if (!result.GetValue(wait))
                {
                    await downloader.SyncAsync(job, cancellationToken).ConfigureAwait(false);
                }

                Print($"{downloader.Downloaded} frame(s) downloaded, {downloader.Skipped} already there -> {folder}; job {job.Job.State}, {job.Job.Frames}");
                return 0;
            },
            cancellationToken));
        return command;
    }

    private static Command CreateCancel()
    {
        var id = IdArgument();
        var json = JsonOption();
        var client = new ClientSettings();
        var command = new Command("cancel", "Cancel a job: providers stop working on it; its verified frames stay downloadable.") { id, json };
        client.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                using CoordinatorClient coordinator = Connect(client, result);
                JobSummary job = await coordinator.CancelAsync(ParseId(result.GetValue(id)!), cancellationToken).ConfigureAwait(false);
                PrintSummary(job, result.GetValue(json), "cancelled");
                return 0;
            },
            cancellationToken));
        return command;
    }

    private static Command CreatePause(bool pause)
    {
        var id = IdArgument();
        var json = JsonOption();
        var client = new ClientSettings();
        var command = pause
            ? new Command("pause", "Pause a job: its queued tasks are not leased until it is resumed; leased tasks finish.") { id, json }
            : new Command("resume", "Resume a paused job: its queued tasks may be leased again.") { id, json };
        client.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                using CoordinatorClient coordinator = Connect(client, result);
                JobSummary job = await coordinator.SetPausedAsync(ParseId(result.GetValue(id)!), pause, cancellationToken).ConfigureAwait(false);
                PrintSummary(job, result.GetValue(json), pause ? "paused" : "resumed");
                return 0;
            },
            cancellationToken));
        return command;
    }

    private static Command CreateRequeue()
    {
        var id = IdArgument();
        var json = JsonOption();
        var newJob = new Option<bool>("--new-job")
        {
            Description = "Submit the frames a failed or cancelled job did not finish as a new job with the same scene and settings (and a new escrow) instead.",
        };
        var client = new ClientSettings();
        var command = new Command("requeue", "Requeue a failed job's failed tasks in place: their attempts are reset and the job runs again; verified frames stay.") { id, newJob, json };
        client.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            async () =>
            {
                using CoordinatorClient coordinator = Connect(client, result);
                Guid jobId = ParseId(result.GetValue(id)!);
                if (result.GetValue(newJob))
                {
                    JobSummary copy = await coordinator.RequeueAsync(jobId, cancellationToken).ConfigureAwait(false);
                    PrintSummary(copy, result.GetValue(json), $"submitted as job {copy.Id}: {coordinator.JobPage(copy.Id)}");
                    return 0;
                }

                JobSummary job = await coordinator.RequeueFailedAsync(jobId, cancellationToken).ConfigureAwait(false);
                PrintSummary(job, result.GetValue(json), $"failed tasks requeued: {coordinator.JobPage(job.Id)}");
                return 0;
            },
            cancellationToken));
        return command;
    }

    private static void PrintSummary(JobSummary job, bool json, string what)
    {
        if (json)
        {
            PrintJson(job);
            return;
        }

        Print($"{what}; job {job.Id} is {job.State}{(job.Paused ? " (paused)" : "")}, frames {job.Frames}");
        if (job.Warning is { } warning)
        {
            Console.Error.WriteLine($"renderfarm: warning: {warning}");
        }
    }

    private static CoordinatorClient Connect(ClientSettings client, ParseResult result)
    {
        ClientSettings.Resolved settings = client.Read(result);
        return settings.CreateClient(settings.RequireCoordinator(), s_timeout);
    }

    private static Argument<string> IdArgument() => new("id") { Description = "The job's id, as 'renderfarm render' and 'renderfarm jobs' print it." };

    private static Option<bool> JsonOption() => new("--json") { Description = "Print the coordinator's answer as JSON, for scripts." };

    private static Guid ParseId(string text) => Guid.TryParse(text.Trim(), out Guid id)
        ? id
        : throw new UserInputException($"'{Shorten(text, 64)}' is not a job id; a job id looks like 3f2b8c1e-5d4a-4c3b-9a1f-0e2d3c4b5a69.");

    private static void PrintJson<T>(T value) => Console.WriteLine(JsonSerializer.Serialize(value, s_print));

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    private static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
