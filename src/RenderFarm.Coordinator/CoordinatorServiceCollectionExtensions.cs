using System.Text.Json.Serialization;
using Hangfire;
using Hangfire.AspNetCore;
using Hangfire.Common;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Api;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Coordinator.Hosting;
using RenderFarm.Coordinator.Jobs;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Coordinator.Web;

namespace RenderFarm.Coordinator;

/// <summary>Registers the coordinator's services.</summary>
public static class CoordinatorServiceCollectionExtensions
{
    /// <summary>Adds the coordinator on the given stores.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configuration">Configuration holding the <c>Coordinator</c> section.</param>
    /// <param name="backends">The stores; a registered <see cref="TimeProvider"/> (the system clock by default) is the coordinator's clock.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddRenderFarmCoordinator(this IServiceCollection services, IConfiguration configuration, CoordinatorBackends backends)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(backends);

        services.AddOptions<CoordinatorOptions>()
            .Bind(configuration.GetSection(CoordinatorOptions.SectionName))
            // The web host's environment: the one the builder's Environment sets and the dashboard reads.
            .Validate<IWebHostEnvironment>((o, environment) =>
            {
                o.Validate(environment.IsDevelopment());
                return true;
            })
            .ValidateOnStart();
        services.AddOptions<JobLimits>()
            .Bind(configuration.GetSection(JobLimits.SectionName))
            .Validate(o =>
            {
                o.Validate();
                return true;
            })
            .ValidateOnStart();
        services.AddOptions<ProviderLimits>()
            .Bind(configuration.GetSection(ProviderLimits.SectionName))
            .Validate(o =>
            {
                o.Validate();
                return true;
            })
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(backends);
        // Every change through the store also feeds task timelines, metrics, thumbnails and the web app's live pages.
        services.AddSingleton(sp => Web.ObservedFarmStore.Wrap(backends.FarmStore, sp.GetRequiredService<Web.FarmActivity>()));
        services.AddSingleton(backends.ObjectStore);
        if (backends.Ledger is not null)
        {
            services.AddSingleton(backends.Ledger);
        }


        // Registered before AddHangfire, whose TryAdd defaults would read the process-global
        // JobStorage.Current and JobActivator.Current: each host keeps its own.
        services.AddSingleton(backends.JobStorage);
        services.AddSingleton(sp => QueueFetcher.For(backends, sp.GetRequiredService<ILoggerFactory>()));
        if (backends.QueueNotifications is null)
        {
            services.AddSingleton<IJobFilterProvider>(sp => new InProcessEnqueueSignal(sp.GetRequiredService<QueueFetcher>().Signals));
        }

        services.AddSingleton<JobActivator>(sp => new AspNetCoreJobActivator(sp.GetRequiredService<IServiceScopeFactory>()));
        services.AddHostedService<CoordinatorStartup>();
        services.AddHangfire((sp, config) => config
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseLogProvider(new HangfireLogging(sp.GetRequiredService<ILoggerFactory>())));
        services.AddHangfireServer((_, server) =>
        {
            server.ServerName = $"coordinator-{Environment.MachineName.ToLowerInvariant()}";
            server.Queues = FarmQueues.CoordinatorQueues;
            server.WorkerCount = Math.Clamp(Environment.ProcessorCount, 2, 8);
            server.SchedulePollingInterval = TimeSpan.FromSeconds(2);
        });

        services.AddSingleton<ProviderStanding>();
        services.AddSingleton<RateWindow>();
        if (backends.QueueNotifications is { } hangfireDatabase)
        {
            services.AddSingleton(new PostgresHangfireStates(hangfireDatabase, CoordinatorBackends.HangfireSchema));
        }

        services.AddSingleton<LeaseService>();
        services.AddSingleton(sp => new InvariantSweep(
            sp.GetRequiredService<Core.Farm.IFarmStore>(),
            sp.GetRequiredService<LeaseService>().Transitions,
            sp.GetRequiredService<ILogger<InvariantSweep>>()));
        services.AddSingleton<SignInTokens>();
        services.AddSingleton<ProviderAuthenticator>();
        services.AddSingleton<ClientAuthenticator>();
        services.AddSingleton<JobService>();
        services.AddSingleton<Uploads>();
        services.AddRenderFarmWeb();

        // Hangfire jobs must be public types; their constructors stay internal, so they are built here.
        services.AddSingleton<ITaskBatches>(sp =>
        {
            QueueFetcher fetcher = sp.GetRequiredService<QueueFetcher>();
            var batches = new HangfireTaskBatches(fetcher.FetchStorage ?? sp.GetRequiredService<JobStorage>());
            return backends.QueueNotifications is { } hangfireDatabase
                ? new PostgresTaskBatches(hangfireDatabase, CoordinatorBackends.HangfireSchema, batches)
                : batches;
        });
        services.AddTransient(sp => new JobSplitter(
            sp.GetRequiredService<Core.Farm.IFarmStore>(),
            sp.GetRequiredService<QueueFetcher>(),
            sp.GetRequiredService<ITaskBatches>(),
            sp.GetRequiredService<ILogger<JobSplitter>>()));
        services.AddTransient(sp => new SettlementJob(
            sp.GetRequiredService<Core.Farm.IFarmStore>(),
            sp.GetService<Core.Ledger.ILedger>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<CoordinatorOptions>>(),
            sp.GetRequiredService<ILogger<SettlementJob>>()));
        services.AddTransient(sp => new FarmMaintenance(
            sp.GetRequiredService<LeaseService>(),
            sp.GetRequiredService<InvariantSweep>(),
            sp.GetRequiredService<JobStorage>(),
            sp.GetRequiredService<IOptions<CoordinatorOptions>>(),
            sp.GetRequiredService<ILogger<FarmMaintenance>>()));

        services.AddProblemDetails();
        services.AddExceptionHandler<CoordinatorExceptionHandler>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            // Strict: unknown members, nulls for non-nullable members and missing required
            // constructor parameters are refused with a message instead of silently defaulted.
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
            o.SerializerOptions.RespectNullableAnnotations = true;
            o.SerializerOptions.RespectRequiredConstructorParameters = true;
        });
        services.AddOpenApi();
        services.AddHealthChecks().AddCheck<CoordinatorHealthCheck>("stores");
        return services;
    }
}
