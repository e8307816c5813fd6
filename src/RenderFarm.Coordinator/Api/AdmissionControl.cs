using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace RenderFarm.Coordinator.Api;

/// <summary>
/// Admission control for <c>/api</c>: a saturated coordinator answers 503 with <c>Retry-After</c> and a problem body,
/// never 500 and never an unbounded queue. Lease long-polls are counted apart (they hold no thread and no database
/// connection while they wait, so many may wait); every other API call takes one of a bounded number of slots, and a
/// call that finds none free within <see cref="AdmissionLimits.QueueTimeout"/> is turned away. A call that still finds
/// a database pool exhausted is answered the same way. <c>/health</c>, the dashboard and object URLs are not gated.
/// </summary>
internal sealed class AdmissionControl
{
    private readonly RequestDelegate _next;
    private readonly AdmissionLimits _limits;
    private readonly SemaphoreSlim _slots;
    private int _polls;
    private int _queued;

    public AdmissionControl(RequestDelegate next, AdmissionLimits limits)
    {
        _next = next;
        _limits = limits;
        _slots = new SemaphoreSlim(limits.MaxRequests, limits.MaxRequests);
    }

    /// <summary>Adds the middleware with limits from <c>Coordinator:Admission</c>.</summary>
    public static void Use(WebApplication app) =>
        app.UseMiddleware<AdmissionControl>(AdmissionLimits.From(app.Services.GetRequiredService<IConfiguration>()));

    /// <summary>Lease long-polls in progress (waiting or looking).</summary>
    public int Polls => Volatile.Read(ref _polls);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            await _next(context);
            return;
        }

        if (IsLeasePoll(context.Request))
        {
            if (Interlocked.Increment(ref _polls) > _limits.MaxPolls)
            {
                Interlocked.Decrement(ref _polls);
                await RefuseAsync(context, $"This coordinator has {_limits.MaxPolls} lease polls waiting already; ask again later.");
                return;
            }

            try
            {
                await RunAsync(context);
            }
            finally
            {
                Interlocked.Decrement(ref _polls);
            }

            return;
        }

        if (Interlocked.Increment(ref _queued) > _limits.MaxRequests + _limits.MaxQueued)
        {
            Interlocked.Decrement(ref _queued);
            await RefuseAsync(context, "This coordinator is saturated; ask again later.");
            return;
        }

        bool admitted;
        try
        {
            admitted = await _slots.WaitAsync(_limits.QueueTimeout, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Decrement(ref _queued);
            return;
        }

        if (!admitted)
        {
            Interlocked.Decrement(ref _queued);
            await RefuseAsync(context, "This coordinator is saturated; ask again later.");
            return;
        }

        try
        {
            await RunAsync(context);
        }
        finally
        {
            _slots.Release();
            Interlocked.Decrement(ref _queued);
        }
    }

    /// <summary>True when <paramref name="exception"/> or one it wraps is Npgsql's "connection pool exhausted".</summary>
    internal static bool IsPoolExhausted(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is NpgsqlException { InnerException: TimeoutException } npgsql
                && npgsql.Message.Contains("pool", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsLeasePoll(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && (request.Path.Equals("/api/leases", StringComparison.Ordinal) || request.Path.Equals("/api/leases/", StringComparison.Ordinal));

    private async Task RunAsync(HttpContext context)
    {
        try
        {
            await _next(context);
        }
        catch (Exception ex) when (IsPoolExhausted(ex) && !context.Response.HasStarted)
        {
            // The slots keep the pools from running dry in normal operation; a burst past them (or a pool shared with
            // other work) is still the coordinator being busy, not a fault of the request.
            await RefuseAsync(context, "This coordinator's database connections are all in use; ask again later.");
        }
    }

    private async Task RefuseAsync(HttpContext context, string detail)
    {
        context.Response.Clear();
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = _limits.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        IProblemDetailsService problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = ReasonPhrases.GetReasonPhrase(StatusCodes.Status503ServiceUnavailable),
                Detail = detail,
            },
        });
    }
}

/// <summary>Limits of <see cref="AdmissionControl"/>, from the configuration section <c>Coordinator:Admission</c>.</summary>
/// <param name="MaxPolls">Lease long-polls at once (<c>MaxPolls</c>, default 5,000).</param>
/// <param name="MaxRequests">Other API calls running at once (<c>MaxRequests</c>, default 64).</param>
/// <param name="MaxQueued">Other API calls waiting for a slot (<c>MaxQueued</c>, default 512).</param>
/// <param name="QueueTimeout">Longest wait for a slot (<c>QueueTimeoutMs</c>, default 2,000 ms).</param>
/// <param name="RetryAfterSeconds">The <c>Retry-After</c> of a refusal (<c>RetryAfterSeconds</c>, default 2).</param>
internal sealed record AdmissionLimits(int MaxPolls, int MaxRequests, int MaxQueued, TimeSpan QueueTimeout, int RetryAfterSeconds)
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Coordinator:Admission";

    /// <summary>Reads the limits; a malformed or out-of-range value is refused in one line.</summary>
    /// <exception cref="Core.UserInputException">A value is not a whole number in its range.</exception>
    public static AdmissionLimits From(IConfiguration configuration)
    {
        IConfigurationSection section = configuration.GetSection(SectionName);
        return new AdmissionLimits(
            Read(section, "MaxPolls", 5000, 1, 1_000_000),
            Read(section, "MaxRequests", 64, 1, 100_000),
            Read(section, "MaxQueued", 512, 0, 1_000_000),
            TimeSpan.FromMilliseconds(Read(section, "QueueTimeoutMs", 2000, 0, 60_000)),
            Read(section, "RetryAfterSeconds", 2, 1, 3600));
    }

    private static int Read(IConfigurationSection section, string key, int fallback, int min, int max)
    {
        string? text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value
            : throw new Core.UserInputException($"{SectionName}:{key} must be a whole number from {min} to {max}; got '{(text.Length > 20 ? text[..20] + "…" : text)}'.");
    }
}
