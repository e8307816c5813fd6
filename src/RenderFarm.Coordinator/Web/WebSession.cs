using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Auth;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// The web app's session: an HttpOnly, SameSite=Strict cookie holding the credential the API itself takes — an API
/// key, a client token from the signed challenge, or the operator key — checked on every request by the API's own
/// <see cref="ClientAuthenticator"/>, so the pages see exactly what the API would show the same credential (a revoked
/// key or an expired token ends the session at once). Forms that change something carry a token derived from the
/// cookie (<see cref="FormToken"/>), which another site can neither read nor compute.
/// </summary>
internal static class WebSession
{
    /// <summary>The session cookie's name.</summary>
    public const string CookieName = "renderfarm_session";

    /// <summary>The form field that carries <see cref="FormToken"/>.</summary>
    public const string FormTokenField = "form_token";

    private const int MaxCredentialLength = 4096;

    /// <summary>What kind of credential a session holds.</summary>
    public enum Kind
    {
        /// <summary>An API key (<c>rfk_…</c>).</summary>
        ApiKey,

        /// <summary>A client token from a signed challenge.</summary>
        Token,

        /// <summary>The operator key.</summary>
        Operator,
    }

    /// <summary>Who the session's cookie stands for, or null when there is none or it no longer holds.</summary>
    public static async Task<ClientIdentity?> AuthenticateAsync(HttpContext context)
    {
        if (Read(context) is not { } credential)
        {
            return null;
        }

        try
        {
            return await Check(context.RequestServices, credential.Kind, credential.Secret, context.RequestAborted).ConfigureAwait(false);
        }
        catch (CoordinatorException exception) when (exception.StatusCode == StatusCodes.Status401Unauthorized)
        {
            return null;
        }
    }

    /// <summary>Checks a credential as the API would; throws the API's 401 when it does not hold.</summary>
    public static Task<ClientIdentity> Check(IServiceProvider services, Kind kind, string secret, CancellationToken cancellationToken)
    {
        if (secret.Length is 0 or > MaxCredentialLength)
        {
            throw new CoordinatorException(StatusCodes.Status401Unauthorized, "The credential is empty or too long.");
        }

        // The API's own authenticator reads the request the API would get with this credential.
        var request = new DefaultHttpContext().Request;
        switch (kind)
        {
            case Kind.ApiKey:
                request.Headers.Authorization = $"ApiKey {secret}";
                break;
            case Kind.Token:
                request.Headers.Authorization = $"Bearer {secret}";
                break;
            default:
                request.Headers[OperatorKey.Header] = secret;
                break;
        }

        return services.GetRequiredService<ClientAuthenticator>().AuthenticateAsync(request, cancellationToken);
    }

    /// <summary>Starts a session with a credential that was just checked.</summary>
    public static void Start(HttpContext context, Kind kind, string secret, DateTimeOffset? expires)
    {
        context.Response.Cookies.Append(CookieName, $"{(char)('a' + (int)kind)}{Uri.EscapeDataString(secret)}", new CookieOptions
        {
            HttpOnly = true,
            Secure = context.Request.IsHttps,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            IsEssential = true,
            Expires = expires,
        });
    }

    /// <summary>Ends the session.</summary>
    public static void End(HttpContext context) => context.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/" });

    /// <summary>The token forms of this session must carry; empty without a session.</summary>
    public static string FormToken(HttpContext context)
    {
        string? cookie = context.Request.Cookies[CookieName];
        return cookie is null
            ? ""
            : Convert.ToHexStringLower(HMACSHA256.HashData(SHA256.HashData(Encoding.UTF8.GetBytes(cookie)), "renderfarm web form"u8));
    }

    /// <summary>Whether a posted form carries this session's token.</summary>
    public static bool HasFormToken(HttpContext context, string? posted)
    {
        string expected = FormToken(context);
        return expected.Length > 0 && posted is { Length: > 0 }
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(posted));
    }

    private static (Kind Kind, string Secret)? Read(HttpContext context)
    {
        string? cookie = context.Request.Cookies[CookieName];
        if (cookie is not { Length: > 1 } || cookie[0] is < 'a' or > 'c')
        {
            return null;
        }

        return ((Kind)(cookie[0] - 'a'), Uri.UnescapeDataString(cookie[1..]));
    }
}
