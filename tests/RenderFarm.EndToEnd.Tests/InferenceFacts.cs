using System.IO.Compression;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Testing;
using Xunit.Abstractions;

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
}
