using System.Diagnostics;
using System.Globalization;
using System.Net;
using Npgsql;

namespace RenderFarm.Testing;

/// <summary>
/// A throwaway PostgreSQL 15 cluster in a temporary folder on a free loopback port, with trust
/// authentication and durability turned off for speed. Each <see cref="CreateDatabaseAsync"/> gives
/// a test a fresh database. Disposing stops the server and deletes the folder.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>Where the Debian package <c>postgresql</c> puts the server programs.</summary>
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";

    private const string SuperUser = "postgres";
    private const int StartAttempts = 3;

    // Throwaway data: no durability, and room for the pools of many test databases.
    private const string ServerSettings =
        "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        + "-c max_connections=200 -c shared_buffers=32MB";

    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _folder;
    private readonly bool _runAsPostgres;
    private int _databaseCount;
    private bool _disposed;

    private PostgresServer(string folder, bool runAsPostgres, int port)
    {
        _folder = folder;
        _runAsPostgres = runAsPostgres;
        Port = port;
        AdminConnectionString = ConnectionStringFor("postgres");
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>Connection string of the <c>postgres</c> maintenance database, as the superuser.</summary>
    public string AdminConnectionString { get; }

    /// <summary>Initializes and starts a new cluster.</summary>
    /// <exception cref="InvalidOperationException">PostgreSQL is not installed or would not start.</exception>
    public static Task<PostgresServer> StartAsync(CancellationToken cancellationToken = default) => StartAsync("", cancellationToken);

    /// <summary>Initializes and starts a new cluster with more server settings (<c>-c name=value</c> options).</summary>
    /// <exception cref="InvalidOperationException">PostgreSQL is not installed or would not start.</exception>
    public static async Task<PostgresServer> StartAsync(string extraSettings, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(Path.Combine(BinDirectory, "initdb")) || !File.Exists(Path.Combine(BinDirectory, "pg_ctl")))
        {
            throw new InvalidOperationException(
                $"PostgreSQL 15 is not installed (no initdb/pg_ctl in {BinDirectory}); install postgresql: scripts/install-deps.sh --dev");
        }

        // initdb and postgres refuse to run as root; CI runs as root, so run them as the postgres user.
        bool runAsPostgres = Environment.IsPrivilegedProcess;
        string folder = Directory.CreateTempSubdirectory("renderfarm-pg-").FullName;
        try
        {
            if (runAsPostgres)
            {
                await RunAsync("chown", ["-R", $"{SuperUser}:{SuperUser}", folder], asPostgres: false, folder, cancellationToken).ConfigureAwait(false);
            }

            string data = Path.Combine(folder, "data");
            await RunAsync(
                Path.Combine(BinDirectory, "initdb"),
                ["-D", data, "-U", SuperUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                runAsPostgres,
                folder,
                cancellationToken).ConfigureAwait(false);

            // A port found free can be taken before the server binds it; try another then.
            for (int attempt = 1; ; attempt++)
            {
                int port = LoopbackPort.Free();
                try
                {
                    await RunAsync(
                        Path.Combine(BinDirectory, "pg_ctl"),
                        [
                            "-D", data, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60", "start",
                            "-o", string.Create(CultureInfo.InvariantCulture, $"-p {port} -k {folder} {ServerSettings} {extraSettings}"),
                        ],
                        runAsPostgres,
                        folder,
                        cancellationToken).ConfigureAwait(false);
                    return new PostgresServer(folder, runAsPostgres, port);
                }
                catch (InvalidOperationException) when (attempt < StartAttempts)
                {
                }
            }
        }
        catch (Exception exception)
        {
            string log = Path.Combine(folder, "server.log");
            string details = File.Exists(log) ? $" Server log:{Environment.NewLine}{await File.ReadAllTextAsync(log, CancellationToken.None).ConfigureAwait(false)}" : "";
            Directory.Delete(folder, recursive: true);
            if (exception is InvalidOperationException && details.Length > 0)
            {
                throw new InvalidOperationException(exception.Message + details, exception);
            }

            throw;
        }
    }

    /// <summary>A connection string for database <paramref name="database"/> on this server, as the superuser.</summary>
    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Database = database,
    }.ConnectionString;

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string name = string.Create(
            CultureInfo.InvariantCulture,
            $"test_{Interlocked.Increment(ref _databaseCount)}_{Guid.NewGuid():N}");
        NpgsqlConnection connection = new(AdminConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return ConnectionStringFor(name);
    }

    /// <summary>Stops the server at once and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NpgsqlConnection.ClearAllPools();
        try
        {
            await RunAsync(
                Path.Combine(BinDirectory, "pg_ctl"),
                ["-D", Path.Combine(_folder, "data"), "-m", "immediate", "-w", "stop"],
                _runAsPostgres,
                _folder,
                CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(_folder, recursive: true);
        }
    }


    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asPostgres, string workingDirectory, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo
        {
            FileName = asPostgres ? "runuser" : program,
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
        {
            foreach (string argument in (string[])["-u", SuperUser, "--", program])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");

        // pg_ctl start hands its output handles to the server it launches; read until the process
        // exits rather than to end of stream, or the read would last as long as the server.
        Task<string> output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        Task<string> error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_commandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            string errorText = error.IsCompleted ? await error.ConfigureAwait(false) : "";
            string outputText = output.IsCompleted ? await output.ConfigureAwait(false) : "";
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {errorText}{outputText}".Trim());
        }
    }
}
