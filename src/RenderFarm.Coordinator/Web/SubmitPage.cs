using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Api;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// Submitting a render: a <c>.glb</c>, or a <c>.gltf</c> with the files it names (packed into one <c>.glb</c> here, under
/// the same closed-bundle rule and budgets as the command line), dropped or chosen; frames, size, samples, priority and
/// budget. The scene goes through the API's own upload checks and the job through its own submission.
/// </summary>
internal static class SubmitPage
{
    private const int MaxFiles = 64;
    private const int MaxInputs = 1000;

    public static void Map(RouteGroupBuilder web)
    {
        MapInference(web);
        web.MapGet("/submit", (HttpContext context, CancellationToken cancellationToken) => WebApp.WithCallerAsync(context, caller =>
            Task.FromResult(Form(context, caller, new SubmitValues(), null, StatusCodes.Status200OK))));

        web.MapPost("/submit", (HttpContext context, IOptions<CoordinatorOptions> options, Uploads uploads, JobService jobs) =>
            WebApp.PostAsync(context, async (caller, form) =>
            {
                string owner = caller.RequireAccount();
                long limit = options.Value.MaxSceneBytes;
                var values = SubmitValues.From(form);
                try
                {
                    SceneUploaded scene = await UploadSceneAsync(form.Files, owner, limit, uploads, context.RequestAborted);
                    JobSummary job = await jobs.SubmitAsync(
                        new SubmitJobRequest(
                            scene.Sha256,
                            values.Frames,
                            ChunkSize: Number(values.Chunk, "Frames per task"),
                            Size: values.Size,
                            SamplesPerPixel: Number(values.Samples, "Samples per pixel"),
                            Priority: Number(values.Priority, "Priority"),
                            Budget: Number(values.Budget, "Budget"),
                            Format: values.Output == "png" ? null : "exr",
                            ExrDepth: values.Output switch
                            {
                                "png" => null,
                                "exr-half" => "half",
                                "exr-float" => "float",
                                _ => throw new CoordinatorException(StatusCodes.Status400BadRequest, "Output must be PNG, or OpenEXR in half or float."),
                            }),
                        owner,
                        context.RequestAborted);
                    return Results.Redirect($"/jobs/{job.Id}");
                }
                catch (Exception exception) when (exception is CoordinatorException or UserInputException)
                {
                    int status = exception is CoordinatorException coordinator ? coordinator.StatusCode : StatusCodes.Status400BadRequest;
                    return Form(context, caller, values, exception.Message, status);
                }
            }, MaxUploadBody(options.Value)));
    }

    private static void MapInference(RouteGroupBuilder web)
    {
        web.MapGet("/submit/inference", (HttpContext context, CancellationToken cancellationToken) => WebApp.WithCallerAsync(context, caller =>
            Task.FromResult(InferenceForm(context, caller, new InferenceValues(), null, StatusCodes.Status200OK))));

        web.MapPost("/submit/inference", (HttpContext context, IOptions<CoordinatorOptions> options, Uploads uploads, JobService jobs) =>
            WebApp.PostAsync(context, async (caller, form) =>
            {
                string owner = caller.RequireAccount();
                long limit = options.Value.MaxSceneBytes;
                var values = InferenceValues.From(form);
                try
                {
                    IFormFile model = form.Files.GetFiles("model") is [var one] ? one
                        : throw new CoordinatorException(StatusCodes.Status400BadRequest, "Choose one ONNX model (.onnx).");
                    IReadOnlyList<IFormFile> inputs = form.Files.GetFiles("inputs");
                    if (inputs.Count == 0 || inputs.Count > MaxInputs || inputs.Sum(f => f.Length) + model.Length > limit)
                    {
                        throw new CoordinatorException(StatusCodes.Status400BadRequest, $"Choose 1 to {MaxInputs} inputs (.npy or .npz), at most {limit} bytes with the model.");
                    }

                    ModelUploaded uploaded;
                    await using (Stream body = model.OpenReadStream())
                    {
                        uploaded = await uploads.UploadModelAsync(Request(body, model.Length), FileName(model.FileName), owner, context.RequestAborted);
                    }

                    var shas = new List<string>(inputs.Count);
                    foreach (IFormFile input in inputs)
                    {
                        await using Stream body = input.OpenReadStream();
                        shas.Add((await uploads.UploadInputAsync(Request(body, input.Length), FileName(input.FileName), owner, context.RequestAborted)).Sha256);
                    }

                    JobSummary job = await jobs.SubmitInferenceAsync(
                        new SubmitInferenceJobRequest(uploaded.Sha256, shas, Number(values.ItemsPerTask, "Items per task"), Number(values.Priority, "Priority"), Number(values.Budget, "Budget")),
                        owner,
                        context.RequestAborted);
                    return Results.Redirect($"/jobs/{job.Id}");
                }
                catch (Exception exception) when (exception is CoordinatorException or UserInputException)
                {
                    int status = exception is CoordinatorException coordinator ? coordinator.StatusCode : StatusCodes.Status400BadRequest;
                    return InferenceForm(context, caller, values, exception.Message, status);
                }
            }, MaxUploadBody(options.Value)));
    }

