using System.Text;
using Hangfire.Dashboard;
using RenderFarm.Coordinator.Auth;

namespace RenderFarm.Coordinator.Api;

/// <summary>
/// Opens the Hangfire dashboard in Development; elsewhere asks for the operator key, either as the
/// password of HTTP basic authentication (any user name, so a browser prompts for it) or in an
/// <c>X-Operator-Key</c> header (for scripts).
/// </summary>
internal sealed class OperatorDashboardAuthorization(bool isDevelopment, string operatorKey) : IDashboardAuthorizationFilter
{
    public bool Authorize(DashboardContext context)
    {
        if (isDevelopment)
        {
            return true;
        }

        var http = context.GetHttpContext();
        if (OperatorKey.Matches(http.Request.Headers[OperatorKey.Header].ToString(), operatorKey)
            || OperatorKey.Matches(BasicPassword(http.Request.Headers.Authorization.ToString()), operatorKey))
        {
            return true;
        }

        http.Response.Headers.WWWAuthenticate = "Basic realm=\"RenderFarm operators\", charset=\"UTF-8\"";
        return false;
    }

    internal static string? BasicPassword(string authorization)
    {
        const string Scheme = "Basic ";
        if (!authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[Scheme.Length..].Trim()));
            int colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : decoded[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
