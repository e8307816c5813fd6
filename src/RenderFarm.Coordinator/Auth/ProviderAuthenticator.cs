using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Nethereum.Signer;
using Nethereum.Util;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Coordinator.Auth;

/// <summary>
/// Provider identity: a challenge (address, nonce, expiry, HMAC — so the coordinator stores nothing
/// until login), an EIP-191 signature over it checked with Nethereum, a nonce consumed once, and an
/// HMAC-signed bearer token <c>base64url(address|expiry).base64url(mac)</c>.
/// </summary>
internal sealed class ProviderAuthenticator
{
    private const string ChallengeHeader = "Sign in to the RenderFarm coordinator as a provider.";

    private static readonly System.Buffers.SearchValues<char> s_hexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private readonly byte[] _challengeKey;
    private readonly byte[] _tokenKey;
    private readonly IFarmStore _store;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly ILedger? _ledger;

    public ProviderAuthenticator(IFarmStore store, TimeProvider time, IOptions<CoordinatorOptions> options, ILedger? ledger = null)
    {
        _store = store;
        _ledger = ledger;
        _time = time;
        _options = options.Value;
        byte[] secret = _options.TokenSigningKey.Length > 0
            ? Encoding.UTF8.GetBytes(_options.TokenSigningKey)
            : RandomNumberGenerator.GetBytes(32);

        // One key per purpose, so a challenge's MAC can never pass as a token's.
        _challengeKey = HMACSHA256.HashData(secret, "renderfarm challenge"u8);
        _tokenKey = HMACSHA256.HashData(secret, "renderfarm token"u8);
    }

    public ChallengeResponse CreateChallenge(ChallengeRequest request)
    {
        string address = NormalizeAddress(request.Address);
        DateTimeOffset expires = TruncateToSeconds(_time.GetUtcNow() + _options.ChallengeLifetime);
        string body = string.Create(
            CultureInfo.InvariantCulture,
            $"{ChallengeHeader}\nAddress: {address}\nNonce: {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}\nExpires: {expires:yyyy-MM-ddTHH:mm:ssZ}");
        return new ChallengeResponse($"{body}\nCheck: {Mac(_challengeKey, body)}", expires);
    }

    // A farm that asks providers to stake lets in only those whose stake could answer for a cheat.
    private async Task EnsureStakeAsync(string address, CancellationToken cancellationToken)
    {
        if (_ledger is null || _options.MinimumStakeTokens <= 0)
        {
            return;
        }

        BigInteger stake;
        try
        {
            stake = await _ledger.GetStakeAsync(address, cancellationToken);
        }
        catch (LedgerException exception)
        {
            throw new CoordinatorException(503, $"The ledger cannot be read now, so the provider's stake cannot be checked; try again later. {exception.Message}");
        }

        BigInteger minimum = TokenUnits.FromTokens(_options.MinimumStakeTokens);
        if (stake < minimum)
        {
            throw new CoordinatorException(
                403,
                $"Provider {address} stakes {TokenUnits.Format(stake)}; this farm asks providers to stake at least {TokenUnits.Format(minimum)} (renderfarm stake).");
        }
    }

