using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// An upload answers with the scene's cameras and, one line each, what the renderer will not draw (before, points,
/// lines and unknown extensions were dropped without a word); a job may pick a camera by name, and a name the scene
/// lacks is refused at submission with the list of its cameras.
/// </summary>
public sealed class SceneReportAndCameraFacts
{
    private static readonly byte[] s_skinnedCylinder = File.ReadAllBytes(RepositoryPaths.Combine("samples/skinned-cylinder/skinned-cylinder.glb"));

    [Fact]
    public async Task An_upload_lists_what_is_not_drawn_one_line_each()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        JsonNode root = JsonNode.Parse(TestGltf.Triangle())!;
        root["extensionsUsed"] = new JsonArray("KHR_lights_punctual", "EXT_unknown_thing");
        root["meshes"]![0]!["primitives"]!.AsArray().Add(new JsonObject { ["attributes"] = new JsonObject { ["POSITION"] = 0 }, ["mode"] = 0 });

        SceneUploaded scene = await farm.UploadSceneAsync(Encoding.UTF8.GetBytes(root.ToJsonString()), "points.gltf");

        Assert.NotNull(scene.Unsupported);
        Assert.Equal(2, scene.Unsupported.Count);
        Assert.Contains(scene.Unsupported, line => line.Contains("'EXT_unknown_thing' is not supported", StringComparison.Ordinal));
        Assert.Contains(scene.Unsupported, line => line.Contains("POINTS", StringComparison.Ordinal));
        Assert.All(scene.Unsupported, line => Assert.DoesNotContain('\n', line));
        Assert.Empty(scene.Cameras!);
    }

    [Fact]
    public async Task A_job_picks_a_camera_by_name_and_an_unknown_name_is_400_listing_the_cameras()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        SceneUploaded scene = await farm.UploadSceneAsync(s_skinnedCylinder, "skinned-cylinder.glb");
        Assert.Equal(["Front", "Side"], scene.Cameras);
        Assert.Empty(scene.Unsupported!);

        using HttpResponseMessage refused = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, "1", Size: "8x8", SamplesPerPixel: 1, Camera: "Back"), TestFarm.Json);
        string detail = await TestFarm.ExpectProblemAsync(refused, HttpStatusCode.BadRequest);
        Assert.Contains("no camera called 'Back'; its cameras are 'Front', 'Side'", detail, StringComparison.Ordinal);
        Assert.Empty(await farm.ListJobsAsync());

        using HttpResponseMessage accepted = await farm.Client.PostAsJsonAsync(
            "api/jobs", new SubmitJobRequest(scene.Sha256, "1", Size: "8x8", SamplesPerPixel: 1, Camera: "Side"), TestFarm.Json);
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        JobSummary job = (await accepted.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
        JobDetails details = (await farm.Client.GetFromJsonAsync<JobDetails>($"api/jobs/{job.Id}", TestFarm.Json))!;
        Assert.Equal("Side", details.Settings.Camera);
    }
}
