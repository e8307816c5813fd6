using RenderFarm.Testing;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>One PostgreSQL server for the whole run; each test gives its coordinator a fresh database on it.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL server has not started.");

    // Throwing here fails every test of the collection: a missing service is an error, not a skip.
    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>One s3rver for the whole run; each test's coordinator creates its own bucket on it.</summary>
public sealed class S3Fixture : IAsyncLifetime
{
    private S3Server? _server;

    public S3Server Server => _server ?? throw new InvalidOperationException("The S3 server has not started.");

    public async Task InitializeAsync() => _server = await S3Server.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// The end-to-end tests share both servers and run one at a time: each starts several processes
/// that render on the CPU, so running them side by side would only make their timings unreliable.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FarmCollection : ICollectionFixture<PostgresFixture>, ICollectionFixture<S3Fixture>
{
    public const string Name = "Farm";
}
