using Xunit;

namespace RenderFarm.Testing;

/// <summary>
/// One real service for a whole test collection. Starting it is part of the collection's set-up, so
/// a service that cannot start fails every test of the collection: a missing service is an error,
/// never a skip. Test assemblies declare their own <c>[CollectionDefinition]</c> (xunit requires it
/// there) over these fixtures.
/// </summary>
/// <typeparam name="TService">The running service.</typeparam>
public abstract class ServiceFixture<TService> : IAsyncLifetime
    where TService : class, IAsyncDisposable
{
    private TService? _service;

    /// <summary>The running service.</summary>
    protected TService Service => _service ?? throw new InvalidOperationException($"{typeof(TService).Name} has not started.");

    /// <inheritdoc/>
    public async Task InitializeAsync() => _service = await StartAsync().ConfigureAwait(false);

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_service is not null)
        {
            await _service.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts the service.</summary>
    protected abstract Task<TService> StartAsync();
}

/// <summary>One PostgreSQL server per collection; each test creates its own database on it.</summary>
public sealed class PostgresFixture : ServiceFixture<PostgresServer>
{
    /// <summary>The server.</summary>
    public PostgresServer Server => Service;

    /// <inheritdoc/>
    protected override Task<PostgresServer> StartAsync() => PostgresServer.StartAsync();
}

/// <summary>One s3rver per collection; each test creates its own bucket on it.</summary>
public sealed class S3Fixture : ServiceFixture<S3Server>
{
    /// <summary>The server.</summary>
    public S3Server Server => Service;

    /// <inheritdoc/>
    protected override Task<S3Server> StartAsync() => S3Server.StartAsync();
}

/// <summary>One Hardhat node per collection; each test deploys its own contracts on it.</summary>
public sealed class HardhatFixture : ServiceFixture<HardhatNode>
{
    /// <summary>The node.</summary>
    public HardhatNode Node => Service;

    /// <inheritdoc/>
    protected override Task<HardhatNode> StartAsync() => HardhatNode.StartAsync();
}
