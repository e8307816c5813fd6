using System.IO.Compression;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Testing;
using SixLabors.ImageSharp;

namespace RenderFarm.Cli.Tests;

public sealed class InferCommandFacts : IDisposable
{
    private static readonly string s_edgeModel = RepositoryPaths.Combine("samples/edge-detect/edge-detect.onnx");
    private static readonly string s_cnnModel = RepositoryPaths.Combine("bench/RenderFarm.Benchmarks/Models/small-cnn.onnx");
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/edge-detect/cornell-box.png");
    private static readonly string s_texturedCube = RepositoryPaths.Combine("samples/edge-detect/textured-cube.png");
    private static readonly string s_tinyEncoder = RepositoryPaths.Combine("tests/RenderFarm.Inference.Tests/Samples/tiny-encoder.onnx");

    private readonly string _folder = Directory.CreateTempSubdirectory("renderfarm-infer-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    [Trait("Category", "Gpu")]
    public async Task Infer_writes_an_npy_and_a_png_per_input_and_a_summary()
    {
        string output = Path.Combine(_folder, "out");

        CliResult result = await CliRunner.RunAsync("infer", s_edgeModel, s_cornellBox, s_texturedCube, "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(
            ["cornell-box.edges.npy", "cornell-box.edges.png", "textured-cube.edges.npy", "textured-cube.edges.png"],
            Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Tensor edges = NpyFile.Read(Path.Combine(output, "cornell-box.edges.npy"));
        Assert.Equal([1, 1, 128, 128], edges.Shape);
        Assert.InRange(edges.Data.Max(), 0.1f, 1f);
        IImageInfo png = Image.Identify(Path.Combine(output, "textured-cube.edges.png"));
        Assert.Equal((128, 128), (png.Width, png.Height));
        Assert.Contains("2 item(s) in", result.Output, StringComparison.Ordinal);
        Assert.Contains("items/s", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public async Task Batched_and_one_by_one_runs_write_the_same_outputs()
    {
        string npy = Path.Combine(_folder, "noise.npy");
        var random = new Random(3);
        await File.WriteAllBytesAsync(npy, NpyFile.Format(new Tensor([3, 64, 64], [.. Enumerable.Range(0, 3 * 64 * 64).Select(_ => (float)random.NextDouble())])));
        string[] inputs = [npy, s_cornellBox, s_texturedCube];

        CliResult batched = await CliRunner.RunAsync(["infer", s_cnnModel, .. inputs, "--image-size", "64x64", "--batch-size", "3", "--out", Path.Combine(_folder, "batched")]);
        CliResult single = await CliRunner.RunAsync(["infer", s_cnnModel, .. inputs, "--image-size", "64x64", "--batch-size", "1", "--out", Path.Combine(_folder, "single")]);

        Assert.True(batched.ExitCode == 0, batched.Error);
        Assert.True(single.ExitCode == 0, single.Error);
        Assert.Contains("over 1 run(s)", batched.Output, StringComparison.Ordinal);
        Assert.Contains("over 3 run(s)", single.Output, StringComparison.Ordinal);
        foreach (string stem in new[] { "noise", "cornell-box", "textured-cube" })
        {
            Tensor a = NpyFile.Read(Path.Combine(_folder, "batched", $"{stem}.probabilities.npy"));
            Tensor b = NpyFile.Read(Path.Combine(_folder, "single", $"{stem}.probabilities.npy"));
            Assert.Equal([1, 10], a.Shape);
            Assert.Equal(1f, a.Data.Sum(), 4);
            Assert.Equal(b.Data, a.Data, (x, y) => Math.Abs(x - y) <= 1e-6f);
        }

        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(_folder, "batched")), f => f.EndsWith(".png", StringComparison.Ordinal));
    }

    /// <summary>
    /// A model with two int64 inputs (token ids and a mask) and two outputs: items given as NAME=FILES lists and as
    /// .npz archives give the same files, every output is stored as .npy, and none is taken for an image (a
    /// [1, 5, 16] hidden state used to be written as a PNG too). Such models were refused ("feeds models with one input").
    /// </summary>
    [Fact]
    [Trait("Category", "Gpu")]
    public async Task A_text_encoder_with_two_int64_inputs_runs_from_named_lists_and_from_npz_archives_alike()
    {
        var items = new (string Stem, float[] Ids, float[] Mask)[]
        {
            ("first", [3, 14, 15, 9, 2], [1, 1, 1, 1, 1]),
            ("second", [27, 18, 28, 0, 0], [1, 1, 1, 0, 0]),
            ("third", [1, 6, 18], [1, 1, 1]),
        };
        string lists = Path.Combine(_folder, "lists");
        string archives = Path.Combine(_folder, "archives");
        Directory.CreateDirectory(lists);
        Directory.CreateDirectory(archives);
        var ids = new List<string>();
        var masks = new List<string>();
        var npz = new List<string>();
        foreach ((string stem, float[] idValues, float[] maskValues) in items)
        {
            var idTensor = new Tensor([idValues.Length], idValues, TensorElementType.Int64);
            var maskTensor = new Tensor([maskValues.Length], maskValues, TensorElementType.Int64);
            ids.Add(Path.Combine(lists, $"{stem}.npy"));
            masks.Add(Path.Combine(lists, $"{stem}-mask.npy"));
            await File.WriteAllBytesAsync(ids[^1], NpyFile.Format(idTensor));
            await File.WriteAllBytesAsync(masks[^1], NpyFile.Format(maskTensor));
            npz.Add(Path.Combine(archives, $"{stem}.npz"));
            using ZipArchive zip = ZipFile.Open(npz[^1], ZipArchiveMode.Create);
            foreach ((string name, Tensor tensor) in new[] { ("input_ids", idTensor), ("attention_mask", maskTensor) })
            {
                await using Stream entry = await zip.CreateEntry(name + ".npy").OpenAsync();
                await entry.WriteAsync(NpyFile.Format(tensor));
            }
        }

        CliResult named = await CliRunner.RunAsync(
            ["infer", s_tinyEncoder, "--input", $"input_ids={string.Join(',', ids)}", "--input", $"attention_mask={string.Join(',', masks)}", "--out", Path.Combine(_folder, "named")]);
        CliResult archived = await CliRunner.RunAsync(["infer", s_tinyEncoder, .. npz, "--out", Path.Combine(_folder, "npz")]);

        Assert.True(named.ExitCode == 0, named.Error);
        Assert.True(archived.ExitCode == 0, archived.Error);
        Assert.Contains("over 2 run(s)", named.Output, StringComparison.Ordinal);
        Assert.Equal(6, Directory.GetFiles(Path.Combine(_folder, "named")).Length);
        foreach ((string stem, float[] idValues, _) in items)
        {
            foreach (string output in new[] { "last_hidden_state", "sentence_embedding" })
            {
                Tensor a = NpyFile.Read(Path.Combine(_folder, "named", $"{stem}.{output}.npy"));
                Tensor b = NpyFile.Read(Path.Combine(_folder, "npz", $"{stem}.{output}.npy"));
                Assert.Equal(TensorElementType.Float32, a.ElementType);
                Assert.Equal(a.Shape, b.Shape);
                Assert.Equal(a.Data, b.Data, (x, y) => Math.Abs(x - y) <= 1e-6f);
            }

            Assert.Equal([1, idValues.Length, 16], NpyFile.Read(Path.Combine(_folder, "named", $"{stem}.last_hidden_state.npy")).Shape);
        }

        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(_folder, "named")), f => f.EndsWith(".png", StringComparison.Ordinal));
    }

