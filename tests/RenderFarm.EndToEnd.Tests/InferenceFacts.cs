using System.Diagnostics;
using System.IO.Compression;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using Xunit.Abstractions;
using Ort = Microsoft.ML.OnnxRuntime;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// Batch inference through the whole farm: <c>renderfarm infer --coordinator</c> as a client process against a
/// coordinator and two provider workers, each a separate process, on the local Vulkan device (lavapipe here).
/// </summary>
[Collection(FarmCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class InferenceFacts
{
    private const string Model = "samples/edge-detect/edge-detect.onnx";
    private static readonly string[] s_images = ["samples/edge-detect/cornell-box.png", "samples/edge-detect/textured-cube.png"];
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan s_realModelTimeout = TimeSpan.FromMinutes(4);

    private readonly PostgresFixture _postgres;
    private readonly S3Fixture _s3;
    private readonly ITestOutputHelper _output;

    public InferenceFacts(PostgresFixture postgres, S3Fixture s3, ITestOutputHelper output)
    {
        _postgres = postgres;
        _s3 = s3;
        _output = output;
    }

    [Fact]
    public async Task Infer_with_a_coordinator_writes_the_same_outputs_as_the_local_run()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"));
            string[] inputs = [RepositoryPaths.Combine(Model), .. s_images.Select(RepositoryPaths.Combine)];
            string remote = Path.Combine(farm.Folder, "farm-out");
            string local = Path.Combine(farm.Folder, "local-out");

            CommandResult client = await farm.RunCommandAsync(
                "client", ["infer", .. inputs, "--coordinator", farm.Address.AbsoluteUri, "--out", remote], s_commandTimeout);
            CommandResult reference = await farm.RunCommandAsync("local", ["infer", .. inputs, "--out", local], s_commandTimeout);

            Assert.Equal(0, client.ExitCode);
            Assert.Equal(0, reference.ExitCode);
            Assert.Contains("2 item(s) in", client.Output, StringComparison.Ordinal);
            string[] expected = ["cornell-box.edges.npy", "cornell-box.edges.png", "textured-cube.edges.npy", "textured-cube.edges.png"];
            Assert.Equal(expected, Directory.GetFiles(remote).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal(expected, Directory.GetFiles(local).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            foreach (string file in expected)
            {
                byte[] fromFarm = await File.ReadAllBytesAsync(Path.Combine(remote, file));
                byte[] fromDevice = await File.ReadAllBytesAsync(Path.Combine(local, file));
                Assert.True(fromFarm.AsSpan().SequenceEqual(fromDevice), $"{file} from the farm ({fromFarm.Length} bytes) differs from the local run's ({fromDevice.Length} bytes).");
            }
        });
    }

    /// <summary>
    /// Text and typed tensors on the farm, each through the client as a separate process and two provider workers:
    /// a BERT-style encoder (int64 token ids and masks in, two float outputs) embeds lines tokenized and pooled on the
    /// client, and a head with int64 and bool outputs runs .npz items. Both give exactly the local run's files. Before,
    /// <c>--text</c>, .npz items and such models were refused with <c>--coordinator</c>.
    /// </summary>
    [Fact]
    public async Task Text_and_typed_items_on_the_farm_give_the_local_runs_files()
    {
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.Fast);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"));
            string vocab = Path.Combine(farm.Folder, "vocab.txt");
            await File.WriteAllLinesAsync(vocab, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sat", "on", "mat", "hello", "world"]);
            string text = Path.Combine(farm.Folder, "lines.txt");
            await File.WriteAllLinesAsync(text, ["The cat sat on the mat.", "hello world", "a dog", "the dog sat"]);
            string encoder = RepositoryPaths.Combine("tests/RenderFarm.Inference.Tests/Samples/tiny-encoder.onnx");
            string head = RepositoryPaths.Combine("tests/RenderFarm.Inference.Tests/Samples/token-head.onnx");
            string[] items = [.. Enumerable.Range(0, 3).Select(i => Path.Combine(farm.Folder, $"tokens{i}.npz"))];
            for (int i = 0; i < items.Length; i++)
            {
                var tokens = new Tensor([1, 6], [.. Enumerable.Range(0, 6).Select(j => (float)(((i * 13) + (j * 7)) % 19) - 9)], TensorElementType.Int64);
                using ZipArchive zip = ZipFile.Open(items[i], ZipArchiveMode.Create);
                await using Stream entry = await zip.CreateEntry("tokens.npy").OpenAsync();
                await entry.WriteAsync(NpyFile.Format(tokens));
            }

            string[] textArguments = ["infer", encoder, "--text", text, "--tokenizer", vocab, "--pooling", "mean", "--normalize"];
            string[] farmArguments = ["--coordinator", farm.Address.AbsoluteUri, "--items-per-task", "2"];
            CommandResult farmText = await farm.RunCommandAsync("client", [.. textArguments, .. farmArguments, "--out", Path.Combine(farm.Folder, "farm-text")], s_commandTimeout);
            CommandResult farmHead = await farm.RunCommandAsync("client", ["infer", head, .. items, .. farmArguments, "--out", Path.Combine(farm.Folder, "farm-head")], s_commandTimeout);
            // One text per run locally too: the farm runs each line as its own item, without padding.
            CommandResult localText = await farm.RunCommandAsync("local", [.. textArguments, "--batch-size", "1", "--out", Path.Combine(farm.Folder, "local-text")], s_commandTimeout);
            CommandResult localHead = await farm.RunCommandAsync("local", ["infer", head, .. items, "--out", Path.Combine(farm.Folder, "local-head")], s_commandTimeout);

            Assert.True(farmText.ExitCode == 0, farmText.Output);
            Assert.True(farmHead.ExitCode == 0, farmHead.Output);
            Assert.Equal(0, localText.ExitCode);
            Assert.Equal(0, localHead.ExitCode);
            Assert.Contains("4 embedding(s) of 16 values", farmText.Output, StringComparison.Ordinal);
            string[] headFiles = [.. Enumerable.Range(0, 3).SelectMany(i => new[] { "label", "positive", "scores", "shifted" }.Select(o => $"tokens{i}.{o}.npy"))];
            foreach ((string kind, string[] files) in new[] { ("text", new[] { "embeddings.npy", "embeddings.txt" }), ("head", headFiles) })
            {
                string remote = Path.Combine(farm.Folder, $"farm-{kind}");
                string local = Path.Combine(farm.Folder, $"local-{kind}");
                Assert.Equal(files.Order(StringComparer.Ordinal), Directory.GetFiles(remote).Select(Path.GetFileName).Order(StringComparer.Ordinal));
                foreach (string file in files)
                {
                    byte[] fromFarm = await File.ReadAllBytesAsync(Path.Combine(remote, file));
                    byte[] fromDevice = await File.ReadAllBytesAsync(Path.Combine(local, file));
                    Assert.True(fromFarm.AsSpan().SequenceEqual(fromDevice), $"{file} from the farm ({fromFarm.Length} bytes) differs from the local run's ({fromDevice.Length} bytes).");
                }
            }

            Assert.Equal(TensorElementType.Int64, NpyFile.Read(Path.Combine(farm.Folder, "farm-head", "tokens0.label.npy")).ElementType);
            Assert.Equal(TensorElementType.Bool, NpyFile.Read(Path.Combine(farm.Folder, "farm-head", "tokens0.positive.npy")).ElementType);
        });
    }

    /// <summary>
    /// The real models of the "done" criterion on the farm, each through the client as a separate process and two
    /// provider workers: all-MiniLM-L6-v2 (90 MB; three int64 inputs) embeds three short lines tokenized with its own
    /// vocab.txt, and PaddleOCR's opset-9 text-direction classifier decides four images (two samples upright and turned
    /// 180°). Both give exactly the local run's files; the embeddings lie within cosine 1e-5 of ONNX Runtime's and the
    /// classifier makes ONNX Runtime's decisions. Models come from <c>scripts/fetch-models.sh</c> (cached, not committed).
    /// </summary>
    [Fact]
    [Trait("Category", "Integration")]
    public async Task Real_models_on_the_farm_give_the_local_runs_files_and_onnx_runtimes_decisions()
    {
        string miniLm = RealModels.MiniLmModel;
        string vocabulary = RealModels.MiniLmVocabulary;
        string classifier = RealModels.Ocr("ch_ppocr_mobile_v2.0_cls_infer.onnx");
        // Long leases: an item of the 90 MB encoder takes 10-30 s on a loaded two-core machine; with 4 s leases, leases
        // lapsed while items ran and tasks were run twice (measured: 4-5 min against 2 min).
        await using Farm farm = await Farm.CreateAsync(_postgres, _s3, _output, FarmTimings.LongLease);
        await farm.RunAsync(async () =>
        {
            await farm.StartCoordinatorAsync();
            await Task.WhenAll(farm.StartWorkerAsync("a"), farm.StartWorkerAsync("b"));
            string[] lines = ["A render farm verifies every frame before it pays.", "Providers earn tokens for honest work.", "The cat sat on the mat."];
            string text = Path.Combine(farm.Folder, "lines.txt");
            await File.WriteAllLinesAsync(text, lines);
            var images = new List<string>();
            foreach (string sample in s_images)
            {
                using Image<Rgb24> image = await Image.LoadAsync<Rgb24>(RepositoryPaths.Combine(sample));
                foreach ((string suffix, RotateMode rotation) in new[] { ("up", RotateMode.None), ("turned", RotateMode.Rotate180) })
                {
                    string path = Path.Combine(farm.Folder, $"{Path.GetFileNameWithoutExtension(sample)}-{suffix}.png");
                    using Image<Rgb24> turned = image.Clone(c => c.Rotate(rotation));
                    await turned.SaveAsPngAsync(path);
                    images.Add(path);
                }
            }

            // PaddleOCR's classifier preprocessing: 48 rows by 192 columns, values (v / 255 - 0.5) / 0.5.
            string[] imageOptions = ["--image-size", "192x48", "--mean", "0.5", "--std", "0.5"];
            string[] textArguments = ["infer", miniLm, "--text", text, "--tokenizer", vocabulary, "--max-length", "16", "--pooling", "mean", "--normalize"];
            string[] farmArguments = ["--coordinator", farm.Address.AbsoluteUri, "--items-per-task", "2"];
            long start = Stopwatch.GetTimestamp();
            CommandResult farmText = await farm.RunCommandAsync("client", [.. textArguments, .. farmArguments, "--out", Path.Combine(farm.Folder, "farm-text")], s_realModelTimeout);
            CommandResult farmImages = await farm.RunCommandAsync(
                "client", ["infer", classifier, .. images, .. imageOptions, .. farmArguments, "--out", Path.Combine(farm.Folder, "farm-cls")], s_realModelTimeout);
            _output.WriteLine($"Both farm runs took {Stopwatch.GetElapsedTime(start).TotalSeconds:0.0} s.");
            CommandResult localText = await farm.RunCommandAsync("local", [.. textArguments, "--batch-size", "1", "--out", Path.Combine(farm.Folder, "local-text")], s_realModelTimeout);
            CommandResult localImages = await farm.RunCommandAsync("local", ["infer", classifier, .. images, .. imageOptions, "--out", Path.Combine(farm.Folder, "local-cls")], s_realModelTimeout);

            Assert.True(farmText.ExitCode == 0, farmText.Output);
            Assert.True(farmImages.ExitCode == 0, farmImages.Output);
            Assert.True(localText.ExitCode == 0, localText.Output);
            Assert.True(localImages.ExitCode == 0, localImages.Output);
            Assert.Contains("3 embedding(s) of 384 values", farmText.Output, StringComparison.Ordinal);
            string[] classifierFiles = [.. images.Select(i => $"{Path.GetFileNameWithoutExtension(i)}.softmax_0.tmp_0.npy")];
            foreach ((string kind, string[] files) in new[] { ("text", new[] { "embeddings.npy", "embeddings.txt" }), ("cls", classifierFiles) })
            {
                string remote = Path.Combine(farm.Folder, $"farm-{kind}");
                string local = Path.Combine(farm.Folder, $"local-{kind}");
                Assert.Equal(files.Order(StringComparer.Ordinal), Directory.GetFiles(remote).Select(Path.GetFileName).Order(StringComparer.Ordinal));
                foreach (string file in files)
                {
                    byte[] fromFarm = await File.ReadAllBytesAsync(Path.Combine(remote, file));
                    byte[] fromDevice = await File.ReadAllBytesAsync(Path.Combine(local, file));
                    Assert.True(fromFarm.AsSpan().SequenceEqual(fromDevice), $"{file} from the farm ({fromFarm.Length} bytes) differs from the local run's ({fromDevice.Length} bytes).");
                }
            }

            // ONNX Runtime on the same tokens: every farm embedding within cosine 1e-5 of its own.
            Tensor embeddings = NpyFile.Read(Path.Combine(farm.Folder, "farm-text", "embeddings.npy"));
            OnnxModel encoder = OnnxModel.Load(miniLm);
            TextTokenizer tokenizer = TextTokenizer.Load(vocabulary);
            using var encoderSession = new Ort.InferenceSession(miniLm);
            for (int i = 0; i < lines.Length; i++)
            {
                int[] ids = tokenizer.Encode(lines[i], 16);
                Dictionary<string, Tensor> inputs = TextEmbedding.Inputs(encoder.Inputs, [ids], tokenizer.PadId);
                Tensor hidden = RunOnnxRuntime(encoderSession, inputs, encoder.Outputs[0].Name);
                float[] reference = TextEmbedding.Pool(hidden, [ids.Length], TextPooling.Mean, normalize: true)[0];
                double cosine = reference.Select((v, j) => (double)v * embeddings.Data[(i * reference.Length) + j]).Sum();
                _output.WriteLine($"line {i}: {ids.Length} tokens, cosine with ONNX Runtime's embedding {cosine:F9}");
                Assert.True(cosine > 0.99999, $"line {i}: cosine {cosine}");
            }

            // ONNX Runtime's decision (text upright or turned) for every image, preprocessed as the command line does.
            OnnxModel direction = OnnxModel.Load(classifier);
            using var classifierSession = new Ort.InferenceSession(classifier);
            ImagePreprocessing preprocessing = ImagePreprocessing.Parse(string.Join(' ', imageOptions));
            foreach (string image in images)
            {
                Tensor input = ImageInput.Load(image, preprocessing);
                Tensor reference = RunOnnxRuntime(classifierSession, new Dictionary<string, Tensor> { [direction.Inputs[0].Name] = input }, direction.Outputs[0].Name);
                Tensor ours = NpyFile.Read(Path.Combine(farm.Folder, "farm-cls", $"{Path.GetFileNameWithoutExtension(image)}.softmax_0.tmp_0.npy"));
                _output.WriteLine($"{Path.GetFileName(image)}: [{string.Join(", ", ours.Data)}], ONNX Runtime [{string.Join(", ", reference.Data)}]");
                Assert.Equal(reference.Shape, ours.Shape);
                Assert.Equal(ArgMax(reference.Data), ArgMax(ours.Data));
                Assert.All(reference.Data.Zip(ours.Data), pair => Assert.InRange(Math.Abs(pair.First - pair.Second), 0, 1e-4));
            }
        });
    }

    private static Tensor RunOnnxRuntime(Ort.InferenceSession session, Dictionary<string, Tensor> inputs, string output)
    {
        var values = new List<Ort.OrtValue>();
        try
        {
            foreach (Tensor tensor in inputs.Values)
            {
                long[] shape = [.. tensor.Shape.Select(d => (long)d)];
                values.Add(tensor.ElementType == TensorElementType.Int64
                    ? Ort.OrtValue.CreateTensorValueFromMemory([.. tensor.Data.Select(v => (long)v)], shape)
                    : Ort.OrtValue.CreateTensorValueFromMemory(tensor.Data, shape));
            }

            using var runOptions = new Ort.RunOptions();
            using Ort.IDisposableReadOnlyCollection<Ort.OrtValue> results = session.Run(runOptions, [.. inputs.Keys], values, [output]);
            long[] resultShape = results[0].GetTensorTypeAndShape().Shape;
            return new Tensor([.. resultShape.Select(d => (int)d)], results[0].GetTensorDataAsSpan<float>().ToArray());
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
