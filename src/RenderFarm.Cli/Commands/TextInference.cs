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
/// <c>renderfarm infer MODEL --text FILE --tokenizer VOCAB --out DIR</c>: tokenizes each line, runs the encoder on the
/// local Vulkan device (or, with <c>--coordinator</c>, one line per item on a farm), pools and normalizes here, and
/// writes one embedding per line.
/// </summary>
internal static class TextInference
{
    /// <summary>Embeds each line of a text file with an encoder model and writes one embedding per line.</summary>
    /// <param name="request">What to embed and where to put the embeddings.</param>
    /// <param name="deviceIndex">The local Vulkan device.</param>
    /// <param name="farm">
    /// A coordinator to run the model on instead of the local device: each line is tokenized here and travels as one
    /// item of token tensors; its outputs come back whole and are pooled and normalized here, as locally.
    /// </param>
    /// <param name="cancellationToken">Ctrl-C; cancels the job on the farm too.</param>
    public static Task<int> RunAsync(TextRequest request, int? deviceIndex, FarmTarget? farm, CancellationToken cancellationToken) =>
        Task.Run(() => farm is null ? Task.FromResult(RunText(request, deviceIndex, cancellationToken)) : RunTextOnFarmAsync(request, farm, cancellationToken), cancellationToken);

    internal static TextPooling ParsePooling(string text) => text.Trim().ToLowerInvariant() switch
    {
        "mean" => TextPooling.Mean,
        "cls" => TextPooling.Cls,
        "none" => TextPooling.None,
        _ => throw new UserInputException($"--pooling must be mean, cls or none; got '{text}'."),
    };

    private static (TextTokenizer Tokenizer, string[] Lines, OnnxModel Model) PrepareText(TextRequest request, FarmTarget? farm)
    {
        if (request.HasFiles)
        {
            throw new UserInputException("--text takes its items from the text file; leave out input files and --input.");
        }

        if (request.BatchSize < 1 || request.BatchSize > 4096)
        {
            throw new UserInputException($"--batch-size must be between 1 and 4096; got {request.BatchSize}.");
        }

        if (request.MaxLength < 2 || request.MaxLength > 8192)
        {
            throw new UserInputException($"--max-length must be between 2 and 8192; got {request.MaxLength}.");
        }

        if (farm is not null && farm.ItemsPerTask < 1)
        {
            throw new UserInputException($"--items-per-task must be at least 1; got {farm.ItemsPerTask}.");
        }

        TextTokenizer tokenizer = TextTokenizer.Load(request.TokenizerPath);
        string[] lines = ReadLines(request.TextPath);
        OnnxModel model = OnnxModel.Load(request.ModelPath);
        model.EnsureSupported();
        if (farm is not null)
        {
            InferCommand.EnsureFarmCompatible(request.ModelPath, model);
        }

        InferCommand.CreateOutputFolder(request.OutputFolder);
        InferCommand.Print($"Embedding {lines.Length} line(s) of {Path.GetFileName(request.TextPath)} with {Path.GetFileName(request.ModelPath)}: {tokenizer.Kind}, at most {request.MaxLength} tokens, {request.Pooling.ToString().ToLowerInvariant()} pooling{(request.Normalize ? ", normalized" : string.Empty)}");
        return (tokenizer, lines, model);
    }

    private static int RunText(TextRequest request, int? deviceIndex, CancellationToken cancellationToken)
    {
        (TextTokenizer tokenizer, string[] lines, OnnxModel model) = PrepareText(request, null);
        cancellationToken.ThrowIfCancellationRequested();
        using ComputeDevice device = ComputeDevice.Open(deviceIndex);
        using var session = new InferenceSession(device, model);
        InferCommand.Print($"Device: {device.Info}");
        var embeddings = new List<float[]>(lines.Length);
        var clock = Stopwatch.StartNew();
        using var bar = new ProgressBar(Console.Error);
        for (int start = 0; start < lines.Length; start += request.BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[][] ids = [.. lines.Skip(start).Take(request.BatchSize).Select(line => tokenizer.Encode(line, request.MaxLength))];
            IReadOnlyDictionary<string, Tensor> outputs = session.Run(TextEmbedding.Inputs(model.Inputs, ids, tokenizer.PadId));
            embeddings.AddRange(TextEmbedding.Pool(outputs[model.Outputs[0].Name], [.. ids.Select(i => i.Length)], request.Pooling, request.Normalize));
            bar.Update((double)embeddings.Count / lines.Length, string.Create(CultureInfo.InvariantCulture, $"{embeddings.Count}/{lines.Length} lines"));
        }

        bar.Clear();
        int width = WriteEmbeddings(request.OutputFolder, embeddings);
        InferCommand.Print($"{embeddings.Count} embedding(s) of {width} values in {clock.Elapsed.TotalSeconds:F2} s -> {request.OutputFolder}");
        return 0;
    }

