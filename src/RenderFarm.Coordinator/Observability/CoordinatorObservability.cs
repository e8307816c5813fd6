using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using RenderFarm.Coordinator.Auth;
using Serilog;
using ILogger = Microsoft.Extensions.Logging.ILogger;
using Serilog.Formatting.Compact;

namespace RenderFarm.Coordinator.Observability;

/// <summary>
/// Logs and metrics: Serilog on the console (plain text, or compact JSON with <c>Logging:Format=json</c>), one request
/// line per request — at Debug for the provider traffic that repeats all day (lease polls, heartbeats, object
/// transfers) and for the web app's streams and assets — and OpenTelemetry metrics for Prometheus on <c>/metrics</c>.
/// </summary>
internal static partial class CoordinatorObservability
{
    private const string TextTemplate = "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Makes Serilog the logging provider. Called before the host's caller configures the builder, so a caller can
    /// still clear the providers or raise the minimum level.
    /// </summary>
    public static void ConfigureLogging(WebApplicationBuilder builder)
    {
        bool json = string.Equals(builder.Configuration["Logging:Format"], "json", StringComparison.OrdinalIgnoreCase);
        LoggerConfiguration configuration = new LoggerConfiguration().MinimumLevel.Verbose().Enrich.FromLogContext();
        Serilog.Core.Logger logger = (json
            ? configuration.WriteTo.Console(new CompactJsonFormatter())
            : configuration.WriteTo.Console(outputTemplate: TextTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture)).CreateLogger();
        builder.Logging.ClearProviders();

        // Added as a plain provider (not AddSerilog, which lets every level through to Serilog), so the usual filters
        // (Logging:LogLevel, SetMinimumLevel) decide what is written.
        builder.Logging.AddProvider(new Serilog.Extensions.Logging.SerilogLoggerProvider(logger, dispose: true));

        // ASP.NET Core's own two lines per request give way to the one line below; its warnings and errors stay.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
    }

    /// <summary>Registers the farm's metrics and the Prometheus exporter.</summary>
    public static IServiceCollection AddFarmMetrics(this IServiceCollection services)
    {
        services.AddSingleton<FarmMetrics>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(FarmMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        return services;
    }

    /// <summary>
    /// Adds the request log and <c>/metrics</c>. Outside Development the metrics ask for the operator key, as the
    /// dashboard does: in <c>X-Operator-Key</c>, or as the password of HTTP basic authentication (Prometheus'
    /// <c>basic_auth</c>).
    /// </summary>
    public static void UseFarmObservability(WebApplication app)
    {
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RenderFarm.Coordinator.Requests");
        FarmMetrics metrics = app.Services.GetRequiredService<FarmMetrics>();
        bool development = app.Environment.IsDevelopment();
        string operatorKey = app.Services.GetRequiredService<IOptions<CoordinatorOptions>>().Value.OperatorKey;
        app.Use(async (context, next) =>
        {
            long start = Stopwatch.GetTimestamp();
            try
            {
                if (!development && context.Request.Path.Equals("/metrics", StringComparison.Ordinal)
                    && !OperatorKey.Matches(context.Request.Headers[OperatorKey.Header].ToString(), operatorKey)
                    && !OperatorKey.Matches(Api.OperatorDashboardAuthorization.BasicPassword(context.Request.Headers.Authorization.ToString()), operatorKey))
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = "Basic realm=\"RenderFarm operators\", charset=\"UTF-8\"";
                    return;
                }

                await next(context);
            }
            finally
            {
                TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
                HttpRequest request = context.Request;
                int status = context.Response.StatusCode;
                bool leasePoll = HttpMethods.IsPost(request.Method) && request.Path.Equals("/api/leases", StringComparison.Ordinal);
                if (leasePoll && status == StatusCodes.Status200OK)
                {
                    metrics.LeaseGranted(elapsed);
                }

                LogLevel level = status >= 500 ? LogLevel.Error : IsRoutine(request, leasePoll) ? LogLevel.Debug : LogLevel.Information;
                LogRequest(logger, level, request.Method, request.Path.Value ?? "", status, elapsed.TotalMilliseconds);
            }
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
    }

    // Traffic that repeats all day and says nothing new: provider polls and heartbeats, presigned transfers, the web
    // app's live streams and assets, scrapes and health probes.
    private static bool IsRoutine(HttpRequest request, bool leasePoll)
    {
        PathString path = request.Path;
        return leasePoll
            || (path.StartsWithSegments("/api/leases", StringComparison.Ordinal) && path.Value!.EndsWith("/heartbeat", StringComparison.Ordinal))
            || path.StartsWithSegments("/objects", StringComparison.Ordinal)
            || path.StartsWithSegments("/static", StringComparison.Ordinal)
            || path.Value?.EndsWith("/events", StringComparison.Ordinal) == true
            || path.Value?.Contains("/thumbs/", StringComparison.Ordinal) == true
            || path.Equals("/metrics", StringComparison.Ordinal)
            || path.Equals("/health", StringComparison.Ordinal);
    }

    [LoggerMessage(Message = "{Method} {Path} answered {Status} in {ElapsedMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, LogLevel level, string method, string path, int status, double elapsedMs);
}
