using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Nethereum.Signer;
using RenderFarm.Client;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>Timings of one test's coordinator.</summary>
/// <param name="LeaseDuration">How long a lease lasts without a heartbeat.</param>
/// <param name="HeartbeatInterval">How often workers heartbeat.</param>
/// <param name="MaintenanceCron">When lapsed leases are put back (six fields, with seconds).</param>
internal sealed record FarmTimings(TimeSpan LeaseDuration, TimeSpan HeartbeatInterval, string MaintenanceCron)
{
    /// <summary>Short leases, frequent heartbeats and maintenance every second: crashes are noticed within seconds.</summary>
    public static FarmTimings Fast { get; } = new(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(1), "*/1 * * * * *");

    /// <summary>A long lease, so that only a hand-back can explain a task going back to its queue quickly.</summary>
    public static FarmTimings LongLease { get; } = new(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1), "*/1 * * * * *");
}

/// <summary>A worker process and the provider address it signed in with.</summary>
internal sealed record FarmWorker(FarmProcess Process, string Address);

/// <summary>
/// One test's farm, every part a separate OS process: a <c>renderfarm coordinator</c> on a fresh
/// PostgreSQL database (Hangfire and farm records) and its own S3 bucket, plus any number of
/// <c>renderfarm worker</c>s, each with its own key file and cache folder. Also the client side of
/// the HTTP API. Disposing kills every process it started and deletes its folder.
/// </summary>
internal sealed partial class Farm : IAsyncDisposable
{
    public const string Scene = "samples/cornell-box/cornell-box.glb";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(90);
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly ITestOutputHelper _output;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<FarmProcess> _processes = [];
    private readonly List<string> _notes = [];
    private readonly Dictionary<string, string?> _coordinatorEnvironment;
    private readonly string _folder;
    private readonly int _port;
    private readonly S3Server _s3;
    private readonly string _bucket;
    private int _coordinatorStarts;

    private Farm(ITestOutputHelper output, string folder, int port, S3Server s3, string bucket, Dictionary<string, string?> coordinatorEnvironment)
    {
        _output = output;
        _folder = folder;
        _port = port;
        _s3 = s3;
        _bucket = bucket;
        _coordinatorEnvironment = coordinatorEnvironment;
        Address = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/"));
        Http = SignedInClient(EthECKey.GenerateKey());
    }

    /// <summary>The coordinator's address; it stays the same across restarts.</summary>
    public Uri Address { get; }

    /// <summary>A client of the coordinator's API, signed in as the test's client account (a fresh key unless <see cref="SetClientKey"/>).</summary>
    public HttpClient Http { get; private set; }

    /// <summary>The coordinator process now running, if any.</summary>
    public FarmProcess? Coordinator { get; private set; }

    /// <summary>Seconds since the farm was made, for notes.</summary>
    public double Elapsed => _clock.Elapsed.TotalSeconds;

