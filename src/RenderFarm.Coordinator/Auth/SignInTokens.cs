using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Nethereum.Signer;
using Nethereum.Util;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Auth;

/// <summary>Who a sign-in is for: a provider's token opens the lease API, a client's the job API, never the other.</summary>
internal enum SignInRole
{
    /// <summary>A provider worker.</summary>
    Provider,

    /// <summary>A client: an artist or an inference user.</summary>
    Client,
}

/// <summary>
/// Ethereum sign-in shared by providers and clients: a challenge (role, address, nonce, expiry, HMAC — so the
/// coordinator stores nothing until login), an EIP-191 signature over it checked with Nethereum, a nonce consumed
/// once, and an HMAC-signed bearer token <c>base64url(address|expiry|role).base64url(mac)</c>.
/// </summary>
internal sealed class SignInTokens
{
    private static readonly System.Buffers.SearchValues<char> s_hexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private readonly byte[] _challengeKey;
    private readonly byte[] _tokenKey;
    private readonly IFarmStore _store;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;

    public SignInTokens(IFarmStore store, TimeProvider time, IOptions<CoordinatorOptions> options)
    {
        _store = store;
        _time = time;
        _options = options.Value;
        byte[] secret = _options.TokenSigningKey.Length > 0
            ? Encoding.UTF8.GetBytes(_options.TokenSigningKey)
            : RandomNumberGenerator.GetBytes(32);

        // One key per purpose, so a challenge's MAC can never pass as a token's.
        _challengeKey = HMACSHA256.HashData(secret, "renderfarm challenge"u8);
        _tokenKey = HMACSHA256.HashData(secret, "renderfarm token"u8);
    }

    public ChallengeResponse CreateChallenge(SignInRole role, ChallengeRequest request)
    {
        string address = NormalizeAddress(request.Address);
        DateTimeOffset expires = TruncateToSeconds(_time.GetUtcNow() + _options.ChallengeLifetime);
        string body = string.Create(
            CultureInfo.InvariantCulture,
            $"{Header(role)}\nAddress: {address}\nNonce: {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}\nExpires: {expires:yyyy-MM-ddTHH:mm:ssZ}");
        return new ChallengeResponse($"{body}\nCheck: {Mac(_challengeKey, body)}", expires);
    }

