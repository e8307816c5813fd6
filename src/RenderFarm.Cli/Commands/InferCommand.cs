using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Terminal;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;

namespace RenderFarm.Cli.Commands;

/// <summary>
/// <c>renderfarm infer MODEL INPUTS... --out DIR</c>: runs an ONNX model over a batch of .npy arrays
/// and images on the local Vulkan device and writes one set of outputs per input.
/// </summary>
internal static class InferCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The ONNX model (.onnx) with one input." };
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "One batch item per file: .npy arrays (float32/64, int32/64, uint8) or .png/.jpg/.jpeg images.",
            Arity = ArgumentArity.OneOrMore,
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
        var command = new Command(
            "infer",
            "Run an ONNX model over a batch of .npy arrays and images on the local Vulkan device, writing each item's outputs as .npy (and PNG where an output is image-shaped).")
        {
            model, inputs, output, device, batchSize, imageSize, channels, scale, mean, std, outputScale, outputOffset,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(
            () => RunAsync(
                new InferRequest(
                    result.GetValue(model)!,
                    result.GetValue(inputs)!,
                    result.GetValue(output)!,
                    result.GetValue(batchSize),
                    ImagePreprocessing.FromOptions(
                        result.GetValue(imageSize), result.GetValue(channels), result.GetValue(scale), result.GetValue(mean), result.GetValue(std)),
                    ImagePostprocessing.FromOptions(result.GetValue(outputScale), result.GetValue(outputOffset))),
                result.GetValue(device),
                cancellationToken),
            cancellationToken));
        return command;
    }

    /// <summary>Checks the model and every input, then runs the batches and prints progress and a summary.</summary>
    /// <remarks>
    /// The work runs on the thread pool: System.CommandLine handles Ctrl-C only once the action has
    /// returned its task, and a batch loop that completed synchronously would leave SIGINT to kill the process.
    /// </remarks>
    public static Task<int> RunAsync(InferRequest request, int? deviceIndex, CancellationToken cancellationToken) =>
        Task.Run(() => Run(request, deviceIndex, cancellationToken), cancellationToken);

    private static int Run(InferRequest request, int? deviceIndex, CancellationToken cancellationToken)
    {
        if (request.BatchSize < 1 || request.BatchSize > 4096)
        {
            throw new UserInputException($"--batch-size must be between 1 and 4096; got {request.BatchSize}.");
        }

        // Everything a user can get wrong is checked before the device opens or any output is written.
        OnnxModel model = OnnxModel.Load(request.ModelPath);
        model.EnsureSupported();
        if (model.Inputs.Count != 1)
        {
            throw new UserInputException(
                $"{request.ModelPath} has {model.Inputs.Count} inputs ({string.Join(", ", model.Inputs)}); 'renderfarm infer' feeds models with one input.");
        }

        var batching = new InputBatching(model.Inputs[0], request.Preprocessing);
        IReadOnlyList<InputItem> items = batching.DescribeAll(request.InputPaths);
        CreateOutputFolder(request.OutputFolder);
        int batchLimit = batching.CanStack ? request.BatchSize : 1;
        Print($"Running {Path.GetFileName(request.ModelPath)} on {items.Count} item(s): input {batching.Input}, outputs {string.Join(", ", model.Outputs)}; {BatchDescription(batching, request.BatchSize)}");
        if (items.Any(i => ImageInput.IsImagePath(i.Path)))
        {
            Print($"Images: {request.Preprocessing}");
        }

        cancellationToken.ThrowIfCancellationRequested();
        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        using var session = new InferenceSession(device, model);
        Print($"Device: {device.Info}");

        using var bar = new ProgressBar(Console.Error);
        var totals = new InferTotals(model.Outputs.Select(o => o.Name));
        var clock = Stopwatch.StartNew();
        int done = 0;
        foreach (IReadOnlyList<InputItem> batch in batching.Batches(items, batchLimit))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Tensor stacked = InputBatching.Stack([.. batch.Select(batching.Load)]);
            long start = Stopwatch.GetTimestamp();
            IReadOnlyDictionary<string, Tensor> outputs = session.Run(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [batching.Input.Name] = stacked });
            totals.AddRun(Stopwatch.GetElapsedTime(start));
            for (int i = 0; i < batch.Count; i++)
            {
                foreach (TensorInfo info in model.Outputs)
                {
                    Tensor item = InputBatching.Slice(outputs[info.Name], info.Name, i, batch.Count);
                    WriteOutputs(request, batch[i].Stem, info.Name, item, totals);
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

    private static void WriteOutputs(InferRequest request, string stem, string outputName, Tensor tensor, InferTotals totals)
    {
        OutputFiles.WriteAtomically(Path.Combine(request.OutputFolder, OutputFiles.FileName(stem, outputName, NpyFile.Extension)), NpyFile.Format(tensor));
        totals.AddFile();
        if (ImageOutput.IsImageShaped(tensor.Shape))
        {
            (byte[] png, long clamped) = ImageOutput.EncodePng(tensor, request.Postprocessing);
            OutputFiles.WriteAtomically(Path.Combine(request.OutputFolder, OutputFiles.FileName(stem, outputName, ".png")), png);
            totals.AddPng(outputName, clamped, tensor.Length);
        }
    }

    private static string BatchDescription(InputBatching batching, int requested) => batching switch
    {
        { CanStack: true } => string.Create(CultureInfo.InvariantCulture, $"batches of up to {requested}"),
        { HasBatchDimension: true } when requested > 1 => "the model's batch dimension is fixed at 1, so items run one by one",
        _ => "one item per run",
    };

    private static void Print(FormattableString line) => Console.WriteLine(line.ToString(CultureInfo.InvariantCulture));

    private static void CreateOutputFolder(string folder)
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
/// <param name="OutputFolder">Folder for the outputs.</param>
/// <param name="BatchSize">Most items per run where the model's batch dimension is dynamic.</param>
/// <param name="Preprocessing">How images become tensors.</param>
/// <param name="Postprocessing">How image-shaped outputs become PNG pixels.</param>
internal sealed record InferRequest(
    string ModelPath, IReadOnlyList<string> InputPaths, string OutputFolder, int BatchSize, ImagePreprocessing Preprocessing, ImagePostprocessing Postprocessing);
