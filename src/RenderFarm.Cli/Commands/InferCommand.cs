using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Farm;
using RenderFarm.Cli.Terminal;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Gpu;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm infer MODEL INPUTS... --out DIR</c>: runs an ONNX model over a batch of .npy arrays,
/// .npz archives and images on the local Vulkan device (or, with <c>--coordinator</c>, as a job on a farm)
/// and writes every output of every item. Models with several inputs take .npz items or
/// <c>--input NAME=FILES</c> lists.
/// </summary>
internal static class InferCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The ONNX model (.onnx)." };
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "One batch item per file: .npz archives with one array per model input, or, for a model with one input, .npy arrays (float32/64/16, int32/64, uint8, bool) or .png/.jpg/.jpeg images.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var named = new Option<string[]>("--input")
        {
            Description = "Files of one model input, NAME=FILE[,FILE...], paired by position with the other inputs' files (repeat per input).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var output = new Option<string>("--out") { Description = "Folder for the outputs: <input-stem>.<output-name>.npy, and .png for image-shaped outputs.", Required = true };
        var device = new Option<int?>("--device") { Description = "Vulkan device index (see 'renderfarm devices'); default: the first discrete GPU, else lavapipe." };
        var batchSize = new Option<int>("--batch-size") { Description = "Most items per run when the model's batch dimension is dynamic (a fixed batch of 1 runs items one by one).", DefaultValueFactory = _ => 8 };
        var imageSize = new Option<string?>(ImagePreprocessing.SizeOption) { Description = "Images: stretch to WIDTHxHEIGHT (bilinear); default: keep their size." };
        var channels = new Option<string?>(ImagePreprocessing.ChannelsOption) { Description = "Images: rgb, bgr or gray (BT.709 luma); default rgb." };
        var scale = new Option<string?>(ImagePreprocessing.ScaleOption) { Description = "Images: multiply 8-bit values by this first; default 1/255 (values 0..1)." };
        var mean = new Option<string?>(ImagePreprocessing.MeanOption) { Description = "Images: subtract after scaling, one value or one per channel in tensor order, e.g. 0.485,0.456,0.406; default 0." };
        var std = new Option<string?>(ImagePreprocessing.StdOption) { Description = "Images: divide by this after the mean, one value or one per channel, e.g. 0.229,0.224,0.225; default 1." };
        var outputScale = new Option<string?>(ImagePostprocessing.ScaleOption) { Description = "PNG outputs: pixel = clamp(round(value × scale + offset), 0, 255); default scale 255." };
        var outputOffset = new Option<string?>(ImagePostprocessing.OffsetOption) { Description = "PNG outputs: added after --output-scale; default 0." };
        var local = new Option<bool>("--local") { Description = "Run on the local device even when a coordinator is set in the environment or the settings file." };
        var layout = new Option<string?>(InputBatching.LayoutOption) { Description = "Images: nchw or nhwc, where the model's input keeps its channels; default: recognised from the input's shape (channels-last when its last dimension is 1 or 3 and its second is not)." };
        var text = new Option<string?>("--text") { Description = "Text in, embeddings out: a UTF-8 file with one text per line, for an encoder model with input_ids (and attention_mask, token_type_ids); needs --tokenizer. Writes embeddings.txt (one embedding per line) and embeddings.npy." };
        var tokenizer = new Option<string?>(TextTokenizer.Option) { Description = "With --text: a WordPiece vocab.txt, or a tokenizer.json (WordPiece or byte-level BPE)." };
        var maxLength = new Option<int>("--max-length") { Description = "With --text: most tokens per text, special tokens included; longer texts are truncated.", DefaultValueFactory = _ => 128 };
        var pooling = new Option<string>("--pooling") { Description = "With --text: mean (over the text's tokens), cls (the first token) or none (the model pools itself).", DefaultValueFactory = _ => "mean" };
        var normalize = new Option<bool>("--normalize") { Description = "With --text: scale each embedding to length 1." };
        var itemsPerTask = new Option<int>("--items-per-task") { Description = "With --coordinator: items per task of the job.", DefaultValueFactory = _ => 1 };
        var client = new ClientSettings();
        var command = new Command(
            "infer",
            "Run an ONNX model over a batch of .npy arrays and images on the local Vulkan device (or a farm, with --coordinator), writing each item's outputs as .npy (and PNG where an output is image-shaped).")
        {
            model, inputs, named, text, tokenizer, maxLength, pooling, normalize, output, device, batchSize, imageSize, channels, scale, mean, std, layout, outputScale, outputOffset, itemsPerTask, local,
        };
        client.AddTo(command);
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            () => result.GetValue(text) is string textPath
                ? TextInference.RunAsync(
                    new TextRequest(
                        result.GetValue(model)!,
                        textPath,
                        result.GetValue(tokenizer) ?? throw new UserInputException($"--text needs {TextTokenizer.Option} (a vocab.txt or tokenizer.json)."),
                        result.GetValue(output)!,
                        result.GetValue(batchSize),
                        result.GetValue(maxLength),
                        TextInference.ParsePooling(result.GetValue(pooling) ?? "mean"),
                        result.GetValue(normalize),
                        (result.GetValue(inputs)?.Length ?? 0) + (result.GetValue(named)?.Length ?? 0) > 0),
                    result.GetValue(device),
                    !result.GetValue(local) && client.Read(result) is { Coordinator: { } textUrl } textSignIn
                        ? new FarmTarget(textUrl, result.GetValue(itemsPerTask), textSignIn)
                        : null,
                    cancellationToken)
                : RunAsync(
                new InferRequest(
                    result.GetValue(model)!,
                    result.GetValue(inputs) ?? [],
                    result.GetValue(named) ?? [],
                    result.GetValue(output)!,
                    result.GetValue(batchSize),
                    ImagePreprocessing.FromOptions(
                        result.GetValue(imageSize), result.GetValue(channels), result.GetValue(scale), result.GetValue(mean), result.GetValue(std)),
                    ImagePostprocessing.FromOptions(result.GetValue(outputScale), result.GetValue(outputOffset)),
                    result.GetValue(layout) is string layoutText ? InputBatching.ParseLayout(layoutText) : null),
                result.GetValue(device),
                !result.GetValue(local) && client.Read(result) is { Coordinator: { } url } signIn
                    ? new FarmTarget(url, result.GetValue(itemsPerTask), signIn)
                    : null,
                cancellationToken),
            cancellationToken));
        return command;
    }

    /// <summary>Checks the model and every input, then runs the batches and prints progress and a summary.</summary>
    /// <param name="request">What to run and where to put the outputs.</param>
    /// <param name="deviceIndex">The local Vulkan device.</param>
    /// <param name="farm">A coordinator to run the batch on instead of the local device; null to run it here.</param>
    /// <param name="cancellationToken">Ctrl-C; cancels the job on the farm too.</param>
    /// <remarks>
    /// The work runs on the thread pool: System.CommandLine handles Ctrl-C only once the action has
    /// returned its task, and a batch loop that completed synchronously would leave SIGINT to kill the process.
    /// </remarks>
    public static Task<int> RunAsync(InferRequest request, int? deviceIndex, FarmTarget? farm, CancellationToken cancellationToken) =>
        Task.Run(
            async () =>
            {
                (OnnxModel model, ModelInputs batching, IReadOnlyList<ItemSet> items) = Prepare(request, farm);
                return farm is null
                    ? RunLocally(request, model, batching, items, deviceIndex, cancellationToken)
                    : await RunOnFarmAsync(request, model, batching, items, farm, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    /// <summary>Checks everything a user can get wrong before the device opens, anything is uploaded or any output is written.</summary>
    private static (OnnxModel Model, ModelInputs Batching, IReadOnlyList<ItemSet> Items) Prepare(InferRequest request, FarmTarget? farm)
    {
        if (request.BatchSize < 1 || request.BatchSize > 4096)
        {
            throw new UserInputException($"--batch-size must be between 1 and 4096; got {request.BatchSize}.");
        }

        if (farm is not null && farm.ItemsPerTask < 1)
        {
            throw new UserInputException($"--items-per-task must be at least 1; got {farm.ItemsPerTask}.");
        }

        if (request.InputPaths.Count == 0 && request.NamedInputs.Count == 0)
        {
            throw new UserInputException("Give the items to run: files, or --input NAME=FILE,FILE... per model input.");
        }

        OnnxModel model = OnnxModel.Load(request.ModelPath);
        model.EnsureSupported();
        if (farm is not null)
        {
            EnsureFarmCompatible(request.ModelPath, model);
        }

        var batching = new ModelInputs(model.Inputs, request.Preprocessing, request.Layout);
        IReadOnlyList<ItemSet> items = batching.DescribeAll(request.InputPaths, request.NamedInputs);
        CreateOutputFolder(request.OutputFolder);
        return (model, batching, items);
    }

    internal static void EnsureFarmCompatible(string modelPath, OnnxModel model)
    {
        try
        {
            model.EnsureFarmCompatible();
        }
        catch (UserInputException e)
        {
            throw new UserInputException($"{modelPath}: {e.Message} Run it without --coordinator.", e);
        }
    }

    private static int RunLocally(
        InferRequest request, OnnxModel model, ModelInputs batching, IReadOnlyList<ItemSet> items, int? deviceIndex, CancellationToken cancellationToken)
    {
        int batchLimit = batching.CanStack ? request.BatchSize : 1;
        Print($"Running {Path.GetFileName(request.ModelPath)} on {items.Count} item(s): input(s) {string.Join(", ", model.Inputs)}, outputs {string.Join(", ", model.Outputs)}; {BatchDescription(batching.CanStack, batching.HasBatchDimension, request.BatchSize)}");
        if (items.Any(i => i.Inputs.Values.Any(v => v.Entry is null && ImageInput.IsImagePath(v.Path))))
        {
            Print($"Images: {request.Preprocessing}; {string.Join(", ", batching.Inputs.Select(i => $"{i.Input.Name} {i.Layout.ToString().ToUpperInvariant()}"))}");
        }

        // Outputs are taken for images in the layout of the model's (first) input, else channels-first.
        ImageLayout outputLayout = batching.Inputs[0].Layout;

        cancellationToken.ThrowIfCancellationRequested();
        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        using var session = new InferenceSession(device, model);
        Print($"Device: {device.Info}");

        using var bar = new ProgressBar(Console.Error);
        var totals = new InferTotals(model.Outputs.Select(o => o.Name));
        var clock = Stopwatch.StartNew();
        int done = 0;
        foreach (IReadOnlyList<ItemSet> batch in batching.Batches(items, batchLimit))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Dictionary<string, Tensor> stacked = batching.Load(batch);
            long start = Stopwatch.GetTimestamp();
            IReadOnlyDictionary<string, Tensor> outputs = session.Run(stacked);
            totals.AddRun(Stopwatch.GetElapsedTime(start));
            for (int i = 0; i < batch.Count; i++)
            {
                foreach (TensorInfo info in model.Outputs)
                {
                    Tensor item = InputBatching.Slice(outputs[info.Name], info.Name, i, batch.Count);
                    WriteOutputs(request, batch[i].Stem, info.Name, item, NpyFile.Format(item), totals, outputLayout);
                }
            }

            done += batch.Count;
            double rate = done / clock.Elapsed.TotalSeconds;
            bar.Update((double)done / items.Count, string.Create(CultureInfo.InvariantCulture, $"{done}/{items.Count} items  {rate:F1} items/s"));
        }

        bar.Clear();
        Print($"{totals.Summary(items.Count, clock.Elapsed)} -> {request.OutputFolder}");
        foreach (string line in totals.ClampWarnings())
        {
            Print($"{line}");
        }

        return 0;
    }

    private static async Task<int> RunOnFarmAsync(
        InferRequest request, OnnxModel model, ModelInputs batching, IReadOnlyList<ItemSet> items, FarmTarget farm, CancellationToken cancellationToken)
    {
        Print($"Running {Path.GetFileName(request.ModelPath)} on {items.Count} item(s) on the farm at {farm.Coordinator}: input(s) {string.Join(", ", model.Inputs)}, outputs {string.Join(", ", model.Outputs)}; {farm.ItemsPerTask} item(s) per task");
        if (items.Any(i => i.Inputs.Values.Any(v => v.Entry is null && ImageInput.IsImagePath(v.Path))))
        {
            Print($"Images: {request.Preprocessing}; {string.Join(", ", batching.Inputs.Select(i => $"{i.Input.Name} {i.Layout.ToString().ToUpperInvariant()}"))}");
        }

        ImageLayout outputLayout = batching.Inputs[0].Layout;
        using var bar = new ProgressBar(Console.Error);
        var totals = new InferTotals(model.Outputs.Select(o => o.Name));
        var clock = Stopwatch.StartNew();
        JobDetails? job = await RunFarmJobAsync(
            farm,
            request.ModelPath,
            model,
            [.. items.Select(item => new FarmItem(item.Stem, string.Join(", ", item.Inputs.Values.Select(v => v.Path).Distinct()), () => batching.Load([item])))],
            bar,
            (item, outputs) =>
            {
                foreach (TensorInfo info in model.Outputs)
                {
                    Tensor tensor = outputs[info.Name];
                    WriteOutputs(request, item.Stem, info.Name, tensor, NpyFile.Format(tensor), totals, outputLayout);
                }
            },
            cancellationToken).ConfigureAwait(false);
        if (job is null)
        {
            return 1;
        }

        bar.Clear();
        Print($"{totals.FarmSummary(items.Count, clock.Elapsed, job)} -> {request.OutputFolder}");
        foreach (string line in totals.ClampWarnings())
        {
            Print($"{line}");
        }

        return 0;
    }

    // Runs the items as one farm job, handing each verified item's outputs to received. Null when the job failed
    // or was cancelled on the farm; that has then been said in one line (exit code 1).
    internal static async Task<JobDetails?> RunFarmJobAsync(
        FarmTarget farm,
        string modelPath,
        OnnxModel model,
        IReadOnlyList<FarmItem> items,
        ProgressBar bar,
        Action<FarmItem, IReadOnlyDictionary<string, Tensor>> received,
        CancellationToken cancellationToken)
    {
        using CoordinatorClient http = (farm.SignIn ?? new ClientSettings.Resolved(null, null, null)).CreateClient(farm.Coordinator, TimeSpan.FromMinutes(10));
        try
        {
            return await new InferenceJobRunner(http, bar).RunAsync(modelPath, model, items, farm.ItemsPerTask, received, cancellationToken).ConfigureAwait(false);
        }
        catch (JobFailedException failed)
        {
            bar.Clear();
            await Console.Error.WriteLineAsync($"renderfarm: {failed.Message}").ConfigureAwait(false);
            return null;
        }
    }

    private static void WriteOutputs(InferRequest request, string stem, string outputName, Tensor tensor, byte[] npy, InferTotals totals, ImageLayout layout)
    {
        OutputFiles.WriteAtomically(Path.Combine(request.OutputFolder, OutputFiles.FileName(stem, outputName, NpyFile.Extension)), npy);
        totals.AddFile();

        // Only floating-point [1, C, H, W] (or, for a channels-last model, [1, H, W, C]) outputs are images.
        Tensor? image = tensor.ElementType is not (TensorElementType.Float32 or TensorElementType.Float16) ? null
            : layout == ImageLayout.Nhwc && ImageOutput.IsImageShaped(tensor.Shape, ImageLayout.Nhwc) ? ImageOutput.ToChannelsFirst(tensor)
            : ImageOutput.IsImageShaped(tensor.Shape) ? tensor
            : null;
        if (image is not null)
        {
            (byte[] png, long clamped) = ImageOutput.EncodePng(image, request.Postprocessing);
            OutputFiles.WriteAtomically(Path.Combine(request.OutputFolder, OutputFiles.FileName(stem, outputName, ".png")), png);
            totals.AddPng(outputName, clamped, tensor.Length);
        }
    }

    private static string BatchDescription(bool canStack, bool hasBatchDimension, int requested) => (canStack, hasBatchDimension) switch
    {
        (true, _) => string.Create(CultureInfo.InvariantCulture, $"batches of up to {requested}"),
        (_, true) when requested > 1 => "the model's batch dimension is fixed at 1, so items run one by one",
        _ => "one item per run",
    };

    internal static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    internal static void CreateOutputFolder(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Cannot create output folder '{folder}': {exception.Message}", exception);
        }
    }

    /// <summary>Run times, files written and clamped pixels of one <c>infer</c> run.</summary>
    private sealed class InferTotals(IEnumerable<string> outputNames)
    {
        private readonly Dictionary<string, (long Clamped, long Values)> _clamped = outputNames.ToDictionary(n => n, _ => (0L, 0L), StringComparer.Ordinal);
        private TimeSpan _model;
        private int _runs;
        private int _files;
        private int _pngs;

        public void AddRun(TimeSpan elapsed)
        {
            _model += elapsed;
            _runs++;
        }

        public void AddFile() => _files++;

        public void AddPng(string outputName, long clamped, long values)
        {
            _pngs++;
            (long c, long v) = _clamped[outputName];
            _clamped[outputName] = (c + clamped, v + values);
        }

        public string Summary(int items, TimeSpan wall) => string.Create(
            CultureInfo.InvariantCulture,
            $"{items} item(s) in {wall.TotalSeconds:F2} s ({items / wall.TotalSeconds:F1} items/s) over {_runs} run(s); model {_model.TotalSeconds:F2} s ({_model.TotalMilliseconds / items:F1} ms/item); {_files} .npy and {_pngs} PNG file(s)");

        public string FarmSummary(int items, TimeSpan wall, JobDetails job)
        {
            IReadOnlyList<FrameLink> outputs = [.. job.Tasks.SelectMany(t => t.Frames)];
            int providers = job.Tasks.Select(t => t.Provider).Where(p => p is not null).Distinct(StringComparer.OrdinalIgnoreCase).Count();
            double model = outputs.Sum(o => o.RenderSeconds);
            return string.Create(
                CultureInfo.InvariantCulture,
                $"{items} item(s) in {wall.TotalSeconds:F2} s ({items / wall.TotalSeconds:F1} items/s), job {job.Job.Id}: {job.Tasks.Count} task(s) by {providers} provider(s); model {model:F2} s ({model * 1000 / items:F1} ms/item); {_files} .npy and {_pngs} PNG file(s)");
        }

        public IEnumerable<string> ClampWarnings() => _clamped
            .Where(pair => pair.Value.Clamped > 0)
            .Select(pair => string.Create(
                CultureInfo.InvariantCulture,
                $"note: {pair.Value.Clamped} of {pair.Value.Values} values of '{pair.Key}' fell outside 0..255 in its PNGs and were clamped (see {ImagePostprocessing.ScaleOption} and {ImagePostprocessing.OffsetOption}); the .npy files hold the exact values."));
    }
}

