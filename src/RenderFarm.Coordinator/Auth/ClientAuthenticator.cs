using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Auth;

/// <summary>
/// Client identity. An account signs in with its Ethereum key as providers do (<see cref="SignInTokens"/>, client role)
/// and sends <c>Authorization: Bearer TOKEN</c>; a script may send an API key instead (<c>Authorization: ApiKey KEY</c>
/// or <c>Bearer KEY</c>), issued for an account by the operator or by the account itself; the operator sends the
/// <c>X-Operator-Key</c> header. API keys read <c>rfk_ID_SECRET</c> (hex); the farm store keeps only their SHA-256.
/// </summary>
internal sealed class ClientAuthenticator
{
    /// <summary>The header the operator key travels in, as the dashboard accepts it.</summary>
    public const string OperatorKeyHeader = OperatorKey.Header;

    private const string ApiKeyPrefix = "rfk_";
    private const int ApiKeyIdBytes = 12;
    private const int SecretBytes = 32;

    private readonly SignInTokens _tokens;
    private readonly IFarmStore _store;
    private readonly TimeProvider _time;
    private readonly string _operatorKey;

    public ClientAuthenticator(SignInTokens tokens, IFarmStore store, TimeProvider time, IOptions<CoordinatorOptions> options)
    {
        _tokens = tokens;
        _store = store;
        _time = time;
        _operatorKey = options.Value.OperatorKey;
    }

    public ChallengeResponse CreateChallenge(ChallengeRequest request) => _tokens.CreateChallenge(SignInRole.Client, request);

    public async Task<LoginResponse> LoginAsync(LoginRequest request, CancellationToken cancellationToken)
    {
        SignedChallenge signed = _tokens.Verify(SignInRole.Client, request);
        await _tokens.ConsumeAsync(signed, cancellationToken);
        return _tokens.IssueToken(SignInRole.Client, signed.Address);
    }

    /// <summary>Who sent <paramref name="request"/>.</summary>
    /// <exception cref="CoordinatorException">401: no credential, or one that does not hold.</exception>
    public async Task<ClientIdentity> AuthenticateAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.Headers.TryGetValue(OperatorKeyHeader, out var operatorKey))
        {
            if (!OperatorKey.Matches(operatorKey.ToString(), _operatorKey))
            {
                throw new CoordinatorException(401, $"The {OperatorKeyHeader} header does not hold this coordinator's operator key.");
            }

            return ClientIdentity.Operator;
        }

        string authorization = request.Headers.Authorization.ToString();
        int space = authorization.IndexOf(' ', StringComparison.Ordinal);
        string scheme = space < 0 ? authorization : authorization[..space];
        string credential = space < 0 ? "" : authorization[(space + 1)..].Trim();
        if (credential.Length == 0 || !(scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || scheme.Equals("ApiKey", StringComparison.OrdinalIgnoreCase)))
        {
            throw new CoordinatorException(
                401,
                "Sign in first: send 'Authorization: Bearer TOKEN' (from POST /api/clients/challenge and /api/clients/login) or 'Authorization: ApiKey KEY'.");
        }

        if (scheme.Equals("ApiKey", StringComparison.OrdinalIgnoreCase) || credential.StartsWith(ApiKeyPrefix, StringComparison.Ordinal))
        {
            return new ClientIdentity(await ResolveApiKeyAsync(credential, cancellationToken), ClientCredential.ApiKey);
        }

        return new ClientIdentity(_tokens.Authenticate(SignInRole.Client, credential), ClientCredential.Token);
    }

    /// <summary>
    /// Issues an API key for <paramref name="account"/> (the caller's own when null). The operator may issue one for any
    /// account; an account signed in with its key, for itself only. A key cannot issue keys, so a leaked one cannot
    /// outlive its revocation through others.
    /// </summary>
    public async Task<ApiKeyIssued> IssueApiKeyAsync(ClientIdentity caller, string? account, CancellationToken cancellationToken)
    {
        string owner;
        if (caller.IsOperator)
        {
            owner = account is null
                ? throw new CoordinatorException(400, "Name the account the key is for: {\"account\": \"0x...\"}.")
                : SignInTokens.NormalizeAddress(account);
        }
        else if (caller.Credential != ClientCredential.Token)
        {
            throw new CoordinatorException(403, "API keys are issued to an account signed in with its Ethereum key, or by the operator; an API key cannot issue another.");
        }
        else
        {
            owner = caller.RequireAccount();
            if (account is not null && SignInTokens.NormalizeAddress(account) != owner)
            {
                throw new CoordinatorException(403, $"An account issues API keys for itself ({owner}) only.");
            }
        }

        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(ApiKeyIdBytes));
        string key = $"{ApiKeyPrefix}{id}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretBytes))}";
        DateTimeOffset now = _time.GetUtcNow();
        await _store.CreateApiKeyAsync(new ApiKeyRecord { Id = id, Account = owner, Sha256 = Hash(key), CreatedAt = now }, cancellationToken);
        return new ApiKeyIssued(id, key, owner, now);
    }

    /// <summary>Revokes an API key of the caller's account (any account's, for the operator).</summary>
    /// <exception cref="CoordinatorException">404: no such key of the caller's; 409: revoked already.</exception>
    public async Task RevokeApiKeyAsync(ClientIdentity caller, string id, CancellationToken cancellationToken)
    {
        ApiKeyRecord? key = await _store.GetApiKeyAsync(id, cancellationToken);
        if (key is null || !caller.MayAccess(key.Account))
        {
            throw new CoordinatorException(404, $"No API key {id}.");
        }

        if (!await _store.TryRevokeApiKeyAsync(id, _time.GetUtcNow(), cancellationToken))
        {
            throw new CoordinatorException(409, $"API key {id} was revoked already.");
        }
    }

    private async Task<string> ResolveApiKeyAsync(string key, CancellationToken cancellationToken)
    {
        // rfk_ + 24 hex digits + _ + 64 hex digits; anything else is not worth a store lookup.
        string[] parts = key.Split('_');
        if (parts.Length != 3 || parts[0] + "_" != ApiKeyPrefix || parts[1].Length != ApiKeyIdBytes * 2 || parts[2].Length != SecretBytes * 2
            || !parts[1].All(char.IsAsciiHexDigitLower) || !parts[2].All(char.IsAsciiHexDigitLower))
        {
            throw new CoordinatorException(401, "The API key is not valid.");
        }

        ApiKeyRecord? record = await _store.GetApiKeyAsync(parts[1], cancellationToken);
        if (record is null || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(key)), Encoding.ASCII.GetBytes(record.Sha256)))
        {
            throw new CoordinatorException(401, "The API key is not valid.");
        }

        if (record.RevokedAt is not null)
        {
            throw new CoordinatorException(401, "The API key was revoked.");
        }

        return record.Account;
    }

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