    /// <summary>Checks a signed challenge and returns the address that signed it; the challenge is not consumed yet.</summary>
    /// <exception cref="CoordinatorException">401: the challenge or signature does not hold.</exception>
    public SignedChallenge Verify(SignInRole role, LoginRequest request)
    {
        string address = NormalizeAddress(request.Address);
        (string nonce, DateTimeOffset expires) = ParseChallenge(role, request.Challenge, address);
        if (_time.GetUtcNow() > expires)
        {
            throw new CoordinatorException(401, "The challenge has expired; ask for a new one.");
        }

        string signer = RecoverSigner(request.Challenge, request.Signature);
        if (!string.Equals(signer, address, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(401, "The signature was not made by the address's key.");
        }

        return new SignedChallenge(address, nonce, expires);
    }

    /// <summary>
    /// Uses up a verified challenge. Called only after the signature checks out, so nobody else can burn a nonce.
    /// </summary>
    /// <exception cref="CoordinatorException">401: it was used before.</exception>
    public async Task ConsumeAsync(SignedChallenge challenge, CancellationToken cancellationToken)
    {
        if (!await _store.TryConsumeOnceAsync($"challenge:{challenge.Nonce}", challenge.Expires, cancellationToken))
        {
            throw new CoordinatorException(401, "The challenge was already used; ask for a new one.");
        }
    }

    public LoginResponse IssueToken(SignInRole role, string address)
    {
        DateTimeOffset expires = TruncateToSeconds(_time.GetUtcNow() + _options.TokenLifetime);
        string payload = string.Create(CultureInfo.InvariantCulture, $"{address}|{expires.ToUnixTimeSeconds()}|{RoleName(role)}");
        string encoded = Base64Url(Encoding.UTF8.GetBytes(payload));
        return new LoginResponse($"{encoded}.{Base64Url(HMACSHA256.HashData(_tokenKey, Encoding.ASCII.GetBytes(encoded)))}", expires);
    }

    /// <summary>The address a bearer token of <paramref name="role"/> stands for.</summary>
    /// <exception cref="CoordinatorException">401: the token is forged, of another role, expired, or runs past the server's lifetime.</exception>
    public string Authenticate(SignInRole role, string token)
    {
        string who = role == SignInRole.Provider ? "provider" : "client";
        string[] parts = token.Trim().Split('.');
        if (parts.Length != 2 || !TryFromBase64Url(parts[1], out byte[]? mac)
            || !CryptographicOperations.FixedTimeEquals(mac, HMACSHA256.HashData(_tokenKey, Encoding.ASCII.GetBytes(parts[0])))
            || !TryFromBase64Url(parts[0], out byte[]? payloadBytes))
        {
            throw new CoordinatorException(401, $"The {who} token is not valid.");
        }

        string[] payload = Encoding.UTF8.GetString(payloadBytes).Split('|');
        if (payload.Length != 3 || payload[2] != RoleName(role)
            || !long.TryParse(payload[1], NumberStyles.None, CultureInfo.InvariantCulture, out long expires))
        {
            throw new CoordinatorException(401, $"The {who} token is not valid.");
        }

        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (now >= expires)
        {
            throw new CoordinatorException(401, $"The {who} token has expired; log in again.");
        }

        // The server decides how long a token lives: one that claims more (made with a leaked or placeholder key) is
        // refused rather than honoured for as long as its maker chose.
        if (expires - now > (long)Math.Ceiling(_options.TokenLifetime.TotalSeconds))
        {
            throw new CoordinatorException(401, $"The {who} token claims to last longer than this coordinator issues tokens for; log in again.");
        }

        return payload[0];
    }

    /// <summary>The checksummed form of an Ethereum address.</summary>
    /// <exception cref="CoordinatorException">400: it is not one.</exception>
    public static string NormalizeAddress(string? address)
    {
        if (address is not { Length: 42 } || !address.StartsWith("0x", StringComparison.Ordinal) || address.AsSpan(2).ContainsAnyExcept(s_hexDigits))
        {
            throw new CoordinatorException(400, $"'{address}' is not an Ethereum address (0x and 40 hex digits).");
        }

        return AddressUtil.Current.ConvertToChecksumAddress(address);
    }

    private static string RecoverSigner(string challenge, string? signature)
    {
        // Checked here: Nethereum recovers with whatever the last byte holds, and answers a bad one with a bare
        // System.Exception ("Header byte out of range", v 35 and up) or a NullReferenceException (v 29) — both 500s,
        // and too broad to catch.
        const string Invalid = "The signature is not a valid 65-byte EIP-191 signature (0x and 130 hex digits, v 27 or 28).";
        if (signature is not { Length: 132 } || !signature.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            || signature.AsSpan(2).ContainsAnyExcept(s_hexDigits))
        {
            throw new CoordinatorException(401, Invalid);
        }

        byte v = Convert.ToByte(signature[130..], 16);
        if (v is not (0 or 1 or 27 or 28))
        {
            throw new CoordinatorException(401, Invalid);
        }

        try
        {
            return new EthereumMessageSigner().EncodeUTF8AndEcRecover(challenge, signature);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or ArithmeticException)
        {
            // r or s out of the curve's range.
            throw new CoordinatorException(401, Invalid);
        }
    }

    private (string Nonce, DateTimeOffset Expires) ParseChallenge(SignInRole role, string? challenge, string address)
    {
        int check = challenge?.LastIndexOf("\nCheck: ", StringComparison.Ordinal) ?? -1;
        string[] lines = check < 0 ? [] : challenge![..check].Split('\n');
        if (lines.Length != 4 || lines[0] != Header(role)
            || !CryptographicOperations.FixedTimeEquals(
                Encoding.ASCII.GetBytes(challenge![(check + "\nCheck: ".Length)..]),
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

    private static string Header(SignInRole role) => role == SignInRole.Provider
        ? "Sign in to the RenderFarm coordinator as a provider."
        : "Sign in to the RenderFarm coordinator as a client.";

    private static string RoleName(SignInRole role) => role == SignInRole.Provider ? "provider" : "client";

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

/// <summary>A challenge whose signature checked out.</summary>
/// <param name="Address">The checksummed address that signed it.</param>
/// <param name="Nonce">Its single-use nonce.</param>
/// <param name="Expires">When it stops being accepted.</param>
internal sealed record SignedChallenge(string Address, string Nonce, DateTimeOffset Expires);
