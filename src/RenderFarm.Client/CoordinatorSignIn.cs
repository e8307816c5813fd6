using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Client;

/// <summary>
/// Signs every call to a coordinator's client API (<c>api/</c> under the coordinator's address) in as one account:
/// with an API key, or with the account's Ethereum key — it asks for a challenge, signs it, and keeps the client token
/// until shortly before it expires. Requests that carry their own credentials, and requests to any other address
/// (presigned object URLs, which refuse a second credential), pass untouched. A refused sign-in answers the request
/// with the coordinator's refusal (its status and problem details), so callers report it like any other answer.
/// </summary>
public sealed class CoordinatorSignIn : DelegatingHandler
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    // A token is renewed this long before it expires, so a request never leaves with one about to lapse.
    private static readonly TimeSpan s_renewMargin = TimeSpan.FromSeconds(30);

    private readonly Uri _api;
    private readonly string? _apiKey;
    private readonly string? _address;
    private readonly Func<string, string>? _sign;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _signingIn = new(1, 1);
    private volatile LoginResponse? _token;

    private CoordinatorSignIn(Uri coordinator, string? apiKey, string? address, Func<string, string>? sign, TimeProvider? time, HttpMessageHandler? inner)
        : base(inner ?? new HttpClientHandler())
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        _api = new Uri(coordinator.AbsoluteUri.EndsWith('/') ? coordinator : new Uri(coordinator.AbsoluteUri + "/"), "api/");
        _apiKey = apiKey;
        _address = address;
        _sign = sign;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The account the calls act for; null when an API key decides it.</summary>
    public string? Address => _address;

    /// <summary>Signs in with an Ethereum key.</summary>
    /// <param name="coordinator">The coordinator's base address.</param>
    /// <param name="address">The account's address.</param>
    /// <param name="sign">Signs a message as EIP-191 <c>personal_sign</c> with the account's key (0x-prefixed hex).</param>
    /// <param name="time">The clock that decides when the token is renewed; the system clock when null.</param>
    /// <param name="inner">The handler that sends; a new <see cref="HttpClientHandler"/> when null.</param>
    public static CoordinatorSignIn WithKey(Uri coordinator, string address, Func<string, string> sign, TimeProvider? time = null, HttpMessageHandler? inner = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentNullException.ThrowIfNull(sign);
        return new CoordinatorSignIn(coordinator, null, address, sign, time, inner);
    }

    /// <summary>Signs in with an API key, sent as <c>Authorization: ApiKey KEY</c>.</summary>
    /// <param name="coordinator">The coordinator's base address.</param>
    /// <param name="apiKey">The key as issued.</param>
    /// <param name="inner">The handler that sends; a new <see cref="HttpClientHandler"/> when null.</param>
    public static CoordinatorSignIn WithApiKey(Uri coordinator, string apiKey, HttpMessageHandler? inner = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        return new CoordinatorSignIn(coordinator, apiKey.Trim(), null, null, null, inner);
    }

    /// <inheritdoc/>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Headers.Authorization is not null || request.Headers.Contains("X-Operator-Key") || !IsClientApi(request.RequestUri))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        if (_apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("ApiKey", _apiKey);
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        (LoginResponse? token, HttpResponseMessage? refusal) = await GetTokenAsync(cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token!.Token);
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            // The coordinator no longer takes the token (its clock ran ahead of ours, or it restarted with a new
            // signing key): the next request signs in afresh.
            Interlocked.CompareExchange(ref _token, null, token);
        }

        return response;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _signingIn.Dispose();
        }

        base.Dispose(disposing);
    }

    private bool IsClientApi(Uri? uri) =>
        uri is { IsAbsoluteUri: true }
        && Uri.Compare(uri, _api, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
        && uri.AbsolutePath.StartsWith(_api.AbsolutePath, StringComparison.Ordinal)
        && !uri.AbsolutePath.StartsWith(_api.AbsolutePath + "clients/", StringComparison.Ordinal);

    private async Task<(LoginResponse? Token, HttpResponseMessage? Refusal)> GetTokenAsync(CancellationToken cancellationToken)
    {
        await _signingIn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is { } current && _time.GetUtcNow() < current.ExpiresAt - s_renewMargin)
            {
                return (current, null);
            }

            using HttpResponseMessage challengeResponse = await PostAsync("clients/challenge", new ChallengeRequest(_address!), cancellationToken).ConfigureAwait(false);
            if (!challengeResponse.IsSuccessStatusCode)
            {
                return (null, await DetachAsync(challengeResponse, cancellationToken).ConfigureAwait(false));
            }

            ChallengeResponse challenge = await ReadAsync<ChallengeResponse>(challengeResponse, cancellationToken).ConfigureAwait(false);
            using HttpResponseMessage loginResponse = await PostAsync(
                "clients/login", new LoginRequest(_address!, challenge.Challenge, _sign!(challenge.Challenge), null), cancellationToken).ConfigureAwait(false);
            if (!loginResponse.IsSuccessStatusCode)
            {
                return (null, await DetachAsync(loginResponse, cancellationToken).ConfigureAwait(false));
            }

            LoginResponse issued = await ReadAsync<LoginResponse>(loginResponse, cancellationToken).ConfigureAwait(false);
            _token = issued;
            return (issued, null);
        }
        finally
        {
            _signingIn.Release();
        }
    }

    private async Task<HttpResponseMessage> PostAsync<T>(string path, T body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_api, path)) { Content = JsonContent.Create(body, options: s_json) };
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken) =>
        await response.Content.ReadFromJsonAsync<T>(s_json, cancellationToken).ConfigureAwait(false)
        ?? throw new JsonException($"{response.RequestMessage?.RequestUri} answered null.");

    // The refusal outlives the sign-in request it answered: copy status and body into a response of its own.
    private static async Task<HttpResponseMessage> DetachAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var refusal = new HttpResponseMessage(response.StatusCode) { ReasonPhrase = response.ReasonPhrase, Content = new ByteArrayContent(body) };
        if (response.Content.Headers.ContentType is { } type)
        {
            refusal.Content.Headers.ContentType = type;
        }

        return refusal;
    }
}
