using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Nethereum.Signer;
using RenderFarm.Client;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Inference.IO;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// Client accounts: every client call is signed in; jobs, frames, scenes, models and inputs belong to the account that
/// made them and answer 404 to any other; the operator sees all; API keys act for an account until revoked. Each fact
/// guards what was open to anyone before accounts existed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ClientAuthFacts
{
    [Fact]
    public async Task Anonymous_client_calls_are_401_with_a_problem_body()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");

        string[] gets = ["api/jobs", $"api/jobs/{job.Id}", $"api/jobs/{job.Id}/frames/1", $"api/jobs/{job.Id}/frames.zip", $"api/jobs/{job.Id}/outputs/1"];
        foreach (string path in gets)
        {
            using HttpResponseMessage response = await farm.Anonymous.GetAsync(path);
            string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Contains("Sign in", detail, StringComparison.Ordinal);
        }

        using (HttpResponseMessage cancel = await farm.Anonymous.PostAsync($"api/jobs/{job.Id}/cancel", null))
        {
            await TestFarm.ExpectProblemAsync(cancel, HttpStatusCode.Unauthorized);
        }

        // Refused before the body is read or bound: malformed JSON and uploads alike.
        using (var malformed = new StringContent("{\"sceneSha256\": ", Encoding.UTF8, "application/json"))
        using (HttpResponseMessage submit = await farm.Anonymous.PostAsync("api/jobs", malformed))
        {
            await TestFarm.ExpectProblemAsync(submit, HttpStatusCode.Unauthorized);
        }

        using (HttpResponseMessage upload = await farm.PostUploadAsync("scenes", "stolen.glb", TestFarm.SceneBytes, farm.Anonymous))
        {
            await TestFarm.ExpectProblemAsync(upload, HttpStatusCode.Unauthorized);
        }

        // A provider's token is not a client's, nor a client's a provider's.
        TestProvider provider = await farm.LoginAsync();
        using (HttpResponseMessage asProvider = await provider.SendAsync(HttpMethod.Get, "api/jobs"))
        {
            await TestFarm.ExpectProblemAsync(asProvider, HttpStatusCode.Unauthorized);
        }

        string clientToken = await SignInAsync(farm, EthECKey.GenerateKey());
        using (HttpResponseMessage asClient = await provider.SendAsync(HttpMethod.Post, "api/leases", new LeaseRequest(["render"], 0), token: clientToken))
        {
            await TestFarm.ExpectProblemAsync(asClient, HttpStatusCode.Unauthorized);
        }

        Assert.NotEqual(JobState.Cancelled, (await farm.GetJobAsync(job.Id)).Job.State);
    }

    [Fact]
    public async Task Another_account_gets_404_for_a_jobs_details_frames_cancel_and_escrow()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        await TestFarm.ExpectAsync(await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant)), HttpStatusCode.OK);
        HttpClient other = farm.NewClient();

        foreach (string path in (string[])[$"api/jobs/{job.Id}", $"api/jobs/{job.Id}/frames/1", $"api/jobs/{job.Id}/frames.zip", $"api/jobs/{job.Id}/outputs/1"])
        {
            using HttpResponseMessage response = await other.GetAsync(path);
            Assert.Equal($"No job {job.Id}.", await TestFarm.ExpectProblemAsync(response, HttpStatusCode.NotFound));
        }

        foreach (string path in (string[])[$"api/jobs/{job.Id}/cancel", $"api/jobs/{job.Id}/escrow"])
        {
            using HttpResponseMessage response = await other.PostAsync(path, null);
            await TestFarm.ExpectProblemAsync(response, HttpStatusCode.NotFound);
        }

        // The owner still has it, untouched, and so does the operator.
        JobDetails mine = await farm.GetJobAsync(job.Id);
        Assert.Equal(JobState.Completed, mine.Job.State);
        Assert.Equal(TestFarm.FakePng(1), await farm.Client.GetByteArrayAsync($"api/jobs/{job.Id}/frames/1"));
        Assert.Equal(TestFarm.FakePng(1), await farm.Operator.GetByteArrayAsync($"api/jobs/{job.Id}/frames/1"));
    }

    [Fact]
    public async Task A_listing_shows_the_callers_jobs_and_the_operator_sees_every_accounts()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        HttpClient bob = farm.NewClient();
        JobSummary alices = await farm.SubmitAsync("1");
        JobSummary bobs = await farm.SubmitAsync("1-2", client: bob);

        Assert.Equal([alices.Id], (await farm.ListJobsAsync()).Select(j => j.Id));
        Assert.Equal([bobs.Id], (await farm.ListJobsAsync(bob)).Select(j => j.Id));
        Assert.Equal(new[] { alices.Id, bobs.Id }.Order(), (await farm.ListJobsAsync(farm.Operator)).Select(j => j.Id).Order());
        Assert.Equal(bobs.Id, (await farm.GetJobAsync(bobs.Id, farm.Operator)).Job.Id);

        // The operator may cancel any job, but owns nothing: it cannot upload or submit.
        await TestFarm.ExpectAsync(await farm.Operator.PostAsync($"api/jobs/{bobs.Id}/cancel", null), HttpStatusCode.OK);
        Assert.Equal(JobState.Cancelled, (await farm.GetJobAsync(bobs.Id, bob)).Job.State);
        using HttpResponseMessage upload = await farm.PostUploadAsync("scenes", "ops.glb", TestFarm.SceneBytes, farm.Operator);
        await TestFarm.ExpectProblemAsync(upload, HttpStatusCode.Forbidden);

        using var wrongKey = new HttpRequestMessage(HttpMethod.Get, "api/jobs");
        wrongKey.Headers.Add("X-Operator-Key", "not-the-key");
        using HttpResponseMessage refused = await farm.Anonymous.SendAsync(wrongKey);
        await TestFarm.ExpectProblemAsync(refused, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Scene_bytes_are_named_and_owned_per_account()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        HttpClient bob = farm.NewClient();
        SceneUploaded alices = await farm.UploadSceneAsync(name: "alice.glb");
        JobSummary before = await SubmitSceneAsync(farm.Client, alices.Sha256);
        Assert.Equal("alice.glb", before.SceneFileName);

        // The same bytes under another name by another account: stored once, named for each account apart.
        SceneUploaded bobs = await farm.UploadSceneAsync(name: "renamed-by-bob.glb", client: bob);
        Assert.Equal(alices.Sha256, bobs.Sha256);
        Assert.Equal("alice.glb", (await SubmitSceneAsync(farm.Client, alices.Sha256)).SceneFileName);
        Assert.Equal("alice.glb", (await farm.GetJobAsync(before.Id)).Job.SceneFileName);
        Assert.Equal("renamed-by-bob.glb", (await SubmitSceneAsync(bob, alices.Sha256)).SceneFileName);

        // An account that never uploaded the scene cannot render it by its hash.
        using HttpResponseMessage stranger = await farm.NewClient().PostAsJsonAsync("api/jobs", new SubmitJobRequest(alices.Sha256, "1", Size: "32x32"), TestFarm.Json);
        string detail = await TestFarm.ExpectProblemAsync(stranger, HttpStatusCode.NotFound);
        Assert.Contains("No scene", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_may_name_only_its_own_accounts_model_and_inputs()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        byte[] modelBytes = await File.ReadAllBytesAsync(RepositoryPaths.Combine("samples/edge-detect/edge-detect.onnx"));
        ModelUploaded model = await farm.UploadAsync<ModelUploaded>("models", "edge-detect.onnx", modelBytes);
        InputUploaded input = await farm.UploadAsync<InputUploaded>("inputs", "item.npy", NpyFile.Format(InferenceJobFacts.RandomImage(seed: 1)));
        HttpClient bob = farm.NewClient();

        using (HttpResponseMessage foreignModel = await bob.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, [input.Sha256])))
        {
            Assert.Contains("No model", await TestFarm.ExpectProblemAsync(foreignModel, HttpStatusCode.NotFound), StringComparison.Ordinal);
        }

        await farm.UploadAsync<ModelUploaded>("models", "bobs-copy.onnx", modelBytes, bob);
        using (HttpResponseMessage foreignInput = await bob.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, [input.Sha256])))
        {
            Assert.Contains("No input", await TestFarm.ExpectProblemAsync(foreignInput, HttpStatusCode.NotFound), StringComparison.Ordinal);
        }

        using HttpResponseMessage own = await farm.Client.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, [input.Sha256]));
        await TestFarm.ExpectAsync(own, HttpStatusCode.Created);
        Assert.Equal("edge-detect.onnx", (await own.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!.SceneFileName);
    }

    [Fact]
    public async Task An_api_key_acts_for_its_account_until_revoked_and_unknown_keys_are_refused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        using HttpResponseMessage issued = await farm.Client.PostAsJsonAsync("api/keys", new CreateApiKeyRequest());
        await TestFarm.ExpectAsync(issued, HttpStatusCode.Created);
        ApiKeyIssued key = (await issued.Content.ReadFromJsonAsync<ApiKeyIssued>(TestFarm.Json))!;
        Assert.Equal(farm.ClientAddress, key.Account);

        HttpClient script = farm.NewApiKeyClient(key.Key);
        Assert.Equal([job.Id], (await farm.ListJobsAsync(script)).Select(j => j.Id));
        using (var bearer = new HttpRequestMessage(HttpMethod.Get, $"api/jobs/{job.Id}"))
        {
            bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
            await TestFarm.ExpectAsync(await farm.Anonymous.SendAsync(bearer), HttpStatusCode.OK);
        }

        // A key cannot mint more keys, and another account cannot revoke it.
        using (HttpResponseMessage minted = await script.PostAsJsonAsync("api/keys", new CreateApiKeyRequest()))
        {
            await TestFarm.ExpectProblemAsync(minted, HttpStatusCode.Forbidden);
        }

        using (HttpResponseMessage foreign = await farm.NewClient().DeleteAsync($"api/keys/{key.Id}"))
        {
            await TestFarm.ExpectProblemAsync(foreign, HttpStatusCode.NotFound);
        }

        await TestFarm.ExpectAsync(await farm.Client.DeleteAsync($"api/keys/{key.Id}"), HttpStatusCode.NoContent);
        using (HttpResponseMessage revoked = await script.GetAsync("api/jobs"))
        {
            Assert.Contains("revoked", await TestFarm.ExpectProblemAsync(revoked, HttpStatusCode.Unauthorized), StringComparison.Ordinal);
        }

        // Well-formed but never issued, a known id with a wrong secret, and garbage.
        string unknown = $"rfk_{new string('a', 24)}_{new string('b', 64)}";
        string wrongSecret = key.Key[..^64] + new string('c', 64);
        foreach (string presented in (string[])[unknown, wrongSecret, "rfk_nope"])
        {
            using HttpResponseMessage response = await farm.NewApiKeyClient(presented).GetAsync("api/jobs");
            await TestFarm.ExpectProblemAsync(response, HttpStatusCode.Unauthorized);
        }
    }

    [Fact]
    public async Task The_operator_issues_keys_for_an_account()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");
        using (HttpResponseMessage nameless = await farm.Operator.PostAsJsonAsync("api/keys", new CreateApiKeyRequest()))
        {
            await TestFarm.ExpectProblemAsync(nameless, HttpStatusCode.BadRequest);
        }

        using HttpResponseMessage issued = await farm.Operator.PostAsJsonAsync("api/keys", new CreateApiKeyRequest(farm.ClientAddress.ToLowerInvariant()));
        await TestFarm.ExpectAsync(issued, HttpStatusCode.Created);
        ApiKeyIssued key = (await issued.Content.ReadFromJsonAsync<ApiKeyIssued>(TestFarm.Json))!;
        Assert.Equal(farm.ClientAddress, key.Account);
        Assert.Equal([job.Id], (await farm.ListJobsAsync(farm.NewApiKeyClient(key.Key))).Select(j => j.Id));

        // An account issues keys for itself only.
        using HttpResponseMessage forOther = await farm.NewClient().PostAsJsonAsync("api/keys", new CreateApiKeyRequest(farm.ClientAddress));
        await TestFarm.ExpectProblemAsync(forOther, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_client_whose_token_the_coordinator_no_longer_takes_signs_in_again()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1");

        // The client's clock stays behind: by its own reckoning the token it holds is still good.
        var clientClock = new FakeTimeProvider(farm.Time.GetUtcNow());
        var signIn = CoordinatorSignIn.WithKey(
            farm.Host.Address, farm.ClientAddress, message => new EthereumMessageSigner().EncodeUTF8AndSign(message, farm.ClientKey), clientClock);
        using var client = new HttpClient(signIn) { BaseAddress = farm.Host.Address };
        Assert.Equal([job.Id], (await farm.ListJobsAsync(client)).Select(j => j.Id));

        farm.Time.Advance(TimeSpan.FromHours(2));
        using (HttpResponseMessage stale = await client.GetAsync("api/jobs"))
        {
            Assert.Contains("expired", await TestFarm.ExpectProblemAsync(stale, HttpStatusCode.Unauthorized), StringComparison.Ordinal);
        }

        Assert.Equal([job.Id], (await farm.ListJobsAsync(client)).Select(j => j.Id));
    }

    private static async Task<JobSummary> SubmitSceneAsync(HttpClient client, string sha256)
    {
        using HttpResponseMessage response = await client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(sha256, "1", Size: "32x32"), TestFarm.Json);
        await TestFarm.ExpectAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
    }

    private static async Task<string> SignInAsync(TestFarm farm, EthECKey key)
    {
        string address = key.GetPublicAddress();
        using HttpResponseMessage challenged = await farm.Anonymous.PostAsJsonAsync("api/clients/challenge", new ChallengeRequest(address));
        ChallengeResponse challenge = (await challenged.Content.ReadFromJsonAsync<ChallengeResponse>(TestFarm.Json))!;
        string signature = new EthereumMessageSigner().EncodeUTF8AndSign(challenge.Challenge, key);
        using HttpResponseMessage login = await farm.Anonymous.PostAsJsonAsync("api/clients/login", new LoginRequest(address, challenge.Challenge, signature, null));
        await TestFarm.ExpectAsync(login, HttpStatusCode.OK);
        return (await login.Content.ReadFromJsonAsync<LoginResponse>(TestFarm.Json))!.Token;
    }
}
