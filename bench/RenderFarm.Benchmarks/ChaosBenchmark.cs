using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using RenderFarm.Coordinator;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using RenderFarm.Worker;

namespace RenderFarm.Benchmarks;

/// <summary>
/// <c>leases --chaos N</c>: two coordinator processes on one PostgreSQL, the simulated providers spread over both, and
/// every N seconds one coordinator killed (SIGKILL) and started again on its port while the jobs run. At the end it
/// checks the farm's invariant in the database: every Queued task has a Hangfire job waiting in a queue, every Leased
/// task a live lease, and no queue entry belongs to a task that is done.
/// </summary>
internal static class ChaosBenchmark
{
    private const string ChildCommand = "coordinator-child";
    private static readonly string[] s_queues = ["render"];

    public static async Task<int> RunAsync(BenchOptions options, int providerCount, int tasks, int jobSize, int everySeconds)
    {
        int minutes = options.Int("chaos-minutes", 3);
        Console.WriteLine(Stats.Machine());
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"leases --chaos: 2 coordinator processes, {providerCount} providers, {tasks} tasks in jobs of {jobSize}, one coordinator killed every {everySeconds} s, at most {minutes} min"));

        await using PostgresServer postgres = await PostgresServer.StartAsync();
        string directory = Directory.CreateTempSubdirectory("renderfarm-chaos-").FullName;
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = await postgres.CreateDatabaseAsync(),
            ["Storage__Directory"] = Path.Combine(directory, "objects"),
            ["Coordinator__SpotChecks"] = "false",
            ["Coordinator__Providers__MaxLoginsPerAddressPerMinute"] = "0",
        };
        foreach ((string key, string? value) in CoordinatorSecrets.Generate())
        {
            settings[key.Replace(":", "__", StringComparison.Ordinal)] = value ?? "";
        }

        int[] ports = [FreePort(), FreePort()];
        var children = new Process?[2];
        try
        {
            for (int i = 0; i < 2; i++)
            {
                children[i] = await StartChildAsync(ports[i], settings);
            }

            Uri[] urls = [.. ports.Select(p => new Uri($"http://127.0.0.1:{p}/"))];
            Nethereum.Signer.EthECKey artist = Nethereum.Signer.EthECKey.GenerateKey();
            using var client = new HttpClient(RenderFarm.Client.CoordinatorSignIn.WithKey(urls[0], artist.GetPublicAddress(), message => new Nethereum.Signer.EthereumMessageSigner().EncodeUTF8AndSign(message, artist)))
            {
                BaseAddress = urls[0],
                Timeout = TimeSpan.FromMinutes(2),
            };
            string png = Path.Combine(directory, "frame.png");
            (string pngSha, long pngSize) = WritePng(png);
            SceneUploaded scene = await UploadSceneAsync(client);
            var jobs = new List<Guid>();
            for (int left = tasks; left > 0; left -= jobSize)
            {
                using HttpResponseMessage submitted = await client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(scene.Sha256, $"1-{Math.Min(jobSize, left)}", ChunkSize: 1, Size: "16x16", SamplesPerPixel: 1), BenchFarm.Json);
                submitted.EnsureSuccessStatusCode();
                jobs.Add((await submitted.Content.ReadFromJsonAsync<JobSummary>(BenchFarm.Json))!.Id);
            }

            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(minutes));
            int completed = 0, failures = 0;
            string? firstFailure = null;
            var loops = new List<Task>();
            var https = new List<HttpClient>();
            for (int i = 0; i < providerCount; i++)
            {
                var http = new HttpClient { BaseAddress = urls[i % 2], Timeout = TimeSpan.FromSeconds(60) };
                https.Add(http);
                var provider = new FarmClient(http, ProviderKey.LoadOrCreate(Path.Combine(directory, "keys", $"p{i}.key")), "bench, chaos");
                loops.Add(Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        try
                        {
                            LeaseGrant? grant = await provider.LeaseAsync(s_queues, 5, stop.Token);
                            if (grant is null)
                            {
                                continue;
                            }

                            await provider.UploadAsync(grant.Uploads[0].Upload.Url, png, "image/png", stop.Token);
                            await provider.CompleteAsync(grant.LeaseId, new CompleteRequest([new CompletedFrame(grant.FirstFrame, pngSha, pngSize, 0)]), stop.Token);
                            Interlocked.Increment(ref completed);
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested)
                        {
                            return;
                        }
                        catch (Exception ex) when (ex is FarmRequestException or LeaseLostException or HttpRequestException or TaskCanceledException)
                        {
                            // A lease lost to a killed coordinator or an expiry: the task goes to someone else.
                            Interlocked.Increment(ref failures);
                            Interlocked.CompareExchange(ref firstFailure, ex.Message, null);
                        }
                    }
                }));
            }

            long start = Stopwatch.GetTimestamp();
            int kills = 0;
            bool done = false;
            while (!stop.IsCancellationRequested && !done)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(everySeconds), stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                done = await AllCompletedAsync(settings["ConnectionStrings__Postgres"], jobs);
                if (done)
                {
                    break;
                }

                int victim = kills % 2;
                if (children[victim] is { } running)
                {
                    running.Kill(entireProcessTree: true);
                    await running.WaitForExitAsync();
                    running.Dispose();
                    children[victim] = null;
                    kills++;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Stopwatch.GetElapsedTime(start).TotalSeconds,6:0.0} s: killed coordinator {victim} (SIGKILL), {Volatile.Read(ref completed)} completes so far; starting it again"));
                }

                for (int i = 0; i < 2; i++)
                {
                    if (children[i] is null)
                    {
                        try
                        {
                            children[i] = await StartChildAsync(ports[i], settings);
                        }
                        catch (InvalidOperationException ex)
                        {
                            // Left down until the next round; what stopped it is a finding of the run.
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {Stopwatch.GetElapsedTime(start).TotalSeconds,6:0.0} s: coordinator {i} did not start again: {ex.Message}"));
                        }
                    }
                }
            }

            while (!done && !stop.IsCancellationRequested)
            {
                await Task.Delay(500);
                done = await AllCompletedAsync(settings["ConnectionStrings__Postgres"], jobs);
            }

            await stop.CancelAsync();
            await Task.WhenAll(loops);
            https.ForEach(h => h.Dispose());
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"chaos: {kills} kills in {Stopwatch.GetElapsedTime(start).TotalSeconds:0.0} s; {completed} completes accepted for {tasks} tasks; {failures} provider calls failed{(firstFailure is null ? "" : $" (e.g. {firstFailure})")}; all jobs Completed: {done}"));
            bool holds = await CheckInvariantAsync(settings["ConnectionStrings__Postgres"]);
            return done && holds ? 0 : 1;
        }
        finally
        {
            foreach (Process? child in children)
            {
                if (child is not null)
                {
                    if (!child.HasExited)
                    {
                        child.Kill(entireProcessTree: true);
                        await child.WaitForExitAsync();
                    }

                    child.Dispose();
                }
            }

            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // The temp folder is cleaned by the OS.
            }
        }
    }

    /// <summary>The child process: one coordinator from environment variables on <c>--port</c>, until killed.</summary>
    public static async Task<int> RunChildAsync(BenchOptions options)
    {
        int port = options.Int("port", 0, min: 1);
        IConfiguration configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        CoordinatorBackends backends = CoordinatorBackends.FromConfiguration(configuration);
        await using CoordinatorHost host = await CoordinatorHost.StartAsync(
            $"http://127.0.0.1:{port}",
            backends,
            configuration,
            builder =>
            {
                builder.Logging.ClearProviders();
                builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
                builder.Logging.SetMinimumLevel(LogLevel.Error);
            });
        Console.WriteLine("ready");
        await Task.Delay(Timeout.Infinite);
        return 0;
    }

    public static bool IsChild(string command) => command == ChildCommand;

    private static async Task<Process> StartChildAsync(int port, Dictionary<string, string> settings)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // Run through the dotnet host (dotnet RenderFarm.Benchmarks.dll) or as the app host itself.
        if (Path.GetFileName(Environment.ProcessPath!) is "dotnet" or "dotnet.exe")
        {
            start.ArgumentList.Add(typeof(ChaosBenchmark).Assembly.Location);
        }

        start.ArgumentList.Add(ChildCommand);
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        foreach ((string key, string value) in settings)
        {
            start.Environment[key] = value;
        }

        Process child = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line == "ready")
            {
                // Keep draining its output so that it never blocks on a full pipe.
                _ = child.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
                return child;
            }
        }

        await child.WaitForExitAsync(CancellationToken.None);
        int code = child.ExitCode;
        child.Dispose();
        throw new InvalidOperationException($"The coordinator on port {port} exited ({code}) before it was ready; its error is printed above.");
    }

    private static async Task<bool> AllCompletedAsync(string connectionString, List<Guid> jobs)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM renderfarm.jobs WHERE id = ANY(@ids) AND state = 'Completed'", connection);
        command.Parameters.AddWithValue("ids", jobs.ToArray());
        return Convert.ToInt32(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture) == jobs.Count;
    }

    // The invariant: Queued ⇔ a Hangfire job waiting in a queue; Leased ⇔ a live lease; no queue entry of a finished task.
    private static async Task<bool> CheckInvariantAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        (string Name, string Sql)[] checks =
        [
            ("tasks by state", "SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM renderfarm.tasks GROUP BY state ORDER BY state) s"),
            ("Queued tasks with no Hangfire job waiting", "SELECT count(*) FROM renderfarm.tasks t WHERE t.state = 'Queued' AND NOT EXISTS (SELECT 1 FROM hangfire.jobqueue q WHERE q.jobid::text = t.hangfire_job_id)"),
            ("Leased tasks whose lease has lapsed", "SELECT count(*) FROM renderfarm.tasks WHERE state = 'Leased' AND lease_expires_at < now()"),
            ("queue entries of tasks that are not Queued or Leased", "SELECT count(*) FROM hangfire.jobqueue q JOIN renderfarm.tasks t ON q.jobid::text = t.hangfire_job_id WHERE t.state NOT IN ('Queued', 'Leased')"),
            ("queue entries fetched and not finished (hidden until Hangfire's invisibility timeout)", "SELECT count(*) FROM hangfire.jobqueue q JOIN renderfarm.tasks t ON q.jobid::text = t.hangfire_job_id WHERE q.fetchedat IS NOT NULL AND t.state = 'Queued'"),
        ];
        bool holds = true;
        foreach ((string name, string sql) in checks)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            object? value = await command.ExecuteScalarAsync();
            string text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
            Console.WriteLine($"  invariant: {name}: {text}");
            holds &= name == "tasks by state" || text == "0";
        }

        Console.WriteLine(holds ? "  invariant holds" : "  invariant VIOLATED");
        return holds;
    }

    private static async Task<SceneUploaded> UploadSceneAsync(HttpClient client)
    {
        using var content = new StreamContent(File.OpenRead(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb")));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("model/gltf-binary");
        using HttpResponseMessage response = await client.PostAsync("api/scenes?name=cornell-box.glb", content);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<SceneUploaded>(BenchFarm.Json))!;
    }

    private static (string Sha256, long Size) WritePng(string path)
    {
        using (var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgba32>(16, 16))
        {
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, path);
        }

        byte[] bytes = File.ReadAllBytes(path);
        return (Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), bytes.Length);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