    // The upload limit (checked again by the upload itself), plus room for the form's fields.
    private static long MaxUploadBody(CoordinatorOptions options) => options.MaxSceneBytes + (1 << 20);

    private static IResult InferenceForm(HttpContext context, ClientIdentity caller, InferenceValues values, string? error, int status) =>
        WebLayout.Page(context, caller, "Submit an inference batch", Html.Of($"""
            {(error is null ? Html.Empty : Html.Of($"""<p class="error" role="alert">{error}</p>"""))}
            <p>The model runs once per item; each verified output downloads as a .npy file (an .npz of every output for a model with several). <a href="/submit">Submit a render instead</a>.</p>
            <form method="post" action="/submit/inference" enctype="multipart/form-data" class="stack">
              {WebLayout.FormToken(context)}
              <label for="model">ONNX model</label>
              <input id="model" name="model" type="file" accept=".onnx" required>
              <label for="inputs">Items: one .npy tensor each, or an .npz of every input for a model with several</label>
              <input id="inputs" name="inputs" type="file" accept=".npy,.npz" multiple required>
              <label for="items">Items per task</label>
              <input id="items" name="items" type="number" min="1" value="{values.ItemsPerTask}">
              <label for="inference-priority">Priority (-10 to 10; higher goes first)</label>
              <input id="inference-priority" name="priority" type="number" min="-10" max="10" value="{values.Priority}">
              <label for="inference-budget">Budget in tokens (0: unpaid)</label>
              <input id="inference-budget" name="budget" type="number" min="0" value="{values.Budget}">
              <button type="submit">Submit the batch</button>
            </form>
            """), status: status);

    // The API's upload, reading a file from a request made of it: the same checks, limits and storage.
    private static HttpRequest Request(Stream body, long length)
    {
        var request = new DefaultHttpContext().Request;
        request.Body = body;
        request.ContentLength = length;
        return request;
    }

