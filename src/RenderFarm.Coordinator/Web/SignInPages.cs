using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RenderFarm.Coordinator.Api;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// Signing in: with an API key, with the account's Ethereum key (the API's challenge, signed in a wallet or with any
/// EIP-191 tool, pasted back), or with the operator key. Every attempt counts against the API's client login limit.
/// </summary>
internal static class SignInPages
{
    public static void Map(RouteGroupBuilder web)
    {
        web.MapGet("/signin", (HttpContext context, string? next) => Form(context, next, null, StatusCodes.Status200OK));

        web.MapPost("/signin", async (HttpContext context) =>
        {
            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted);
            string next = WebApp.SafeNext(form["next"]);
            try
            {
                ProviderRateLimits.CheckLoginAddress(context, "client");
                string apiKey = form["api_key"].ToString().Trim();
                string operatorKey = form["operator_key"].ToString();
                (WebSession.Kind kind, string secret) = apiKey.Length > 0
                    ? (WebSession.Kind.ApiKey, apiKey)
                    : operatorKey.Length > 0
                        ? (WebSession.Kind.Operator, operatorKey)
                        : throw new CoordinatorException(StatusCodes.Status400BadRequest, "Enter an API key (rfk_…) or the operator key.");
                await WebSession.Check(context.RequestServices, kind, secret, context.RequestAborted);
                WebSession.Start(context, kind, secret, expires: null);
                return Results.Redirect(next);
            }
            catch (CoordinatorException exception)
            {
                return Form(context, next, exception.Message, exception.StatusCode);
            }
        });

        web.MapPost("/signin/challenge", async (HttpContext context, ClientAuthenticator auth) =>
        {
            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted);
            string next = WebApp.SafeNext(form["next"]);
            try
            {
                ChallengeResponse challenge = auth.CreateChallenge(new ChallengeRequest(form["address"].ToString().Trim()));
                return ChallengeForm(context, next, form["address"].ToString().Trim(), challenge.Challenge, null, StatusCodes.Status200OK);
            }
            catch (CoordinatorException exception)
            {
                return Form(context, next, exception.Message, exception.StatusCode);
            }
        });

        web.MapPost("/signin/signature", async (HttpContext context, ClientAuthenticator auth) =>
        {
            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted);
            string next = WebApp.SafeNext(form["next"]);
            string address = form["address"].ToString().Trim();
            string challenge = form["challenge"].ToString().Replace("\r\n", "\n", StringComparison.Ordinal);
            try
            {
                ProviderRateLimits.CheckLoginAddress(context, "client");
                LoginResponse login = await auth.LoginAsync(new LoginRequest(address, challenge, form["signature"].ToString().Trim(), null), context.RequestAborted);
                WebSession.Start(context, WebSession.Kind.Token, login.Token, login.ExpiresAt);
                return Results.Redirect(next);
            }
            catch (CoordinatorException exception)
            {
                return ChallengeForm(context, next, address, challenge, exception.Message, exception.StatusCode);
            }
        });

        web.MapPost("/signout", (HttpContext context, CancellationToken cancellationToken) =>
        {
            WebSession.End(context);
            return Results.Redirect("/signin");
        });
    }

    private static IResult Form(HttpContext context, string? next, string? error, int status)
    {
        string target = WebApp.SafeNext(next);
        return WebLayout.Page(context, null, "Sign in", Html.Of($"""
            {ErrorLine(error)}
            <section aria-labelledby="with-key">
              <h2 id="with-key">With an API key</h2>
              <form method="post" action="/signin" class="stack">
                <input type="hidden" name="next" value="{target}">
                <label for="api_key">API key</label>
                <input id="api_key" name="api_key" type="password" autocomplete="current-password" placeholder="rfk_…" spellcheck="false">
                <button type="submit">Sign in with the API key</button>
              </form>
            </section>
            <section aria-labelledby="with-wallet">
              <h2 id="with-wallet">With your account's Ethereum key</h2>
              <form method="post" action="/signin/challenge" class="stack">
                <input type="hidden" name="next" value="{target}">
                <label for="address">Account address</label>
                <input id="address" name="address" type="text" placeholder="0x…" spellcheck="false" autocomplete="username">
                <button type="submit">Get a message to sign</button>
              </form>
            </section>
            <details>
              <summary>Operator</summary>
              <form method="post" action="/signin" class="stack">
                <input type="hidden" name="next" value="{target}">
                <label for="operator_key">Operator key</label>
                <input id="operator_key" name="operator_key" type="password" autocomplete="off">
                <button type="submit">Sign in as the operator</button>
              </form>
            </details>
            """), status: status);
    }

    private static IResult ChallengeForm(HttpContext context, string next, string address, string challenge, string? error, int status) =>
        WebLayout.Page(context, null, "Sign the message", Html.Of($"""
            {ErrorLine(error)}
            <p>Sign this message with the key of <code>{address}</code> (EIP-191 <code>personal_sign</code>: a browser wallet,
            <code>cast wallet sign</code>, or any tool that signs Ethereum messages) and paste the signature below.
            It is valid for a few minutes and once.</p>
            <form method="post" action="/signin/signature" class="stack" id="signature-form">
              <input type="hidden" name="next" value="{next}">
              <input type="hidden" name="address" value="{address}">
              <label for="challenge">Message to sign</label>
              <textarea id="challenge" name="challenge" rows="6" readonly>{challenge}</textarea>
              <button type="button" id="wallet-sign" hidden>Sign with the browser wallet</button>
              <label for="signature">Signature</label>
              <input id="signature" name="signature" type="text" placeholder="0x… (65 bytes)" spellcheck="false" autocomplete="off">
              <button type="submit">Sign in</button>
            </form>
            """), status: status);

    private static Html ErrorLine(string? error) => error is null ? Html.Empty : Html.Of($"""<p class="error" role="alert">{error}</p>""");
}
