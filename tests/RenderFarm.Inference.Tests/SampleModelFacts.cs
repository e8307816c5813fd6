using RenderFarm.Inference.Tests.Models;
using RenderFarm.Inference.Tests.Samples;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>The committed sample and benchmark models are what their generators build, and compute what they claim.</summary>
public sealed class SampleModelFacts
{
    /// <summary>Set to 1 to write the generated models over the committed files instead of comparing.</summary>
    public const string WriteVariable = "RENDERFARM_WRITE_SAMPLES";

    /// <summary>The small BERT-style encoder the command-line tests feed int64 token ids and masks.</summary>
    public const string TinyEncoderPath = "tests/RenderFarm.Inference.Tests/Samples/tiny-encoder.onnx";

    public static TheoryData<string> Samples() => [EdgeDetectModel.RelativePath, SmallCnnModel.RelativePath, TinyEncoderPath, TokenHeadModel.RelativePath];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Sample_models_match_their_generator(string relativePath)
    {
        byte[] generated = Generate(relativePath).ToBytes();
        string path = RepositoryPaths.Combine(relativePath);
        if (Environment.GetEnvironmentVariable(WriteVariable) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, generated);
        }

        Assert.True(File.Exists(path), $"{relativePath} is missing; run the tests with {WriteVariable}=1 to write it.");
        Assert.True(
            generated.AsSpan().SequenceEqual(File.ReadAllBytes(path)),
            $"{relativePath} differs from what {nameof(SampleModelFacts)} generates; if the generator changed on purpose, rerun with {WriteVariable}=1 and commit the file.");
        Assert.Empty(OnnxModel.Load(path).UnsupportedOperators);
    }

    internal static ModelBuilder Generate(string relativePath) => relativePath switch
    {
        EdgeDetectModel.RelativePath => EdgeDetectModel.Create(),
        SmallCnnModel.RelativePath => SmallCnnModel.Create(),
        TinyEncoderPath => TransformerNetworks.Encoder(seed: 5, layers: 2),
        TokenHeadModel.RelativePath => TokenHeadModel.Create(),
        _ => throw new ArgumentOutOfRangeException(nameof(relativePath), relativePath, null),
    };
}

[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class SampleModelGpuFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public SampleModelGpuFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    [Fact]
    public void Edge_detect_marks_a_vertical_step_with_the_blurred_sobel_profile_and_nothing_else()
    {
        // 16 wide, 6 high, black for x < 8 and white from x = 8. Along x the blur makes the step
        // 0, 1/16, 5/16, 11/16, 15/16, 1 at x = 5..10, Sobel takes 4 × (b[x+1] − b[x−1]) and the model ¼ of it.
        const int width = 16;
        const int height = 6;
        var image = Tensor.Zeros(1, 3, height, width);
        for (int c = 0; c < 3; c++)
        {
            for (int y = 0; y < height; y++)
            {
                for (int x = 8; x < width; x++)
                {
                    image.Data[(((c * height) + y) * width) + x] = 1f;
                }
            }
        }

        Tensor edges = Run(image);

        float[] profile = [0, 0, 0, 0, 0, 1 / 16f, 5 / 16f, 10 / 16f, 10 / 16f, 5 / 16f, 1 / 16f, 0, 0, 0, 0, 0];
        Assert.Equal([1, 1, height, width], edges.Shape);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                Assert.True(Math.Abs(edges.Data[(y * width) + x] - profile[x]) < 1e-5, $"edges at ({x}, {y}) = {edges.Data[(y * width) + x]}, expected {profile[x]}");
            }
        }
    }

    [Fact]
    public void Edge_detect_finds_no_edges_in_a_flat_image_not_even_at_its_borders()
    {
        var image = new Tensor([2, 3, 9, 7], [.. Enumerable.Repeat(0.7f, 2 * 3 * 9 * 7)]);

        Tensor edges = Run(image);

        Assert.Equal([2, 1, 9, 7], edges.Shape);
        Assert.All(edges.Data, v => Assert.True(Math.Abs(v) < 1e-5, $"{v}"));
    }

    [Fact]
    public void Sample_models_agree_with_onnx_runtime()
    {
        var random = new Random(5);
        foreach ((string path, int[] shape) in new[] { (EdgeDetectModel.RelativePath, new[] { 2, 3, 33, 47 }), (SmallCnnModel.RelativePath, new[] { 3, 3, 64, 64 }) })
        {
            Tensor input = Oracle.Random(random, shape);
            for (int i = 0; i < input.Length; i++)
            {
                input.Data[i] = (input.Data[i] + 1) / 2; // images are 0..1
            }

            OracleCheck.Compare(_gpu.Device, SampleModelFacts.Generate(path), new Dictionary<string, Tensor> { ["image"] = input }, _output, path);
        }
    }

    private Tensor Run(Tensor image)
    {
        OnnxModel model = OnnxModel.Load(RepositoryPaths.Combine(EdgeDetectModel.RelativePath));
        using var session = new InferenceSession(_gpu.Device, model);
        return session.Run(new Dictionary<string, Tensor> { ["image"] = image })["edges"];
    }
}