    /// <summary>Creates a database and picks a bucket and a port; starts nothing yet.</summary>
    public static async Task<Farm> CreateAsync(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output, FarmTimings timings)
    {
        string connectionString = await postgres.Server.CreateDatabaseAsync();
        string folder = Directory.CreateTempSubdirectory("renderfarm-e2e-").FullName;
        string bucket = $"e2e-{Guid.NewGuid():N}";
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = connectionString,
            ["Storage__S3__ServiceUrl"] = s3.Server.ServiceUrl.AbsoluteUri,
            ["Storage__S3__Bucket"] = bucket,
            ["Storage__S3__AccessKey"] = S3Server.AccessKey,
            ["Storage__S3__SecretKey"] = S3Server.SecretKey,

            // One set of secrets for every start (required in Production), so that workers' tokens and lease ids survive a coordinator restart.
            ["Coordinator__TokenSigningKey"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            ["Coordinator__SpotCheckSecret"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            ["Coordinator__OperatorKey"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            ["Coordinator__LeaseDuration"] = timings.LeaseDuration.ToString("c", CultureInfo.InvariantCulture),
            ["Coordinator__HeartbeatInterval"] = timings.HeartbeatInterval.ToString("c", CultureInfo.InvariantCulture),
            ["Coordinator__MaintenanceCron"] = timings.MaintenanceCron,

            // Readable logs for failure messages: one line per entry, no per-request noise.
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
            ["Logging__LogLevel__Microsoft.Extensions.Hosting"] = "Warning",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = null,
            ["DOTNET_URLS"] = null,
        };
        return new Farm(output, folder, LoopbackPort.Free(), s3.Server, bucket, environment);
    }

    /// <summary>Starts the coordinator (again, after a kill: same port, database, bucket and signing key) and waits until /health answers 200.</summary>
    public async Task<FarmProcess> StartCoordinatorAsync()
    {
        if (Coordinator is { HasExited: false })
        {
            throw new InvalidOperationException("The coordinator already runs.");
        }

        _coordinatorStarts++;
        string name = _coordinatorStarts == 1 ? "coordinator" : $"coordinator#{_coordinatorStarts}";
        FarmProcess coordinator = Track(FarmProcess.Start(
            name,
            ["coordinator", "--urls", Address.AbsoluteUri.TrimEnd('/')],
            _coordinatorEnvironment,
            _folder,
            _clock));
        Coordinator = coordinator;
        return await WaitUntilHealthyAsync(coordinator, Address);
    }

    /// <summary>
    /// Starts one more coordinator process on the same database, bucket and secrets, at its own port (several
    /// coordinators behind one farm), and waits until its /health answers 200.
    /// </summary>
    /// <returns>The process and its address.</returns>
    public async Task<(FarmProcess Process, Uri Address)> StartPeerCoordinatorAsync(string name)
    {
        var address = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{LoopbackPort.Free()}/"));
        FarmProcess coordinator = Track(FarmProcess.Start(
            name,
            ["coordinator", "--urls", address.AbsoluteUri.TrimEnd('/')],
            _coordinatorEnvironment,
            _folder,
            _clock));
        return (await WaitUntilHealthyAsync(coordinator, address), address);
    }

    private async Task<FarmProcess> WaitUntilHealthyAsync(FarmProcess coordinator, Uri address)
    {
        string name = coordinator.Name;
        long deadline = Environment.TickCount64 + (long)s_startTimeout.TotalMilliseconds;
        string last = "no answer yet";
        using var probe = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
        while (true)
        {
            if (coordinator.HasExited)
            {
                await coordinator.WaitForExitAsync(TimeSpan.FromSeconds(5));
                throw new InvalidOperationException($"{name} exited with code {coordinator.ExitCode} before /health answered.");
            }

            try
            {
                using HttpResponseMessage health = await probe.GetAsync(new Uri("health", UriKind.Relative));
                if (health.StatusCode == HttpStatusCode.OK)
                {
                    Note($"{name} healthy at {address}");
                    return coordinator;
                }

                last = $"{(int)health.StatusCode} {await health.Content.ReadAsStringAsync()}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }

            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"{name} did not become healthy within {s_startTimeout.TotalSeconds:0} s; last: {last}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>Starts a worker with its own key and cache folder and waits until it has signed in.</summary>
    public Task<FarmWorker> StartWorkerAsync(string name) => StartWorkerAsync(name, Address);

    /// <summary>As <see cref="StartWorkerAsync(string)"/>, for the coordinator at <paramref name="coordinator"/>.</summary>
    public async Task<FarmWorker> StartWorkerAsync(string name, Uri coordinator)
    {
        string key = Path.Combine(_folder, $"{name}.key");
        string cache = Path.Combine(_folder, $"{name}-cache");
        FarmProcess worker = Track(FarmProcess.Start(
            $"worker-{name}",
            ["worker", "--coordinator", coordinator.AbsoluteUri, "--key", key, "--cache", cache, "--name", name],
            new Dictionary<string, string?>
            {
                ["ConnectionStrings__Postgres"] = null,
                ["Storage__S3__ServiceUrl"] = null,
            },
            _folder,
            _clock));
        string line = await worker.WaitForLineAsync(l => l.StartsWith("Logged in to ", StringComparison.Ordinal), "'Logged in to ...'", s_startTimeout);
        Match address = LoggedInAddress().Match(line);
        Assert.True(address.Success, $"No provider address in the worker's line '{line}'.");
        Note($"worker-{name} signed in as {address.Groups["address"].Value}");
        return new FarmWorker(worker, address.Groups["address"].Value);
    }

    /// <summary>
    /// Starts a dishonest provider (tests/RenderFarm.CheatingWorker) that fakes its frames the way
    /// <paramref name="cheat"/> names, with its own key and cache folder, and waits until it has signed in.
    /// </summary>
    public async Task<FarmWorker> StartCheatingWorkerAsync(string name, string cheat)
    {
        string key = Path.Combine(_folder, $"{name}.key");
        string cache = Path.Combine(_folder, $"{name}-cache");
        FarmProcess worker = Track(FarmProcess.Start(
            $"cheat-{name}",
            "RenderFarm.CheatingWorker.dll",
            ["--coordinator", Address.AbsoluteUri, "--cheat", cheat, "--key", key, "--cache", cache, "--name", name],
            new Dictionary<string, string?>(),
            _folder,
            _clock));
        string line = await worker.WaitForLineAsync(l => l.StartsWith("Logged in to ", StringComparison.Ordinal), "'Logged in to ...'", s_startTimeout);
        Match address = LoggedInAddress().Match(line);
        Assert.True(address.Success, $"No provider address in the cheating worker's line '{line}'.");
        Note($"cheat-{name} signed in as {address.Groups["address"].Value}");
        return new FarmWorker(worker, address.Groups["address"].Value);
    }

    /// <summary>Signs <see cref="Http"/> in with <paramref name="privateKey"/> from now on, e.g. the account that pays.</summary>
    public void SetClientKey(string privateKey)
    {
        Http.Dispose();
        Http = SignedInClient(new EthECKey(privateKey));
    }

    private HttpClient SignedInClient(EthECKey key) =>
        new(CoordinatorSignIn.WithKey(Address, key.GetPublicAddress(), message => new EthereumMessageSigner().EncodeUTF8AndSign(message, key)))
        {
            BaseAddress = Address,
            Timeout = TimeSpan.FromSeconds(30),
        };

    /// <summary>Uploads the Cornell box and returns its SHA-256.</summary>
    public async Task<string> UploadSceneAsync()
    {
        byte[] scene = await File.ReadAllBytesAsync(RepositoryPaths.Combine(Scene));
        using var content = new ByteArrayContent(scene);
        using HttpResponseMessage response = await Http.PostAsync(new Uri("api/scenes?name=cornell-box.glb", UriKind.Relative), content);
        SceneUploaded uploaded = await ReadAsync<SceneUploaded>(response, HttpStatusCode.Created, "POST /api/scenes");
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(scene)), uploaded.Sha256);
        return uploaded.Sha256;
    }

    /// <summary>Submits a render job.</summary>
    public async Task<JobSummary> SubmitAsync(SubmitJobRequest request)
    {
        using HttpResponseMessage response = await Http.PostAsJsonAsync(new Uri("api/jobs", UriKind.Relative), request, s_json);
        JobSummary job = await ReadAsync<JobSummary>(response, HttpStatusCode.Created, "POST /api/jobs");
        Note($"submitted job {job.Id}: {request}");
        return job;
    }

    /// <summary>The job with its tasks.</summary>
    public async Task<JobDetails> GetJobAsync(Guid id)
    {
        using HttpResponseMessage response = await Http.GetAsync(new Uri($"api/jobs/{id}", UriKind.Relative));
        return await ReadAsync<JobDetails>(response, HttpStatusCode.OK, $"GET /api/jobs/{id}");
    }

    /// <summary>Polls the job until <paramref name="done"/> holds.</summary>
    /// <exception cref="TimeoutException">It did not within <paramref name="timeout"/>; the message shows the job's last details.</exception>
    public async Task<JobDetails> WaitForJobAsync(Guid id, Func<JobDetails, bool> done, string what, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            JobDetails details = await GetJobAsync(id);
            if (done(details))
            {
                return details;
            }

            // A worker or coordinator that died on its own will not finish the job: say so now.
            if (_processes.FirstOrDefault(p => p.HasExited && !p.StopRequested) is { } died)
            {
                throw new InvalidOperationException($"{died.Name} exited with code {died.ExitCode} on its own while waiting for {what} of job {id}. Last details:{Environment.NewLine}{Describe(details)}");
            }

            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"Job {id}: {what} did not happen within {timeout.TotalSeconds:0} s. Last details:{Environment.NewLine}{Describe(details)}");
            }

            await Task.Delay(150);
        }
    }

