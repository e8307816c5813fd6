using System.Net;
using System.Net.Http.Json;
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
}
