using System.Net;
using System.Net.Http.Json;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using RenderFarm.Worker;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// An environment map travels with a render job: uploaded beside the scene (checked by the reader workers use, stored
/// by its SHA-256), named in the job's settings, linked in every lease with its hash, and rendered by the worker as a
/// local render with the same map renders it.
/// </summary>
[Collection(GpuWorkers.Name)]
public sealed class EnvironmentJobFacts
{
    private static readonly string s_scene = RepositoryPaths.Combine("samples/environment/environment.glb");
    private static readonly string s_sky = RepositoryPaths.Combine("samples/environment/sky.hdr");

    [Fact]
    public async Task A_job_names_the_uploaded_map_and_its_lease_links_it_with_its_hash()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        byte[] sky = await File.ReadAllBytesAsync(s_sky);
        EnvironmentUploaded map = await farm.UploadAsync<EnvironmentUploaded>("environments", "sky.hdr", sky);
        Assert.Equal((TestFarm.Sha256(sky), sky.Length), (map.Sha256, map.Size));
        Assert.Equal(EnvironmentFile.Read(s_sky).Width, map.Width);

        SceneUploaded scene = await farm.UploadSceneAsync(await File.ReadAllBytesAsync(s_scene), "environment.glb");
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(
            scene.Sha256, "1", Size: "16x16", SamplesPerPixel: 1, EnvironmentSha256: map.Sha256, EnvironmentStrength: 0.5f, EnvironmentRotation: 30));
        await TestFarm.ExpectAsync(response, HttpStatusCode.Created);

        TestProvider provider = await farm.LoginAsync();
        LeaseGrant grant = await provider.LeaseRequiredAsync();
        Assert.Equal(new EnvironmentMapSettings(map.Sha256, 0.5f, 30), grant.Settings.Environment);
        Assert.Equal(map.Sha256, grant.Environment!.Sha256);
        using HttpResponseMessage fetched = await farm.Client.GetAsync(grant.Environment.Url);
        await TestFarm.ExpectAsync(fetched, HttpStatusCode.OK);
        Assert.Equal(sky, await fetched.Content.ReadAsByteArrayAsync());
    }

    // Guards the map's bounds on the farm: a file workers could not read is refused at upload, a job may name only a map
    // its own account uploaded, and strength or rotation without a map is refused rather than ignored.
    [Fact]
    public async Task Bad_maps_and_maps_of_other_accounts_are_refused_in_one_line()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        byte[] sky = await File.ReadAllBytesAsync(s_sky);
        using (HttpResponseMessage broken = await farm.PostUploadAsync("environments", "sky.hdr", sky.AsSpan(0, sky.Length / 2).ToArray()))
        {
            Assert.Contains("Environment map sky.hdr:", await TestFarm.ExpectProblemAsync(broken, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        }

        using (HttpResponseMessage png = await farm.PostUploadAsync("environments", "sky.png", sky))
        {
            Assert.Contains("is not a .hdr or .exr file name", await TestFarm.ExpectProblemAsync(png, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        }

        // Another account's upload of the same bytes is no claim of this one.
        HttpClient other = farm.NewClient();
        EnvironmentUploaded map = await farm.UploadAsync<EnvironmentUploaded>("environments", "sky.hdr", sky, other);
        SceneUploaded scene = await farm.UploadSceneAsync(await File.ReadAllBytesAsync(s_scene), "environment.glb");
        using (HttpResponseMessage notOwned = await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(scene.Sha256, "1", EnvironmentSha256: map.Sha256)))
        {
            Assert.Contains("No environment map with SHA-256", await TestFarm.ExpectProblemAsync(notOwned, HttpStatusCode.NotFound), StringComparison.Ordinal);
        }

        using (HttpResponseMessage alone = await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(scene.Sha256, "1", EnvironmentStrength: 2)))
        {
            Assert.Contains("need environmentSha256", await TestFarm.ExpectProblemAsync(alone, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        }

        await farm.UploadAsync<EnvironmentUploaded>("environments", "sky.hdr", sky);
        using (HttpResponseMessage dark = await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(scene.Sha256, "1", EnvironmentSha256: map.Sha256, EnvironmentStrength: float.MaxValue)))
        {
            Assert.Contains("Environment strength must be between 0 and", await TestFarm.ExpectProblemAsync(dark, HttpStatusCode.BadRequest), StringComparison.Ordinal);
        }
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public async Task A_job_with_a_map_renders_on_a_worker_what_a_local_render_with_the_map_renders()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        byte[] sky = await File.ReadAllBytesAsync(s_sky);
        EnvironmentUploaded map = await farm.UploadAsync<EnvironmentUploaded>("environments", "sky.hdr", sky);
        SceneUploaded scene = await farm.UploadSceneAsync(await File.ReadAllBytesAsync(s_scene), "environment.glb");
        using HttpResponseMessage response = await farm.Client.PostAsJsonAsync("api/jobs", new SubmitJobRequest(
            scene.Sha256, "1", Size: "24x16", SamplesPerPixel: 4, ToneMapping: "standard", EnvironmentSha256: map.Sha256, EnvironmentStrength: 0.5f, EnvironmentRotation: 30));
        await TestFarm.ExpectAsync(response, HttpStatusCode.Created);
        JobSummary job = (await response.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;

        JobDetails done;
        await using (new InProcessWorker(farm, new VulkanFrameRenderer()))
        {
            done = await farm.WaitForJobEndAsync(job.Id);
        }

        Assert.Equal(JobState.Completed, done.Job.State);
        FrameLink frame = Assert.Single(done.Tasks.SelectMany(t => t.Frames));
        byte[] delivered = await farm.Client.GetByteArrayAsync(frame.Url);

        string folder = Directory.CreateTempSubdirectory("renderfarm-environment-").FullName;
        try
        {
            using ComputeDevice device = ComputeDevice.Open();
            using var tracer = new PathTracer(device);
            SceneAsset asset = SceneAsset.Load(s_scene);
            string lit = Path.Combine(folder, "lit.png");
            tracer.Environment = new EnvironmentLight(EnvironmentFile.Read(s_sky), 0.5f, 30);
            PngFrameWriter.Write(tracer.Render(asset, 1, done.Settings).Image, lit, done.Settings.ToneMapping, done.Settings.ExposureStops, done.Settings.SixteenBit);
            string unlit = Path.Combine(folder, "unlit.png");
            tracer.Environment = null;
            PngFrameWriter.Write(tracer.Render(asset, 1, done.Settings with { Environment = null }).Image, unlit, done.Settings.ToneMapping, done.Settings.ExposureStops, done.Settings.SixteenBit);

            // Same device, same streams: the farm's frame is the local one byte for byte, and the map made a difference.
            Assert.Equal(await File.ReadAllBytesAsync(lit), delivered);
            Assert.NotEqual(await File.ReadAllBytesAsync(unlit), delivered);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
