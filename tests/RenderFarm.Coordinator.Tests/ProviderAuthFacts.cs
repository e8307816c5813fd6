using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Nethereum.Signer;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

[Trait("Category", "Integration")]
public sealed class ProviderAuthFacts
{
    [Fact]
    public async Task A_signature_by_another_key_is_refused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var provider = new TestProvider(farm, EthECKey.GenerateKey());
        ChallengeResponse challenge = await provider.ChallengeAsync();
        using HttpResponseMessage response = await provider.PostLoginAsync(challenge.Challenge, provider.Sign(challenge.Challenge, EthECKey.GenerateKey()));
        await TestFarm.ExpectProblemAsync(response, HttpStatusCode.Unauthorized);

        // The failed attempt did not burn the challenge.
        using HttpResponseMessage honest = await provider.PostLoginAsync(challenge.Challenge, provider.Sign(challenge.Challenge));
        await TestFarm.ExpectAsync(honest, HttpStatusCode.OK);
    }

    [Fact]
    public async Task Garbage_signatures_and_altered_challenges_are_refused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var provider = new TestProvider(farm, EthECKey.GenerateKey());
        ChallengeResponse challenge = await provider.ChallengeAsync();
        using HttpResponseMessage garbage = await provider.PostLoginAsync(challenge.Challenge, "0x1234");
        await TestFarm.ExpectProblemAsync(garbage, HttpStatusCode.Unauthorized);

        string altered = challenge.Challenge.Replace("Nonce: ", "Nonce: 0", StringComparison.Ordinal);
        using HttpResponseMessage forged = await provider.PostLoginAsync(altered, provider.Sign(altered));
        await TestFarm.ExpectProblemAsync(forged, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_replayed_login_is_refused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var provider = new TestProvider(farm, EthECKey.GenerateKey());
        ChallengeResponse challenge = await provider.ChallengeAsync();
        string signature = provider.Sign(challenge.Challenge);
        using HttpResponseMessage first = await provider.PostLoginAsync(challenge.Challenge, signature);
        await TestFarm.ExpectAsync(first, HttpStatusCode.OK);
        using HttpResponseMessage replay = await provider.PostLoginAsync(challenge.Challenge, signature);
        string detail = await TestFarm.ExpectProblemAsync(replay, HttpStatusCode.Unauthorized);
        Assert.Contains("already used", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_challenge_is_refused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var provider = new TestProvider(farm, EthECKey.GenerateKey());
        ChallengeResponse challenge = await provider.ChallengeAsync();
        farm.Time.Advance(TimeSpan.FromMinutes(6));
        using HttpResponseMessage response = await provider.PostLoginAsync(challenge.Challenge, provider.Sign(challenge.Challenge));
        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("expired", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_address_is_400()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync("api/providers/challenge", new ChallengeRequest("0x12zz"));
        await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Lease_calls_need_a_valid_unexpired_token()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        TestProvider provider = await farm.LoginAsync();
        using (HttpResponseMessage none = await farm.Client.PostAsJsonAsync("api/leases", new LeaseRequest(["render"], 0)))
        {
            await TestFarm.ExpectProblemAsync(none, HttpStatusCode.Unauthorized);
        }

        using (HttpResponseMessage forged = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 0), token: "eyJhIjoxfQ.AAAA"))
        {
            await TestFarm.ExpectProblemAsync(forged, HttpStatusCode.Unauthorized);
        }

        using (HttpResponseMessage valid = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 0)))
        {
            Assert.Equal(HttpStatusCode.NoContent, valid.StatusCode);
        }

        farm.Time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        using HttpResponseMessage expired = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 0));
        string detail = await TestFarm.ExpectProblemAsync(expired, HttpStatusCode.Unauthorized);
        Assert.Contains("expired", detail, StringComparison.Ordinal);
    }

    // Guards the 500 a signature with a recovery byte other than 27/28 (or 0/1) caused: it is a bad signature, 401.
    [Theory]
    [InlineData("1d")]
    [InlineData("1f")]
    [InlineData("25")]
    [InlineData("7f")]
    [InlineData("ff")]
    public async Task A_signature_with_a_bad_v_byte_is_401(string v)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var provider = new TestProvider(farm, EthECKey.GenerateKey());
        ChallengeResponse challenge = await provider.ChallengeAsync();
        string signature = provider.Sign(challenge.Challenge);
        using HttpResponseMessage response = await provider.PostLoginAsync(challenge.Challenge, signature[..^2] + v);
        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("signature", detail, StringComparison.Ordinal);

        using HttpResponseMessage honest = await provider.PostLoginAsync(challenge.Challenge, signature);
        await TestFarm.ExpectAsync(honest, HttpStatusCode.OK);
    }

    // Guards the token lifetime: a token made with the signing key (a leaked or placeholder one) that claims to last
    // longer than the coordinator issues tokens for is refused, instead of being honoured for as long as its maker chose.
    [Fact]
    public async Task A_token_whose_expiry_lies_beyond_the_servers_lifetime_is_refused()
    {
        const string SigningKey = "a-signing-key-that-the-attacker-has-learnt-0123456789";
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:TokenSigningKey"] = SigningKey });
        TestProvider provider = await farm.LoginAsync();
        long now = farm.Time.GetUtcNow().ToUnixTimeSeconds();

        // Made the way the coordinator makes them, so the refusal below is about the expiry alone.
        using (HttpResponseMessage withinLifetime = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 0), ForgeToken(SigningKey, provider.Address, now + 3600)))
        {
            Assert.Equal(HttpStatusCode.NoContent, withinLifetime.StatusCode);
        }

        using HttpResponseMessage forever = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 0), ForgeToken(SigningKey, provider.Address, now + (10L * 365 * 86400)));
        string detail = await TestFarm.ExpectProblemAsync(forever, HttpStatusCode.Unauthorized);
        Assert.Contains("longer", detail, StringComparison.Ordinal);
    }

    private static string ForgeToken(string signingKey, string address, long expires)
    {
        byte[] tokenKey = HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), "renderfarm token"u8);
        string payload = Base64Url(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{address}|{expires}|provider")));
        return $"{payload}.{Base64Url(HMACSHA256.HashData(tokenKey, Encoding.ASCII.GetBytes(payload)))}";
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
