using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Worker;

/// <content>Signing in with the provider key and keeping the bearer token fresh.</content>
public sealed partial class FarmClient
{
    private async Task<Session> GetSessionAsync(CancellationToken cancellationToken)
    {
        Session? session = _session;
        if (session is not null && DateTimeOffset.UtcNow < session.RefreshAt)
        {
            return session;
        }

        return await RenewSessionAsync(session, force: false, cancellationToken).ConfigureAwait(false);
    }

    // Logs in unless another caller already replaced the stale session while this one waited for the lock.
    private async Task<Session> RenewSessionAsync(Session? stale, bool force, CancellationToken cancellationToken)
    {
        await _loginLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Session? current = _session;
            if (!force && current is not null && current != stale && DateTimeOffset.UtcNow < current.RefreshAt)
            {
                return current;
            }

            Session session = await LoginCoreAsync(cancellationToken).ConfigureAwait(false);
            _session = session;
            return session;
        }
        finally
        {
            _loginLock.Release();
        }
    }

    private async Task<Session> LoginCoreAsync(CancellationToken cancellationToken)
    {
        // Challenges are single-use: if a login was processed but its answer lost, the resend is
        // refused, so one refusal earns one more try with a fresh challenge.
        for (int attempt = 1; ; attempt++)
        {
            ChallengeResponse challenge = await PostAnonymousAsync<ChallengeResponse>(
                "api/providers/challenge", new ChallengeRequest(Address), cancellationToken).ConfigureAwait(false);
            var login = new LoginRequest(Address, challenge.Challenge, _key.Sign(challenge.Challenge), _device);
            LoginResponse response;
            try
            {
                response = await PostAnonymousAsync<LoginResponse>("api/providers/login", login, cancellationToken).ConfigureAwait(false);
            }
            catch (FarmRequestException) when (attempt == 1)
            {
                continue;
            }

            DateTimeOffset now = DateTimeOffset.UtcNow;
            TimeSpan lifetime = response.ExpiresAt - now;
            // Renew a fifth of the lifetime (at most a minute) early; against a skewed clock, fall back on the 401 path.
            TimeSpan margin = lifetime > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Min(lifetime.Ticks / 5, TimeSpan.TicksPerMinute)) : TimeSpan.Zero;
            DateTimeOffset refreshAt = lifetime > TimeSpan.Zero ? response.ExpiresAt - margin : now + TimeSpan.FromMinutes(1);
            _events?.Report(new WorkerEvent(
                WorkerEventKind.LoggedIn,
                $"Logged in to {_http.BaseAddress} as {Address}{(_device is null ? string.Empty : $" ({_device})")}."));
            return new Session(response.Token, refreshAt);
        }
    }

    private async Task<T> PostAnonymousAsync<T>(string path, object body, CancellationToken cancellationToken)
        where T : class
    {
        string operation = $"POST /{path}";
        return (await ReadAnswerAsync<T>(
            operation,
            async ct =>
            {
                HttpResponseMessage response = await SendWithRetryAsync(
                    HttpMethod.Post, path, body, token: null, operation, RequestTimeout, ct).ConfigureAwait(false);
                try
                {
                    await ThrowIfFailedAsync(response, operation, leaseScoped: false, ct).ConfigureAwait(false);
                }
                catch
                {
                    response.Dispose();
                    throw;
                }

                return response;
            },
            cancellationToken).ConfigureAwait(false))!;
    }
}