    public async Task<LoginResponse> LoginAsync(LoginRequest request, CancellationToken cancellationToken)
    {
        string address = NormalizeAddress(request.Address);
        (string nonce, DateTimeOffset expires) = ParseChallenge(request.Challenge, address);
        DateTimeOffset now = _time.GetUtcNow();
        if (now > expires)
        {
            throw new CoordinatorException(401, "The challenge has expired; ask for a new one.");
        }

        string signer;
        try
        {
            signer = new EthereumMessageSigner().EncodeUTF8AndEcRecover(request.Challenge, request.Signature);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            throw new CoordinatorException(401, "The signature is not a valid 65-byte EIP-191 signature.");
        }

        if (!string.Equals(signer, address, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(401, "The signature was not made by the address's key.");
        }

        await EnsureStakeAsync(address, cancellationToken);

        // Consumed only after the signature checks out, so nobody else can burn a provider's nonce.
        if (!await _store.TryConsumeOnceAsync($"challenge:{nonce}", expires, cancellationToken))
        {
            throw new CoordinatorException(401, "The challenge was already used; ask for a new one.");
        }

        ProviderRecord? known = await _store.GetProviderAsync(address, cancellationToken);
        string? device = request.Device is { Length: > 0 } d ? d[..Math.Min(d.Length, 200)] : known?.Device;
        await _store.UpsertProviderAsync(
            new ProviderRecord { Address = address, RegisteredAt = known?.RegisteredAt ?? now, LastSeenAt = now, Device = device },
            cancellationToken);

        DateTimeOffset tokenExpires = TruncateToSeconds(now + _options.TokenLifetime);
        string payload = string.Create(CultureInfo.InvariantCulture, $"{address}|{tokenExpires.ToUnixTimeSeconds()}");
        string encoded = Base64Url(Encoding.UTF8.GetBytes(payload));
        return new LoginResponse($"{encoded}.{Base64Url(HMACSHA256.HashData(_tokenKey, Encoding.ASCII.GetBytes(encoded)))}", tokenExpires);
    }

    /// <summary>The provider address a bearer token stands for.</summary>
    /// <exception cref="CoordinatorException">401: the token is missing, forged or expired.</exception>
    public string Authenticate(string? authorization)
    {
        const string Scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(401, "A provider token is required: send 'Authorization: Bearer TOKEN' from /api/providers/login.");
        }

        string[] parts = authorization[Scheme.Length..].Trim().Split('.');
        byte[] expected = HMACSHA256.HashData(_tokenKey, Encoding.ASCII.GetBytes(parts[0]));
        if (parts.Length != 2 || !TryFromBase64Url(parts[1], out byte[]? mac) || !CryptographicOperations.FixedTimeEquals(mac, expected)
            || !TryFromBase64Url(parts[0], out byte[]? payloadBytes))
        {
            throw new CoordinatorException(401, "The provider token is not valid.");
        }

        string[] payload = Encoding.UTF8.GetString(payloadBytes).Split('|');
        if (payload.Length != 2 || !long.TryParse(payload[1], NumberStyles.None, CultureInfo.InvariantCulture, out long expires))
        {
            throw new CoordinatorException(401, "The provider token is not valid.");
        }

        if (_time.GetUtcNow().ToUnixTimeSeconds() >= expires)
        {
            throw new CoordinatorException(401, "The provider token has expired; log in again.");
        }

        return payload[0];
    }

    private (string Nonce, DateTimeOffset Expires) ParseChallenge(string challenge, string address)
    {
        int check = challenge.LastIndexOf("\nCheck: ", StringComparison.Ordinal);
        string[] lines = check < 0 ? [] : challenge[..check].Split('\n');
        if (lines.Length != 4 || lines[0] != ChallengeHeader
            || !CryptographicOperations.FixedTimeEquals(
                Encoding.ASCII.GetBytes(challenge[(check + "\nCheck: ".Length)..]),
                Encoding.ASCII.GetBytes(Mac(_challengeKey, challenge[..check]))))
        {
            throw new CoordinatorException(401, "The challenge was not issued by this coordinator or was altered.");
        }

        if (!string.Equals(lines[1], $"Address: {address}", StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(401, "The challenge was issued for another address.");
        }

        DateTimeOffset expires = DateTimeOffset.ParseExact(lines[3]["Expires: ".Length..], "yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        return (lines[2]["Nonce: ".Length..], expires);
    }

    private static string NormalizeAddress(string address)
    {
        if (address is not { Length: 42 } || !address.StartsWith("0x", StringComparison.Ordinal) || address.AsSpan(2).ContainsAnyExcept(s_hexDigits))
        {
            throw new CoordinatorException(400, $"'{address}' is not an Ethereum address (0x and 40 hex digits).");
        }

        return AddressUtil.Current.ConvertToChecksumAddress(address);
    }

    private static string Mac(byte[] key, string text) => Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(text)));

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset value) => DateTimeOffset.FromUnixTimeSeconds(value.ToUnixTimeSeconds());

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryFromBase64Url(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? bytes)
    {
        string padded = text.Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - (padded.Length % 4)) % 4);
        bytes = new byte[padded.Length];
        if (Convert.TryFromBase64String(padded, bytes, out int written))
        {
            bytes = bytes[..written];
            return true;
        }

        bytes = null;
        return false;
    }
}