/// <summary>What to run and where to put the outputs.</summary>
/// <param name="ModelPath">The ONNX model.</param>
/// <param name="InputPaths">One batch item per file.</param>
/// <param name="NamedInputs">Files per model input, each <c>NAME=FILE[,FILE...]</c>.</param>
/// <param name="OutputFolder">Folder for the outputs.</param>
/// <param name="BatchSize">Most items per run where the model's batch dimension is dynamic.</param>
/// <param name="Preprocessing">How images become tensors.</param>
/// <param name="Postprocessing">How image-shaped outputs become PNG pixels.</param>
/// <param name="Layout">Where images put their channels; null recognises it from each input's shape.</param>
internal sealed record InferRequest(
    string ModelPath, IReadOnlyList<string> InputPaths, IReadOnlyList<string> NamedInputs, string OutputFolder, int BatchSize, ImagePreprocessing Preprocessing, ImagePostprocessing Postprocessing,
    ImageLayout? Layout = null);

/// <summary>A farm to run an <c>infer</c> batch on.</summary>
/// <param name="Coordinator">The coordinator's address.</param>
/// <param name="ItemsPerTask">Items per task of the job.</param>
/// <param name="SignIn">How to sign in to it; null for the default client key file.</param>
internal sealed record FarmTarget(Uri Coordinator, int ItemsPerTask, ClientSettings.Resolved? SignIn = null);
