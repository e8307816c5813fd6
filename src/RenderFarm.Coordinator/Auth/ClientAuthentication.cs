using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace RenderFarm.Coordinator.Auth;

/// <summary>
/// Marks the endpoints of the authenticated client API. A middleware checks the caller of every marked endpoint before
/// its handler runs — before any body is read or bound — so an anonymous call is a 401 whatever it sends.
/// </summary>
internal sealed class ClientAuthentication
{
    private ClientAuthentication()
    {
    }

    /// <summary>The endpoint metadata that asks for a client.</summary>
    public static ClientAuthentication Required { get; } = new();

    /// <summary>Adds the middleware that authenticates calls to endpoints carrying <see cref="Required"/>.</summary>
    public static void Use(WebApplication app) => app.Use(async (context, next) =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<ClientAuthentication>() is not null)
        {
            ClientAuthenticator authenticator = context.RequestServices.GetRequiredService<ClientAuthenticator>();
            ClientIdentity.Set(context, await authenticator.AuthenticateAsync(context.Request, context.RequestAborted));
        }

        await next(context);
    });
}
