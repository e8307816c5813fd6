using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Tests;

[Trait("Category", "Integration")]
public sealed class ClientApiFacts
{
    [Fact]
    public async Task Malformed_json_is_400_with_the_parser_reason()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        using var content = new StringContent("{\"sceneSha256\": ", Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await farm.Client.PostAsync("api/jobs", content);
        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.StartsWith("Invalid JSON", detail, StringComparison.Ordinal);
        Assert.Empty(await farm.ListJobsAsync());
    }

    [Fact]
    public async Task Unknown_fields_are_refused()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded scene = await farm.UploadSceneAsync();
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync("api/jobs", new { sceneSha256 = scene.Sha256, frames = "1", sampels = 4 });
        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("sampels", detail, StringComparison.Ordinal);
        Assert.Empty(await farm.ListJobsAsync());
    }

    [Theory]
    [InlineData("-5", null, null)]
    [InlineData("0-3", null, null)]
    [InlineData("5-1", null, null)]
    [InlineData("1-200000", null, null)]
    [InlineData("one", null, null)]
    [InlineData("1-20000", null, null)]
    [InlineData("1", "0x10", null)]
    [InlineData("1", "640", null)]
    [InlineData("1", "99999x10", null)]
    [InlineData("1", null, 0)]
    [InlineData("1", null, 1001)]
    public async Task Bad_submissions_are_400_and_create_nothing(string frames, string? size, int? chunkSize)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded scene = await farm.UploadSceneAsync();
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, frames, chunkSize, size), TestFarm.Json);
        await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Empty(await farm.ListJobsAsync());
    }

    [Fact]
    public async Task Unknown_scene_is_404()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(new string('a', 64), "1"), TestFarm.Json);
        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("upload it", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_scene_is_413_while_streaming()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:MaxSceneBytes"] = "4096" });

        // Chunked, so the limit is found while streaming rather than from Content-Length.
        using var content = new StreamContent(new MemoryStream(TestFarm.SceneBytes));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/scenes?name=big.glb") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using HttpResponseMessage response = await farm.Client.SendAsync(request);
        await TestFarm.ExpectProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Theory]
    [InlineData("scene.glb", "not a scene at all")]
    [InlineData("scene.gltf", "{\"nothing\": 1}")]
    [InlineData("scene.obj", "v 0 0 0")]
    public async Task Scenes_that_are_not_gltf_are_400(string name, string body)
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        using HttpResponseMessage response = await farm.Client.PostAsync($"api/scenes?name={name}", content);
        await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Uploading_the_same_scene_again_is_idempotent()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded first = await farm.UploadSceneAsync();
        SceneUploaded second = await farm.UploadSceneAsync();
        Assert.Equal(first, second);
        Assert.Equal(TestFarm.Sha256(TestFarm.SceneBytes), first.Sha256);
    }

    [Fact]
    public async Task Health_openapi_and_dashboard_answer()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await farm.Client.GetAsync("health")).StatusCode);
        string openApi = await farm.Client.GetStringAsync("openapi/v1.json");
        Assert.Contains("/api/leases", openApi, StringComparison.Ordinal);
        Assert.Contains("/api/jobs/{id}/frames.zip", openApi, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await farm.Client.GetAsync("hangfire")).StatusCode);
    }

    [Fact]
    public async Task Dashboard_needs_the_operator_key_outside_development()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:OperatorKey"] = "operator-key-of-the-dashboard-test" }, environment: "Production");
        using HttpResponseMessage refused = await farm.Client.GetAsync("hangfire");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "hangfire");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ops:operator-key-of-the-dashboard-test")));
        using HttpResponseMessage allowed = await farm.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Fact]
    public async Task Happy_path_renders_completes_and_downloads()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1-3", chunkSize: 2);
        Assert.Equal(2, job.TasksTotal);
        TestProvider provider = await farm.LoginAsync();

        for (int i = 0; i < 2; i++)
        {
            LeaseGrant grant = await provider.LeaseRequiredAsync();
            Assert.Equal(job.Id, grant.JobId);
            Assert.Equal(TestFarm.Sha256(TestFarm.SceneBytes), grant.Scene.Sha256);
            using (HttpResponseMessage scene = await farm.Client.GetAsync(grant.Scene.Url))
            {
                Assert.Equal(TestFarm.SceneBytes, await scene.Content.ReadAsByteArrayAsync());
            }

            using HttpResponseMessage completed = await provider.CompleteAsync(grant.LeaseId, await provider.UploadFramesAsync(grant));
            await TestFarm.ExpectAsync(completed, HttpStatusCode.OK);
        }

        JobDetails details = await farm.GetJobAsync(job.Id);
        Assert.Equal(Core.Farm.JobState.Completed, details.Job.State);
        Assert.Equal(2, details.Job.TasksDone);
        Assert.All(details.Tasks, t => Assert.Equal(provider.Address, t.Provider));

        FrameLink link = details.Tasks.SelectMany(t => t.Frames).Single(f => f.Frame == 2);
        Assert.Equal(TestFarm.FakePng(2), await farm.Client.GetByteArrayAsync(link.Url));

        using var zip = new ZipArchive(new MemoryStream(await farm.Client.GetByteArrayAsync($"api/jobs/{job.Id}/frames.zip")));
        Assert.Equal(["000001.png", "000002.png", "000003.png"], zip.Entries.Select(e => e.FullName).Order());
        await using Stream entry = await zip.GetEntry("000003.png")!.OpenAsync();
        using var copy = new MemoryStream();
        await entry.CopyToAsync(copy);
        Assert.Equal(TestFarm.FakePng(3), copy.ToArray());
    }

    [Fact]
    public async Task Cancel_stops_queued_tasks_and_refuses_leased_ones()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JobSummary job = await farm.SubmitAsync("1-2");
        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        CompleteRequest report = await provider.UploadFramesAsync(grant);

        using HttpResponseMessage cancel = await farm.Client.PostAsync($"api/jobs/{job.Id}/cancel", null);
        await TestFarm.ExpectAsync(cancel, HttpStatusCode.OK);
        Assert.Null(await provider.LeaseAsync(waitSeconds: 1));
        using HttpResponseMessage completed = await provider.CompleteAsync(grant.LeaseId, report);
        await TestFarm.ExpectProblemAsync(completed, HttpStatusCode.Conflict);

        JobDetails details = await farm.GetJobAsync(job.Id);
        Assert.Equal(Core.Farm.JobState.Cancelled, details.Job.State);
        Assert.All(details.Tasks, t => Assert.Equal(Core.Farm.FarmTaskState.Cancelled, t.State));
        using HttpResponseMessage again = await farm.Client.PostAsync($"api/jobs/{job.Id}/cancel", null);
        await TestFarm.ExpectProblemAsync(again, HttpStatusCode.Conflict);
    }
}