    // Each line one item of its own token tensors (no padding); the outputs pooled here, exactly as a local run pools.
    private static async Task<int> RunTextOnFarmAsync(TextRequest request, FarmTarget farm, CancellationToken cancellationToken)
    {
        (TextTokenizer tokenizer, string[] lines, OnnxModel model) = PrepareText(request, farm);
        InferCommand.Print($"On the farm at {farm.Coordinator}: one item per line, {farm.ItemsPerTask} item(s) per task; tokenized, pooled and normalized here");
        var tokens = new int[lines.Length][];
        var items = new List<FarmItem>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            int[] ids = tokens[i] = tokenizer.Encode(lines[i], request.MaxLength);
            items.Add(new FarmItem(
                string.Create(CultureInfo.InvariantCulture, $"line{i + 1:D6}"),
                string.Create(CultureInfo.InvariantCulture, $"line {i + 1}"),
                () => TextEmbedding.Inputs(model.Inputs, [ids], tokenizer.PadId)));
        }

        var embeddings = new float[lines.Length][];
        var index = items.Select((item, i) => (item, i)).ToDictionary(p => p.item, p => p.i);
        using var bar = new ProgressBar(Console.Error);
        var clock = Stopwatch.StartNew();
        JobDetails? job = await InferCommand.RunFarmJobAsync(
            farm,
            request.ModelPath,
            model,
            items,
            bar,
            (item, outputs) =>
            {
                int i = index[item];
                embeddings[i] = TextEmbedding.Pool(outputs[model.Outputs[0].Name], [tokens[i].Length], request.Pooling, request.Normalize)[0];
            },
            cancellationToken).ConfigureAwait(false);
        if (job is null)
        {
            return 1;
        }

        bar.Clear();
        int missing = embeddings.Count(e => e is null);
        if (missing > 0)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"renderfarm: job {job.Job.Id} ended with {missing} of {lines.Length} line(s) not embedded.")).ConfigureAwait(false);
            return 1;
        }

        int width = WriteEmbeddings(request.OutputFolder, embeddings);
        InferCommand.Print($"{embeddings.Length} embedding(s) of {width} values in {clock.Elapsed.TotalSeconds:F2} s, job {job.Job.Id} -> {request.OutputFolder}");
        return 0;
    }

    // embeddings.txt (one per line, round-trip precision) and embeddings.npy [lines, hidden]; returns hidden.
    private static int WriteEmbeddings(string folder, IReadOnlyList<float[]> embeddings)
    {
        int width = embeddings.Count == 0 ? 0 : embeddings[0].Length;
        if (embeddings.Any(e => e.Length != width))
        {
            throw new UserInputException("The model's embeddings differ in length from one text to another.");
        }

        var text = new System.Text.StringBuilder();
        foreach (float[] vector in embeddings)
        {
            text.AppendJoin(' ', vector.Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append('\n');
        }

        OutputFiles.WriteAtomically(Path.Combine(folder, "embeddings.txt"), System.Text.Encoding.UTF8.GetBytes(text.ToString()));
        OutputFiles.WriteAtomically(
            Path.Combine(folder, "embeddings" + NpyFile.Extension),
            NpyFile.Format(new Tensor([embeddings.Count, width], [.. embeddings.SelectMany(v => v)])));
        return width;
    }

    /// <summary>The lines of a UTF-8 text file (a final empty line left out), bounded in size.</summary>
    private static string[] ReadLines(string path)
    {
        const long MaxBytes = 256L << 20;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new UserInputException($"{path}: no such file.");
            }

            if (info.Length > MaxBytes)
            {
                throw new UserInputException($"{path}: {info.Length} bytes is more text than one run takes ({MaxBytes}).");
            }

            string[] lines = File.ReadAllLines(path);
            return lines.Length == 0
                ? throw new UserInputException($"{path}: has no lines to embed.")
                : lines;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{path}: cannot read it: {e.Message}", e);
        }
    }
}

/// <summary>Text in, embeddings out.</summary>
/// <param name="ModelPath">The encoder model.</param>
/// <param name="TextPath">One text per line.</param>
/// <param name="TokenizerPath">A vocab.txt or tokenizer.json.</param>
/// <param name="OutputFolder">Folder for embeddings.txt and embeddings.npy.</param>
/// <param name="BatchSize">Most lines per run.</param>
/// <param name="MaxLength">Most tokens per text.</param>
/// <param name="Pooling">How token vectors become one embedding.</param>
/// <param name="Normalize">Scale each embedding to length 1.</param>
/// <param name="HasFiles">Input files or --input were given as well (refused).</param>
internal sealed record TextRequest(
    string ModelPath, string TextPath, string TokenizerPath, string OutputFolder, int BatchSize, int MaxLength, TextPooling Pooling, bool Normalize, bool HasFiles);
