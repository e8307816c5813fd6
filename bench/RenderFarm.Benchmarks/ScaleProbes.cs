using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Npgsql;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Worker;

namespace RenderFarm.Benchmarks;

/// <summary>Counts every HTTP answer the simulated providers get, by status code (retried attempts included).</summary>
internal sealed class StatusCounter
{
    private readonly ConcurrentDictionary<string, long> _counts = new();

    public void Add(string key) => _counts.AddOrUpdate(key, 1, (_, n) => n + 1);

    public long Errors => _counts.Where(p => p.Key is not ("200" or "201" or "204")).Sum(p => p.Value);

    public override string ToString() =>
        _counts.IsEmpty ? "none" : string.Join(", ", _counts.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}: {p.Value}")));

    public HttpMessageHandler Handler() => new Counting(this, new SocketsHttpHandler());

    private sealed class Counting(StatusCounter counter, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
                counter.Add(((int)response.StatusCode).ToString(CultureInfo.InvariantCulture));
                return response;
            }
            catch (HttpRequestException ex)
            {
                counter.Add($"connection error ({ex.HttpRequestError})");
                throw;
            }
        }
    }
}

/// <summary>GET /health every interval while it runs: the latency an operator's monitor sees under load.</summary>
internal sealed class HealthProbe : IAsyncDisposable
{
    private readonly List<double> _latencies = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _failures;

    public HealthProbe(Uri coordinator, TimeSpan interval)
    {
        _loop = Task.Run(async () =>
        {
            using var http = new HttpClient { BaseAddress = coordinator, Timeout = TimeSpan.FromSeconds(60) };
            while (!_stop.IsCancellationRequested)
            {
                long start = Stopwatch.GetTimestamp();
                try
                {
                    using HttpResponseMessage response = await http.GetAsync("health", _stop.Token);
                    lock (_latencies)
                    {
                        _latencies.Add(Stats.Since(start));
                    }

                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref _failures);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref _failures);
                }

                try
                {
                    await Task.Delay(interval, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });
    }

    public string Summary()
    {
        lock (_latencies)
        {
            var stats = new Stats(_latencies);
            return string.Create(CultureInfo.InvariantCulture, $"/health n={stats.Count}: p50 {Stats.Ms(stats.Percentile(50))} ms, p99 {Stats.Ms(stats.Percentile(99))} ms, max {Stats.Ms(stats.Max)} ms, {_failures} not 200");
        }
    }

    public Stats Latencies()
    {
        lock (_latencies)
        {
            return new Stats(_latencies);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}

/// <summary>Samples pg_stat_activity for the farm's database: connections open, and those running a statement.</summary>
internal sealed class ConnectionSampler : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ConcurrentDictionary<string, int> _most = new();
    private int _mostTotal;
    private int _mostActive;

    public ConnectionSampler(string? connectionString)
    {
        _loop = connectionString is null ? Task.CompletedTask : Task.Run(() => SampleAsync(connectionString));
    }

    public bool Enabled => _loop != Task.CompletedTask;

    public string Summary() => !Enabled
        ? "database connections: - (in-memory backend)"
        : string.Create(
            CultureInfo.InvariantCulture,
            $"database connections (pg_stat_activity, sampled every 100 ms): at most {_mostTotal} open, {_mostActive} running a statement; most per pool: {string.Join(", ", _most.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))}");

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private async Task SampleAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "bench-sampler" }.ConnectionString);
        await connection.OpenAsync();
        while (!_stop.IsCancellationRequested)
        {
            await using (var command = new NpgsqlCommand(
                "SELECT coalesce(application_name, ''), state = 'active', count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1, 2",
                connection))
            {
                await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
                int total = 0, active = 0;
                var perApp = new Dictionary<string, int>();
                while (await reader.ReadAsync())
                {
                    string app = reader.GetString(0);
                    int count = reader.GetInt32(2);
                    total += count;
                    active += !reader.IsDBNull(1) && reader.GetBoolean(1) ? count : 0;
                    perApp[app] = perApp.GetValueOrDefault(app) + count;
                }

                _mostTotal = Math.Max(_mostTotal, total);
                _mostActive = Math.Max(_mostActive, active);
                foreach ((string app, int count) in perApp)
                {
                    _most.AddOrUpdate(app, count, (_, old) => Math.Max(old, count));
                }
            }

            try
            {
                await Task.Delay(100, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

/// <summary>
/// N providers connected and long-polling an idle farm: each signed in with its own key and HTTP connection, each in a
/// lease long-poll that is answered 204 after its wait and sent again. A provider that gets a grant delivers it.
/// </summary>
internal sealed class IdlePollers : IAsyncDisposable
{
    private static readonly string[] s_queues = ["render"];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(HttpClient Http, FarmClient Client)> _providers = [];
    private readonly List<Task> _loops = [];
    private TaskCompletionSource<long> _granted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _failures;
    private string? _firstFailure;

    public StatusCounter Answers { get; } = new();

    public int Failures => _failures;

    public string? FirstFailure => _firstFailure;

    public static async Task<IdlePollers> StartAsync(Uri coordinator, string keyDirectory, int count, int waitSeconds, (string Path, string Sha256, long Size) png)
    {
        var pollers = new IdlePollers();
        for (int i = 0; i < count; i++)
        {
            var http = new HttpClient(pollers.Answers.Handler()) { BaseAddress = coordinator, Timeout = Timeout.InfiniteTimeSpan };
            pollers._providers.Add((http, new FarmClient(http, ProviderKey.LoadOrCreate(Path.Combine(keyDirectory, $"idle-{i}.key")), "bench, idle")));
        }

        await Parallel.ForEachAsync(pollers._providers, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (p, ct) => await p.Client.LoginAsync(ct));
        foreach ((HttpClient _, FarmClient client) in pollers._providers)
        {
            pollers._loops.Add(Task.Run(() => pollers.PollAsync(client, waitSeconds, png)));
        }

        return pollers;
    }

    /// <summary>Stopwatch timestamp of the next grant any poller gets.</summary>
    public Task<long> NextGrantAsync()
    {
        Interlocked.Exchange(ref _granted, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously));
        return _granted.Task;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        foreach ((HttpClient http, _) in _providers)
        {
            http.Dispose();
        }

        _stop.Dispose();
    }

    private async Task PollAsync(FarmClient client, int waitSeconds, (string Path, string Sha256, long Size) png)
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                LeaseGrant? grant = await client.LeaseAsync(s_queues, waitSeconds, _stop.Token);
                if (grant is null)
                {
                    continue;
                }

                _granted.TrySetResult(Stopwatch.GetTimestamp());
                var frames = new List<CompletedFrame>();
                foreach (FrameUpload upload in grant.Uploads)
                {
                    await client.UploadAsync(upload.Upload.Url, png.Path, "image/png", _stop.Token);
                    frames.Add(new CompletedFrame(upload.Frame, png.Sha256, png.Size, 0));
                }

                await client.CompleteAsync(grant.LeaseId, new CompleteRequest(frames), _stop.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is FarmRequestException or HttpRequestException or LeaseLostException)
            {
                Interlocked.Increment(ref _failures);
                Interlocked.CompareExchange(ref _firstFailure, ex.Message, null);
            }
        }
    }
}