    /// <summary>Waits until the job is Completed, failing at once when it fails or is cancelled.</summary>
    public async Task<JobDetails> WaitForCompletionAsync(Guid id, TimeSpan timeout)
    {
        JobDetails details = await WaitForJobAsync(
            id,
            d => d.Job.State is JobState.Completed or JobState.Failed or JobState.Cancelled,
            "completion",
            timeout);
        Assert.True(details.Job.State == JobState.Completed, $"Job {id} ended {details.Job.State}:{Environment.NewLine}{Describe(details)}");
        Note($"job {id} completed:{Environment.NewLine}{Describe(details)}");
        return details;
    }

    /// <summary>Downloads a URL the coordinator gave out.</summary>
    public async Task<byte[]> DownloadAsync(Uri url)
    {
        using HttpResponseMessage response = await Http.GetAsync(url);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Fail($"GET {url} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return await response.Content.ReadAsByteArrayAsync();
    }

    /// <summary>The keys of the objects in this farm's bucket under <paramref name="prefix"/>.</summary>
    public async Task<IReadOnlyList<string>> ListObjectsAsync(string prefix)
    {
        var config = new AmazonS3Config
        {
            ServiceURL = _s3.ServiceUrl.AbsoluteUri,
            AuthenticationRegion = "us-east-1",
            ForcePathStyle = true,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        using var client = new AmazonS3Client(new BasicAWSCredentials(S3Server.AccessKey, S3Server.SecretKey), config);
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix };
        ListObjectsV2Response response;
        do
        {
            response = await client.ListObjectsV2Async(request);
            keys.AddRange((response.S3Objects ?? []).Select(o => o.Key));
            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true);

        return keys;
    }

    /// <summary>Adds a line to the farm's notes, which failure messages show with the processes' output.</summary>
    public void Note(string text)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,7:0.000} test] {text}");
        lock (_notes)
        {
            _notes.Add(line);
        }
    }

    /// <summary>
    /// Runs a test body; when it throws, throws again with the notes and every process's output in
    /// the message, so that a CI log alone explains the failure.
    /// </summary>
    public async Task RunAsync(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (Exception ex)
        {
            throw new EndToEndFailureException($"{ex.GetType().Name}: {ex.Message}{Environment.NewLine}{Environment.NewLine}{Diagnostics()}", ex);
        }
    }

    /// <summary>The notes and the output of every process started, for failure messages.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        lock (_notes)
        {
            text.AppendLine("==== test notes ====");
            foreach (string note in _notes)
            {
                text.AppendLine(note);
            }
        }

        foreach (FarmProcess process in _processes)
        {
            string state = process.HasExited ? $"exited with {process.ExitCode}" : "running";
            text.AppendLine(CultureInfo.InvariantCulture, $"==== {process.Name} (pid {process.Id}, {state}) ====");
            text.AppendLine(process.Output);
        }

        return text.ToString();
    }

    /// <summary>One line per task, for messages.</summary>
    public static string Describe(JobDetails details)
    {
        var text = new StringBuilder();
        JobSummary job = details.Job;
        text.AppendLine(CultureInfo.InvariantCulture, $"job {job.Id} {job.State} {job.TasksDone}/{job.TasksTotal} tasks done, frames {job.Frames}{(job.Error is null ? "" : $", error: {job.Error}")}");
        foreach (TaskDetails task in details.Tasks)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  task {task.Index} frames {task.FirstFrame}-{task.LastFrame}: {task.State}, provider {task.Provider ?? "-"}, attempts {task.Attempts}, outputs [{string.Join(", ", task.Frames.Select(f => f.Frame))}]{(task.Error is null ? "" : $", error: {task.Error}")}");
        }

        return text.ToString();
    }

    /// <summary>Kills every process still running, writes the notes and outputs to the test log and deletes the folder.</summary>
    public async ValueTask DisposeAsync()
    {
        // Workers first, so their logs do not fill with retries against a coordinator that is gone.
        foreach (FarmProcess process in Enumerable.Reverse(_processes))
        {
            process.Dispose();
        }

        _output.WriteLine(Diagnostics());
        Http.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A process that ignored its kill still holds a file; the temporary folder is cleaned eventually.
        }

        await Task.CompletedTask;
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, HttpStatusCode expected, string operation)
    {
        string body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != expected)
        {
            Assert.Fail($"{operation} answered {(int)response.StatusCode} instead of {(int)expected}: {body}");
        }

        return JsonSerializer.Deserialize<T>(body, s_json) ?? throw new InvalidDataException($"{operation} answered null.");
    }


    private FarmProcess Track(FarmProcess process)
    {
        _processes.Add(process);
        return process;
    }

    [GeneratedRegex(@" as (?<address>0x[0-9a-fA-F]{40})\b")]
    private static partial Regex LoggedInAddress();
}

/// <summary>A failed end-to-end test, with the farm's processes' output in the message.</summary>
public sealed class EndToEndFailureException(string message, Exception inner) : Exception(message, inner);
