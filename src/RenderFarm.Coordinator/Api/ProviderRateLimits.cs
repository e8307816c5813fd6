using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Leasing;

namespace RenderFarm.Coordinator.Api;

/// <summary>
/// Per-minute limits on what fresh identities make cheap: logins per provider address and per remote IP address, and
/// failure reports per provider (<see cref="ProviderLimits"/>). Past a limit the call is answered 429 and changes nothing.
/// </summary>
internal static class ProviderRateLimits
{
    /// <summary>
    /// Counts a login attempt from the request's remote address, or throws a 429. Providers and clients are counted
    /// apart (<paramref name="role"/>), so a busy client machine does not hold back a provider behind the same address.
    /// </summary>
    public static void CheckLoginAddress(HttpContext context, string role = "provider")
    {
        (RateWindow rates, ProviderLimits limits) = Services(context);
        string? remote = context.Connection.RemoteIpAddress?.ToString();
        if (limits.MaxLoginsPerAddressPerMinute > 0 && remote is not null && !rates.TryTake($"login-ip:{role}:{remote}", limits.MaxLoginsPerAddressPerMinute))
        {
            throw new CoordinatorException(429, $"Too many logins from {remote}: at most {limits.MaxLoginsPerAddressPerMinute} a minute; try again in a minute.");
        }
    }

    /// <summary>
    /// Counts a signed-in login of <paramref name="provider"/>, or throws a 429. Only logins whose signature held count,
    /// so nobody can lock a provider out by failing logins in its name.
    /// </summary>
    public static void CheckLoginOf(HttpContext context, string provider)
    {
        (RateWindow rates, ProviderLimits limits) = Services(context);
        if (!rates.TryTake("login:" + provider, limits.MaxLoginsPerProviderPerMinute))
        {
            throw new CoordinatorException(429, $"Too many logins of provider {provider}: at most {limits.MaxLoginsPerProviderPerMinute} a minute; try again in a minute.");
        }
    }

    /// <summary>
    /// Counts a failure report of <paramref name="provider"/> and of the request's remote address, or throws a 429 (its
    /// lease stays until it lapses).
    /// </summary>
    public static void CheckFailure(HttpContext context, string provider)
    {
        (RateWindow rates, ProviderLimits limits) = Services(context);
        if (!rates.TryTake("fail:" + provider, limits.MaxFailuresPerProviderPerMinute))
        {
            throw new CoordinatorException(429, $"Too many failure reports from provider {provider}: at most {limits.MaxFailuresPerProviderPerMinute} a minute; try again in a minute.");
        }

        string? remote = context.Connection.RemoteIpAddress?.ToString();
        if (limits.MaxFailuresPerAddressPerMinute > 0 && remote is not null && !rates.TryTake("fail-ip:" + remote, limits.MaxFailuresPerAddressPerMinute))
        {
            throw new CoordinatorException(429, $"Too many failure reports from {remote}: at most {limits.MaxFailuresPerAddressPerMinute} a minute; try again in a minute.");
        }
    }

    private static (RateWindow Rates, ProviderLimits Limits) Services(HttpContext context) =>
        (context.RequestServices.GetRequiredService<RateWindow>(), context.RequestServices.GetRequiredService<IOptions<ProviderLimits>>().Value);
}
