using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Storage;
using RenderFarm.Testing;
using static Microsoft.Playwright.Assertions;

namespace RenderFarm.Web.Tests;

/// <summary>
/// What an artist does in the web app, in headless chromium against a <see cref="WebFarm"/>: submits renders and
/// inference batches from the forms, watches frames verify, downloads them, cancels, and requeues a failed job. Each fact
/// signs in as an account of its own (<see cref="WebFarm.NewAccountApiKeyAsync"/>): the farm is shared with the other
/// browser facts, and an account's jobs list and open work hold only the fact's own jobs.
/// </summary>
[Trait("Category", "Gpu")]
[Trait("Category", "Browser")]
[Collection(WebFarmCollection.Name)]
public sealed class ArtistBrowserFacts(WebFarm farm)
{
    // Deadlines for the farm to render and verify, not timings: a slow machine only waits longer.
    private static readonly LocatorAssertionsToHaveCountOptions s_renderDeadline = new() { Timeout = 150_000 };

    [Fact]
    public async Task An_artist_submits_watches_frames_verify_reads_a_timeline_downloads_and_cancels()
    {
        // An account of its own: its jobs list starts empty and then holds only this fact's jobs, whatever ran before.
        IPage page = await farm.SignInAsync(await farm.NewAccountApiKeyAsync());
        await Expect(page.GetByText("No jobs yet.")).ToBeVisibleAsync();

        // Submit: the scene dropped on (here: chosen in) the file input, frames, size and samples.
        await page.GetByRole(AriaRole.Link, new() { Name = "Submit a render" }).First.ClickAsync();
        await page.GetByLabel("Scene: a .glb, or a .gltf with its .bin and texture files").SetInputFilesAsync(WebFarm.Scene);
        await page.GetByLabel("Frames", new() { Exact = true }).FillAsync("1-4");
        await page.GetByLabel("Size (width x height)").FillAsync("48x48");
        await page.GetByLabel("Samples per pixel").FillAsync("4");
        await WebFarm.ScreenshotAsync(page, "submit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Submit the render" }).ClickAsync();
        await page.WaitForURLAsync(new Regex("/jobs/[0-9a-f-]{36}$"));
        string jobPath = new Uri(page.Url).AbsolutePath;

        // Thumbnails fill in as frames are verified (each checked by the other provider), pushed over the page's stream.
        await Expect(page.Locator(".grid img")).ToHaveCountAsync(4, s_renderDeadline);
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.grid img')].every(i => i.complete && i.naturalWidth > 0)");
        await Expect(page.GetByText("completed").First).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Expect(page.GetByRole(AriaRole.Img, new() { Name = "Frame 3" })).ToBeVisibleAsync();
        await Expect(page.Locator("td.words").First).ToContainTextAsync("verified: rendered by 0x");
        await WebFarm.ScreenshotAsync(page, "job");

        // Each thumbnail was made once at acceptance and stored beside its frame, a JPEG at most 256 pixels on a side.
        var jobId = Guid.Parse(jobPath["/jobs/".Length..]);
        IReadOnlyList<TaskRecord> tasks = await farm.Host.Services.GetRequiredService<IFarmStore>().GetTasksAsync(jobId);
        IObjectStore objects = farm.Host.Services.GetRequiredService<IObjectStore>();
        FrameOutput[] outputs = [.. tasks.SelectMany(t => t.Outputs)];
        Assert.Equal(4, outputs.Length);
        foreach (FrameOutput output in outputs)
        {
            await using Stream thumbnail = await objects.OpenReadAsync(output.Key[..^".png".Length] + ".thumb.jpg");
            using var image = await SixLabors.ImageSharp.Image.LoadAsync(thumbnail);
            Assert.Equal((48, 48), (image.Width, image.Height));
        }