    /// <summary>Text in, embeddings out: one normalized embedding per line, in embeddings.txt and embeddings.npy alike.</summary>
    [Fact]
    [Trait("Category", "Gpu")]
    public async Task Text_lines_become_one_normalized_embedding_per_line()
    {
        string vocab = Path.Combine(_folder, "vocab.txt");
        await File.WriteAllLinesAsync(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sat", "on", "mat", "hello", "world"]);
        string text = Path.Combine(_folder, "lines.txt");
        await File.WriteAllLinesAsync(text, ["The cat sat on the mat.", "hello world", "a dog"]);
        string output = Path.Combine(_folder, "embedded");

        CliResult result = await CliRunner.RunAsync(
            "infer", s_tinyEncoder, "--text", text, "--tokenizer", vocab, "--pooling", "mean", "--normalize", "--batch-size", "2", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        string[] lines = await File.ReadAllLinesAsync(Path.Combine(output, "embeddings.txt"));
        Tensor npy = NpyFile.Read(Path.Combine(output, "embeddings.npy"));
        Assert.Equal(3, lines.Length);
        Assert.Equal([3, 16], npy.Shape);
        for (int i = 0; i < lines.Length; i++)
        {
            float[] values = [.. lines[i].Split(' ').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture))];
            Assert.Equal(npy.Data.AsSpan(i * 16, 16).ToArray(), values);
            Assert.Equal(1.0, Math.Sqrt(values.Sum(v => (double)v * v)), 5);
        }

        Assert.Contains("3 embedding(s) of 16 values", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("missing-model", "Model file 'missing.onnx' does not exist.")]
    [InlineData("missing-input", "missing.png: no such file.")]
    [InlineData("not-an-image", "not-an-image.png: not an image this program reads (PNG or JPEG).")]
    [InlineData("wrong-size", "does not fit the model's input image [?, 3, 64, 64]; use --image-size 64x64.")]
    [InlineData("unsupported", "unsupported operator Sqrx (domain 'ai.onnx', first used by node 'magnitude')")]
    [InlineData("bad-mean", "--mean has 2 values; give one, or one per channel (3 for rgb).")]
    [InlineData("text-input", "notes.txt: inputs must be .npy arrays or .png/.jpg/.jpeg images.")]
    [InlineData("bad-coordinator", "'127.0.0.1:5080' is not an http(s) URL; write e.g. http://127.0.0.1:5080.")]
    [InlineData("no-items-per-task", "--items-per-task must be at least 1; got 0.")]
    [InlineData("unreachable-coordinator", "cannot reach the coordinator: Connection refused (127.0.0.1:1)")]
    [InlineData("text-without-tokenizer", "--text needs --tokenizer (a vocab.txt or tokenizer.json).")]
    [InlineData("bad-layout", "--layout must be nchw or nhwc; got 'chw'.")]
    public async Task Bad_input_gives_one_line_and_its_exit_code_before_any_output(string problem, string expected)
    {
        string output = Path.Combine(_folder, "out");
        string notAnImage = Path.Combine(_folder, "not-an-image.png");
        await File.WriteAllTextAsync(notAnImage, "text");
        string notes = Path.Combine(_folder, "notes.txt");
        await File.WriteAllTextAsync(notes, "text");
        string unsupported = Path.Combine(_folder, "unsupported.onnx");
        byte[] model = await File.ReadAllBytesAsync(s_edgeModel);
        int sqrt = model.AsSpan().IndexOf("Sqrt"u8);
        model[sqrt + 3] = (byte)'x'; // the node's operator becomes "Sqrx", which no engine knows
        await File.WriteAllBytesAsync(unsupported, model);
        string[] arguments = problem switch
        {
            "missing-model" => ["missing.onnx", s_cornellBox],
            "missing-input" => [s_edgeModel, Path.Combine(_folder, "missing.png")],
            "not-an-image" => [s_edgeModel, notAnImage],
            "wrong-size" => [s_cnnModel, s_cornellBox],
            "unsupported" => [unsupported, s_cornellBox],
            "bad-mean" => [s_edgeModel, s_cornellBox, "--mean", "0.5,0.5"],
            "bad-coordinator" => [s_edgeModel, s_cornellBox, "--coordinator", "127.0.0.1:5080"],
            "unreachable-coordinator" => [s_edgeModel, s_cornellBox, "--coordinator", "http://127.0.0.1:1"],
            "no-items-per-task" => [s_edgeModel, s_cornellBox, "--coordinator", "http://127.0.0.1:1", "--items-per-task", "0"],
            "text-without-tokenizer" => [s_tinyEncoder, "--text", notes],
            "bad-layout" => [s_edgeModel, s_cornellBox, "--layout", "chw"],
            _ => [s_edgeModel, notes],
        };

        CliResult result = await CliRunner.RunAsync(["infer", .. arguments, "--out", output]);

        // A coordinator nobody answers at is exit code 3 (README, "Exit codes"); the user's own mistakes are 2.
        Assert.Equal(problem == "unreachable-coordinator" ? 3 : 2, result.ExitCode);
        Assert.StartsWith("renderfarm: error: ", result.Error, StringComparison.Ordinal);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any());
    }
}
