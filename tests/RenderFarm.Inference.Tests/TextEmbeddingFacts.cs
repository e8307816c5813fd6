using System.Text.Json;
using RenderFarm.Core;
using RenderFarm.Inference.IO;
using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>Text in, embeddings out: WordPiece and BPE tokenizers, padded batches and pooling, against ONNX Runtime.</summary>
[Collection(GpuCollection.Name)]
public sealed class TextEmbeddingFacts : IDisposable
{
    /// <summary>A WordPiece vocabulary of the tiny encoder's 40 ids.</summary>
    public static readonly string[] Vocabulary =
    [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sat", "on", "mat", "play", "##ing", "##s", "run",
        "hello", "world", "render", "farm", "gpu", "fast", ".", ",", "!", "is", "and", "of", "to", "in", "it", "model", "text", "line",
        "one", "two", "three", "four", "five", "six",
    ];

    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;
    private readonly string _folder = Directory.CreateTempSubdirectory("text-embedding-").FullName;

    public TextEmbeddingFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string VocabFile()
    {
        string path = Path.Combine(_folder, "vocab.txt");
        File.WriteAllLines(path, Vocabulary);
        return path;
    }

    private string TokenizerJson(object model, object? normalizer = null, object? postProcessor = null)
    {
        string path = Path.Combine(_folder, "tokenizer.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["normalizer"] = normalizer,
            ["post_processor"] = postProcessor,
            ["model"] = model,
        }));
        return path;
    }

    [Fact]
    public void WordPiece_from_vocab_txt_lowercases_splits_subwords_and_keeps_the_closing_token_when_truncating()
    {
        TextTokenizer tokenizer = TextTokenizer.Load(VocabFile());

        Assert.Equal([2, 16, 17, 24, 3], tokenizer.Encode("Hello WORLD!", 64));
        Assert.Equal([2, 7, 14, 12, 13, 3], tokenizer.Encode("cats playing", 64));
        Assert.Equal([2, 5, 7, 3], tokenizer.Encode("the cat sat on the mat", 4));
        Assert.Equal([2, 1, 3], tokenizer.Encode("zebra", 64));
        Assert.Equal(0, tokenizer.PadId);
    }

    [Fact]
    public void A_tokenizer_json_of_WordPiece_gives_the_same_ids_as_its_vocab_txt()
    {
        string json = TokenizerJson(
            new { type = "WordPiece", unk_token = "[UNK]", vocab = Vocabulary.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i) },
            normalizer: new { type = "BertNormalizer", lowercase = true });
        TextTokenizer fromJson = TextTokenizer.Load(json);
        TextTokenizer fromVocab = TextTokenizer.Load(VocabFile());
        foreach (string text in new[] { "Hello world.", "the dogs, the cats and the mat!", "render farm gpu is fast" })
        {
            Assert.Equal(fromVocab.Encode(text, 32), fromJson.Encode(text, 32));
        }
    }

    [Fact]
    public void A_byte_level_BPE_tokenizer_json_merges_and_adds_the_post_processor_tokens()
    {
        string json = TokenizerJson(
            new
            {
                type = "BPE",
                vocab = new Dictionary<string, int> { ["<s>"] = 0, ["<pad>"] = 1, ["</s>"] = 2, ["a"] = 3, ["b"] = 4, ["Ġ"] = 5, ["ab"] = 6, ["Ġab"] = 7 },
                merges = new[] { "a b", "Ġ ab" },
            },
            postProcessor: new { type = "RobertaProcessing", cls = new object[] { "<s>", 0 }, sep = new object[] { "</s>", 2 } });
        TextTokenizer tokenizer = TextTokenizer.Load(json);

        Assert.Equal([0, 6, 7, 7, 2], tokenizer.Encode("ab ab ab", 16));
        Assert.Equal(1, tokenizer.PadId);
    }

    [Fact]
    public void A_tokenizer_of_another_kind_is_refused_in_one_line()
    {
        string json = TokenizerJson(new { type = "Unigram", vocab = new Dictionary<string, int> { ["a"] = 0 } });
        var error = Assert.Throws<UserInputException>(() => TextTokenizer.Load(json));
        Assert.Contains("'Unigram' is not supported; WordPiece and BPE are", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public void Mean_pooled_embeddings_of_padded_batches_match_the_models_own_pooling_in_the_oracle()
    {
        TextTokenizer tokenizer = TextTokenizer.Load(VocabFile());
        ModelBuilder builder = TransformerNetworks.Encoder(seed: 5, layers: 2);
        OnnxModel model = builder.Build();
        int[][] texts = [.. new[] { "the cat sat on the mat.", "hello world", "render farm gpu models are fast, and it is one text of five" }.Select(t => tokenizer.Encode(t, 12))];
        Dictionary<string, Tensor> inputs = TextEmbedding.Inputs(model.Inputs, texts, tokenizer.PadId);
        Assert.Equal([3, 12], inputs["input_ids"].Shape);

        using var session = new InferenceSession(_gpu.Device, model);
        float[][] pooled = TextEmbedding.Pool(session.Run(inputs)["last_hidden_state"], [.. texts.Select(t => t.Length)], TextPooling.Mean, normalize: false);
        Tensor expected = Oracle.Run(builder.ToBytes(), inputs)["sentence_embedding"];

        Oracle.AssertClose(expected, new Tensor([3, 16], [.. pooled.SelectMany(v => v)]), OracleCheck.DefaultTolerance, _output, "mean pooled text embeddings");
        float[][] normalized = TextEmbedding.Pool(new Tensor([3, 16], [.. pooled.SelectMany(v => v)]), [.. texts.Select(t => t.Length)], TextPooling.None, normalize: true);
        Assert.All(normalized, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5));
    }
}
