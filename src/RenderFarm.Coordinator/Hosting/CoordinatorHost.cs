using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace RenderFarm.Coordinator;

/// <summary>
/// A running coordinator: a web application bound to one URL, for the CLI (standalone and embedded)
/// and for tests. Port 0 binds a free port; <see cref="Address"/> tells which.
/// </summary>
public sealed class CoordinatorHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CoordinatorHost(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The address the coordinator listens on, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address { get; }

    /// <summary>The application's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Builds and starts a coordinator on <paramref name="backends"/>.</summary>
    /// <param name="url">Where to listen, e.g. <c>http://127.0.0.1:0</c>.</param>
    /// <param name="backends">The stores; see <see cref="CoordinatorBackends.CreateEmbedded"/> and <see cref="CoordinatorBackends.FromConfiguration"/>.</param>
    /// <param name="configuration">Extra configuration (the <c>Coordinator</c> section) laid over the defaults; may be null.</param>
    /// <param name="configure">Changes to the builder before it is built (environment, logging, a TimeProvider); may be null.</param>
    /// <param name="cancellationToken">Stops the start-up.</param>
    /// <returns>The running coordinator.</returns>
    /// <exception cref="CoordinatorStartException">A setting is unusable, or a store cannot be reached or prepared.</exception>
    public static async Task<CoordinatorHost> StartAsync(
        string url,
        CoordinatorBackends backends,
        IConfiguration? configuration = null,
        Action<WebApplicationBuilder>? configure = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        ArgumentNullException.ThrowIfNull(backends);
        try
        {
            return await StartCoreAsync(url, backends, configuration, configure, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsStartFailure(exception, cancellationToken) && exception is not CoordinatorStartException)
        {
            throw new CoordinatorStartException(exception);
        }
    }

    private static async Task<CoordinatorHost> StartCoreAsync(
        string url,
        CoordinatorBackends backends,
        IConfiguration? configuration,
        Action<WebApplicationBuilder>? configure,
        CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (configuration is not null)
        {
            builder.Configuration.AddConfiguration(configuration);
        }

        builder.WebHost.UseUrls(url);
        builder.Services.AddRenderFarmCoordinator(builder.Configuration, backends);
        Observability.CoordinatorObservability.ConfigureLogging(builder);
        configure?.Invoke(builder);

        // The stores and the settings are checked before the host starts, so that a database that cannot be reached
        // or a missing secret is one clear exception, not the host's logged start-up failure.
        await backends.InitializeAsync(cancellationToken).ConfigureAwait(false);
        bool development = builder.Environment.IsDevelopment();
        if (development)
        {
            builder.Configuration.AddInMemoryCollection(
                await CoordinatorSecrets.LoadMissingAsync(builder.Configuration, backends.FarmStore, cancellationToken).ConfigureAwait(false));
        }

        (builder.Configuration.GetSection(CoordinatorOptions.SectionName).Get<CoordinatorOptions>() ?? new CoordinatorOptions()).Validate(development);

        WebApplication app = builder.Build();
        app.MapRenderFarmCoordinator();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new CoordinatorHost(app, new Uri(bound.TrimEnd('/') + "/"));
    }

    /// <summary>
    /// Builds and starts a coordinator on the stores its configuration names (see
    /// <see cref="CoordinatorBackends.FromConfiguration"/>): the standalone <c>renderfarm coordinator</c>.
    /// </summary>
    /// <param name="url">Where to listen.</param>
    /// <param name="configuration">Connection strings, storage settings and the <c>Coordinator</c> section.</param>
    /// <param name="configure">Changes to the builder before it is built; may be null.</param>
    /// <param name="cancellationToken">Stops the start-up.</param>
    /// <returns>The running coordinator.</returns>
    /// <exception cref="CoordinatorStartException">A setting is unusable, or a store or the ledger cannot be reached or prepared.</exception>
    public static async Task<CoordinatorHost> StartFromConfigurationAsync(
        string url,
        IConfiguration configuration,
        Action<WebApplicationBuilder>? configure = null,
        CancellationToken cancellationToken = default)
    {
        CoordinatorBackends backends;
        try
        {
            backends = await CoordinatorBackends.FromConfigurationAsync(configuration, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (IsStartFailure(exception, cancellationToken))
        {
            throw new CoordinatorStartException(exception);
        }

        return await StartAsync(url, backends, configuration, configure, cancellationToken).ConfigureAwait(false);
    }

    // Everything but the caller's own cancellation: a store's timeout is a failed start too.
    private static bool IsStartFailure(Exception exception, CancellationToken cancellationToken) =>
        exception is not OutOfMemoryException && !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested);

    /// <summary>Completes when the application is asked to stop (Ctrl+C, SIGTERM).</summary>
    /// <param name="cancellationToken">Stops waiting and the application.</param>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops the coordinator gracefully.</summary>
    /// <param name="cancellationToken">Makes the stop ungraceful.</param>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