    private static async Task<SceneUploaded> UploadSceneAsync(IFormFileCollection files, string owner, long limit, Uploads uploads, CancellationToken cancellationToken)
    {
        if (files.Count == 0)
        {
            throw new CoordinatorException(StatusCodes.Status400BadRequest, "Choose a scene: a .glb, or a .gltf with the files it names.");
        }

        if (files.Count > MaxFiles || files.Sum(f => f.Length) > limit)
        {
            throw new CoordinatorException(StatusCodes.Status413PayloadTooLarge, $"A scene is at most {MaxFiles} files and {limit} bytes together.");
        }

        IFormFile[] scenes = [.. files.Where(f => f.FileName.EndsWith(".glb", StringComparison.OrdinalIgnoreCase) || f.FileName.EndsWith(".gltf", StringComparison.OrdinalIgnoreCase))];
        if (scenes.Length != 1)
        {
            throw new CoordinatorException(StatusCodes.Status400BadRequest, $"Choose exactly one .glb or .gltf file (with the .bin and texture files a .gltf names); {scenes.Length} were chosen.");
        }

        IFormFile scene = scenes[0];
        if (scene.FileName.EndsWith(".glb", StringComparison.OrdinalIgnoreCase) && files.Count == 1)
        {
            await using Stream body = scene.OpenReadStream();
            return await UploadAsync(uploads, body, scene.Length, FileName(scene.FileName), owner, cancellationToken);
        }

        // A .gltf and the files it names, side by side in a folder of their own; the packer opens nothing outside it.
        DirectoryInfo folder = Directory.CreateTempSubdirectory("renderfarm-web-scene-");
        try
        {
            foreach (IFormFile file in files)
            {
                await using FileStream target = File.Create(Path.Combine(folder.FullName, FileName(file.FileName)));
                await file.CopyToAsync(target, cancellationToken);
            }

            byte[] glb = SceneAsset.PackAsGlb(Path.Combine(folder.FullName, FileName(scene.FileName)));
            using var body = new MemoryStream(glb, writable: false);
            return await UploadAsync(uploads, body, glb.Length, Path.ChangeExtension(FileName(scene.FileName), ".glb"), owner, cancellationToken);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static Task<SceneUploaded> UploadAsync(Uploads uploads, Stream body, long length, string name, string owner, CancellationToken cancellationToken) =>
        uploads.UploadSceneAsync(Request(body, length), name, owner, cancellationToken);

    // A file's own name only: a browser sends no folders, and a name that climbs out of the scene's folder is refused.
    private static string FileName(string name)
    {
        string plain = Path.GetFileName(name.Replace('\\', '/'));
        return plain.Length is > 0 and <= 255 && plain != "." && plain != ".." && plain.IndexOfAny(Path.GetInvalidFileNameChars()) < 0
            ? plain
            : throw new CoordinatorException(StatusCodes.Status400BadRequest, $"'{name[..Math.Min(name.Length, 100)]}' is not a usable file name.");
    }

    private static int? Number(string text, string what) =>
        string.IsNullOrWhiteSpace(text) ? null
        : int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value
        : throw new CoordinatorException(StatusCodes.Status400BadRequest, $"{what} must be a whole number; got '{text[..Math.Min(text.Length, 40)]}'.");

    private static IResult Form(HttpContext context, ClientIdentity caller, SubmitValues values, string? error, int status) =>
        WebLayout.Page(context, caller, "Submit a render", Html.Of($"""
            {(error is null ? Html.Empty : Html.Of($"""<p class="error" role="alert">{error}</p>"""))}
            <p><a href="/submit/inference">Submit an inference batch instead</a></p>
            <form method="post" action="/submit" enctype="multipart/form-data" class="stack" id="submit-form">
              {WebLayout.FormToken(context)}
              <div class="drop" id="drop-zone">
                <label for="scene">Scene: a .glb, or a .gltf with its .bin and texture files</label>
                <input id="scene" name="scene" type="file" accept=".glb,.gltf,.bin,.png,.jpg,.jpeg,.ktx2,.webp" multiple required>
                <p class="muted" id="drop-hint">…or drop the files here.</p>
              </div>
              <label for="frames">Frames</label>
              <input id="frames" name="frames" type="text" value="{values.Frames}" required placeholder="1-24" aria-describedby="frames-help">
              <p class="muted" id="frames-help">A frame (7) or a range (1-24).</p>
              <label for="size">Size (width x height)</label>
              <input id="size" name="size" type="text" value="{values.Size}" placeholder="640x360">
              <label for="samples">Samples per pixel</label>
              <input id="samples" name="samples" type="number" min="1" value="{values.Samples}">
              <label for="output">Frames delivered as</label>
              <select id="output" name="output" aria-describedby="output-help">
                {Option("png", "PNG (through the view transform)", values.Output)}
                {Option("exr-half", "OpenEXR, half float: linear, with albedo, normal and depth AOVs", values.Output)}
                {Option("exr-float", "OpenEXR, float: linear, with albedo, normal and depth AOVs", values.Output)}
              </select>
              <p class="muted" id="output-help">Every format is verified on the noisy linear frame; denoising runs after verification, in <code>renderfarm render --denoise</code>.</p>
              <label for="chunk">Frames per task</label>
              <input id="chunk" name="chunk" type="number" min="1" value="{values.Chunk}">
              <label for="priority">Priority (-10 to 10; higher goes first)</label>
              <input id="priority" name="priority" type="number" min="-10" max="10" value="{values.Priority}">
              <label for="budget">Budget in tokens (0: unpaid)</label>
              <input id="budget" name="budget" type="number" min="0" value="{values.Budget}">
              <button type="submit">Submit the render</button>
            </form>
            """), status: status);

    private static Html Option(string value, string text, string chosen) =>
        value == chosen ? Html.Of($"""<option value="{value}" selected>{text}</option>""") : Html.Of($"""<option value="{value}">{text}</option>""");

    /// <summary>What the inference form holds, shown again with an error.</summary>
    private sealed record InferenceValues(string ItemsPerTask = "1", string Priority = "0", string Budget = "0")
    {
        public static InferenceValues From(IFormCollection form) => new(Bounded(form["items"]), Bounded(form["priority"]), Bounded(form["budget"]));

        private static string Bounded(string? text) => text is null ? "" : text.Length > 100 ? text[..100] : text;
    }

    /// <summary>What the form holds, shown again with an error.</summary>
    private sealed record SubmitValues(string Frames = "1-24", string Size = "640x360", string Samples = "64", string Chunk = "1", string Priority = "0", string Budget = "0", string Output = "png")
    {
        public static SubmitValues From(IFormCollection form) => new(
            Bounded(form["frames"]), Bounded(form["size"]), Bounded(form["samples"]), Bounded(form["chunk"]), Bounded(form["priority"]), Bounded(form["budget"]),
            string.IsNullOrEmpty(form["output"]) ? "png" : Bounded(form["output"]));

        private static string Bounded(string? text) => text is null ? "" : text.Length > 100 ? text[..100] : text;
    }
}