        // A frame downloads as the PNG the farm verified.
        IDownload download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link).Filter(new() { Has = page.GetByRole(AriaRole.Img, new() { Name = "Frame 2" }) }).ClickAsync());
        string saved = Path.Combine(WebFarm.Screenshots, "frame_0002.png");
        await download.SaveAsAsync(saved);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(saved)[..4]);

        // A task's timeline: its lease, upload and checks with their numbers.
        await page.GetByRole(AriaRole.Link, new() { Name = "Task 0", Exact = true }).ClickAsync();
        ILocator timeline = page.GetByRole(AriaRole.List, new() { Name = "Timeline of task 0" });
        await Expect(timeline).ToContainTextAsync("Leased by 0x");
        await Expect(timeline).ToContainTextAsync("uploaded its output, accepted");
        await Expect(timeline).ToContainTextAsync(new Regex("Check #1 by 0x[0-9a-fA-F]+: passed — [0-9]+ tiles compared, 0 failed"));
        await Expect(timeline).ToContainTextAsync("Verified: frames 1-1");
        await WebFarm.ScreenshotAsync(page, "task-timeline");

        // The jobs list shows the job with its progress.
        await page.GotoAsync("/jobs");
        await Expect(page.GetByRole(AriaRole.Progressbar, new() { Name = "4 of 4 frames verified" })).ToBeVisibleAsync();
        await WebFarm.ScreenshotAsync(page, "jobs");

        // A long job, paused, resumed and cancelled from its page: its tasks stop and the page says so.
        await page.GotoAsync("/submit");
        await page.GetByLabel("Scene: a .glb, or a .gltf with its .bin and texture files").SetInputFilesAsync(WebFarm.Scene);
        await page.GetByLabel("Frames", new() { Exact = true }).FillAsync("1-300");
        await page.GetByLabel("Size (width x height)").FillAsync("96x96");
        await page.GetByLabel("Samples per pixel").FillAsync("16");
        await page.GetByRole(AriaRole.Button, new() { Name = "Submit the render" }).ClickAsync();
        await page.WaitForURLAsync(new Regex("/jobs/[0-9a-f-]{36}$"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Pause", Exact = true }).ClickAsync();
        await Expect(page.Locator(".facts")).ToContainTextAsync("paused: queued tasks wait for the resume");
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Pause", Exact = true })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel the job" }).ClickAsync();
        await Expect(page.Locator(".facts .state")).ToHaveTextAsync("cancelled");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel the job" })).ToHaveCountAsync(0);
        await WebFarm.ScreenshotAsync(page, "job-cancelled");

        // The first job is still there, completed.
        await page.GotoAsync(jobPath);
        await Expect(page.Locator(".facts .state")).ToHaveTextAsync("completed");
    }

    [Fact]
    public async Task A_gltf_dropped_with_its_files_is_packed_and_submitted_and_a_bad_form_says_why()
    {
        DirectoryInfo folder = Directory.CreateTempSubdirectory("renderfarm-web-gltf-");
        try
        {
            // Blender's "glTF Separate" export with its texture beside the .gltf (the helper's export puts it in a
            // folder, which a browser's file list does not carry).
            byte[] png = TestGltf.BlankPng(4, 4);
            TestGltf.WriteSeparateFiles(Path.Combine(folder.FullName, "export"), png);
            File.Move(Path.Combine(folder.FullName, "export", "scene.bin"), Path.Combine(folder.FullName, "scene.bin"));
            Directory.Delete(Path.Combine(folder.FullName, "export"), recursive: true);
            File.WriteAllBytes(Path.Combine(folder.FullName, "base colour.png"), png);
            File.WriteAllBytes(Path.Combine(folder.FullName, "scene.gltf"), TestGltf.Triangle(bufferUri: "scene.bin", imageUri: "base%20colour.png"));
            IPage page = await farm.SignInAsync(await farm.NewAccountApiKeyAsync());
            await page.GotoAsync("/submit");
            ILocator scene = page.GetByLabel("Scene: a .glb, or a .gltf with its .bin and texture files");

            // The .gltf alone: the packer cannot find its buffer, and the form says so with the values kept.
            await scene.SetInputFilesAsync(Path.Combine(folder.FullName, "scene.gltf"));
            await page.GetByLabel("Frames", new() { Exact = true }).FillAsync("1");
            await page.GetByLabel("Size (width x height)").FillAsync("16x16");
            await page.GetByRole(AriaRole.Button, new() { Name = "Submit the render" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("scene.bin");
            await Expect(page.GetByLabel("Size (width x height)")).ToHaveValueAsync("16x16");

            await scene.SetInputFilesAsync(folder.GetFiles().Select(f => f.FullName));
            await page.GetByRole(AriaRole.Button, new() { Name = "Submit the render" }).ClickAsync();
            await page.WaitForURLAsync(new Regex("/jobs/[0-9a-f-]{36}$"));
            await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Job scene.glb");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    // Before, the form offered PNG only and the job page had no EXR to link: an EXR job is chosen on the form, its
    // thumbnail comes from the PNG the coordinator derives at acceptance, and the frame downloads as frame_0001.exr.
    [Fact]
    public async Task An_exr_render_is_submitted_from_the_form_and_its_frame_downloads_as_exr()
    {
        IPage page = await farm.SignInAsync(await farm.NewAccountApiKeyAsync());
        await page.GotoAsync("/submit");
        await page.GetByLabel("Scene: a .glb, or a .gltf with its .bin and texture files").SetInputFilesAsync(WebFarm.Scene);
        await page.GetByLabel("Frames", new() { Exact = true }).FillAsync("1");
        await page.GetByLabel("Size (width x height)").FillAsync("32x32");
        await page.GetByLabel("Samples per pixel").FillAsync("4");
        await page.GetByLabel("Frames delivered as").SelectOptionAsync("exr-half");
        await page.GetByRole(AriaRole.Button, new() { Name = "Submit the render" }).ClickAsync();
        await page.WaitForURLAsync(new Regex("/jobs/[0-9a-f-]{36}$"));

        await Expect(page.GetByText("OpenEXR (half), linear, with albedo, normal and depth AOVs")).ToBeVisibleAsync();
        await Expect(page.Locator(".grid img")).ToHaveCountAsync(1, s_renderDeadline);
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.grid img')].every(i => i.complete && i.naturalWidth > 0)");
        IDownload download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "EXR", Exact = true }).ClickAsync());
        Assert.Equal("frame_0001.exr", download.SuggestedFilename);
        string saved = Path.Combine(WebFarm.Screenshots, "frame_0001.exr");
        await download.SaveAsAsync(saved);
        Assert.Equal([0x76, 0x2F, 0x31, 0x01], File.ReadAllBytes(saved)[..4]);
    }

    [Fact]
    public async Task An_inference_batch_is_submitted_with_its_model_and_inputs()
    {
        string model = RepositoryPaths.Combine("samples/edge-detect/edge-detect.onnx");
        IReadOnlyList<int?> shape = RenderFarm.Inference.OnnxModel.Load(model).Inputs[0].Shape;
        DirectoryInfo folder = Directory.CreateTempSubdirectory("renderfarm-web-inference-");
        try
        {
            string input = Path.Combine(folder.FullName, "zeros.npy");
            File.WriteAllBytes(input, RenderFarm.Inference.IO.NpyFile.Format(RenderFarm.Inference.Tensor.Zeros([.. shape.Select((d, i) => d ?? (i == 0 ? 1 : 16))])));
            IPage page = await farm.SignInAsync(await farm.NewAccountApiKeyAsync());
            await page.GotoAsync("/submit");
            await page.GetByRole(AriaRole.Link, new() { Name = "Submit an inference batch instead" }).ClickAsync();
            await page.GetByLabel("ONNX model").SetInputFilesAsync(model);
            await page.GetByLabel("Items: one .npy tensor each, or an .npz of every input for a model with several").SetInputFilesAsync(input);
            await page.GetByRole(AriaRole.Button, new() { Name = "Submit the batch" }).ClickAsync();
            await page.WaitForURLAsync(new Regex("/jobs/[0-9a-f-]{36}$"));
            await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Job edge-detect.onnx");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Outputs" })).ToBeVisibleAsync();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// A model with two int64 inputs takes one .npz archive per item (the form accepted .npy files only); the archive goes
    /// through the API's own checks, so the job is created with its item.
    /// </summary>
    [Fact]
    public async Task An_inference_batch_of_npz_items_is_submitted_for_a_model_with_several_inputs()
    {
        string model = RepositoryPaths.Combine("tests/RenderFarm.Inference.Tests/Samples/tiny-encoder.onnx");
        RenderFarm.Inference.OnnxModel onnx = RenderFarm.Inference.OnnxModel.Load(model);
        DirectoryInfo folder = Directory.CreateTempSubdirectory("renderfarm-web-inference-");
        try
        {
            string input = Path.Combine(folder.FullName, "tokens.npz");
            var item = new Dictionary<string, RenderFarm.Inference.Tensor>
            {
                ["input_ids"] = new([1, 4], [2f, 7f, 1f, 3f], RenderFarm.Inference.TensorElementType.Int64),
                ["attention_mask"] = new([1, 4], [1f, 1f, 1f, 0f], RenderFarm.Inference.TensorElementType.Int64),
            };
            File.WriteAllBytes(input, RenderFarm.Inference.IO.ItemFiles.Format(onnx.Inputs, item));
            Assert.Equal(".npz", RenderFarm.Inference.IO.ItemFiles.Extension(onnx.Inputs.Count));
            IPage page = await farm.SignInAsync(await farm.NewAccountApiKeyAsync());
            await page.GotoAsync("/submit/inference");
            await Expect(page.GetByLabel("Items: one .npy tensor each, or an .npz of every input for a model with several")).ToHaveAttributeAsync("accept", ".npy,.npz");
            await page.GetByLabel("ONNX model").SetInputFilesAsync(model);
            await page.GetByLabel("Items: one .npy tensor each, or an .npz of every input for a model with several").SetInputFilesAsync(input);
            await page.GetByRole(AriaRole.Button, new() { Name = "Submit the batch" }).ClickAsync();
            await page.WaitForURLAsync(new Regex("/jobs/[0-9a-f-]{36}$"));
            await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Job tiny-encoder.onnx");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Outputs" })).ToBeVisibleAsync();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    // Guards the in-place requeue from the job page: a failed job's page offers to requeue its failed tasks, says why the
    // task failed, and after the requeue (and the resume of the job, paused while it failed) the farm finishes it.
    [Fact]
    public async Task A_failed_job_is_requeued_in_place_from_its_page_and_completes()
    {
        // Paused at once, so the workers take none of its tasks while one is failed by a hundred providers' reports
        // (through the transition a provider's failure report takes; the distinct-provider cap is 100).
        string apiKey = await farm.NewAccountApiKeyAsync();
        string jobId = await farm.SubmitThroughApiAsync(apiKey, "1-8");
        var id = Guid.Parse(jobId);
        using (HttpClient client = farm.ApiClient(apiKey))
        {
            using HttpResponseMessage paused = await client.PostAsync($"api/jobs/{jobId}/pause", null);
            paused.EnsureSuccessStatusCode();
        }

        IFarmStore store = farm.Host.Services.GetRequiredService<IFarmStore>();
        Coordinator.Leasing.TaskTransitions transitions = farm.Host.Services.GetRequiredService<Coordinator.Leasing.LeaseService>().Transitions;
        for (int report = 0; report < 1000; report++)
        {
            JobRecord job = (await store.GetJobAsync(id))!;
            if (job.State == JobState.Failed)
            {
                break;
            }

            IReadOnlyList<TaskRecord> tasks = await store.GetTasksAsync(id);
            if (tasks.FirstOrDefault(t => t.State == FarmTaskState.Queued && t.HangfireJobId is not null) is { } task)
            {
                await transitions.ReleaseAsync(task, job, $"0x{report + 1:x40}", "out of device memory", CancellationToken.None);
            }
            else
            {
                // The split has not linked the tasks yet.
                await Task.Delay(50);
            }
        }

        IPage page = await farm.SignInAsync(apiKey);
        await page.GotoAsync($"/jobs/{jobId}");
        await Expect(page.Locator(".facts .state")).ToHaveTextAsync("failed");
        await Expect(page.Locator("td.words").Filter(new() { HasText = "out of device memory" })).ToHaveCountAsync(1);
        await WebFarm.ScreenshotAsync(page, "job-failed");
        await page.GetByRole(AriaRole.Button, new() { Name = "Requeue the failed tasks" }).ClickAsync();
        await Expect(page.Locator(".facts .state")).ToHaveTextAsync("running");
        await Expect(page.Locator(".facts")).ToContainTextAsync("paused: queued tasks wait for the resume");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Requeue the failed tasks" })).ToHaveCountAsync(0);
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume", Exact = true }).ClickAsync();
        await Expect(page.Locator(".facts .state")).ToHaveTextAsync("completed", new() { Timeout = 150_000 });
        Assert.All(await store.GetTasksAsync(id), t => Assert.Equal(FarmTaskState.Succeeded, t.State));
    }
}
