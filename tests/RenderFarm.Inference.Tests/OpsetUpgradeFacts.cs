using RenderFarm.Core;
using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Models exported at opsets 7–10 run after the upgrade at load, checked against ONNX Runtime, which reads them at
/// their own opset: every rewritten operator (Clip, Slice, Pad, Upsample, Resize-10, BatchNormalization, Dropout)
/// must keep its old meaning. Before the upgrade existed, these models were refused as "outside the supported 11–21".
/// </summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class OpsetUpgradeFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public OpsetUpgradeFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    /// <summary>An opset-9 classifier in the shape of an OCR toolkit's direction classifier, with every rewritten operator.</summary>
    [Fact]
    public void An_opset_9_network_matches_the_oracle()
    {
        var random = new Random(90);
        var builder = new ModelBuilder(9)
            .Input("x", 2, 3, 8, 10)
            .Output("probabilities")
            .Initializer("w", [4, 3, 3, 3], Oracle.RandomData(random, 108, 0.5f))
            .Initializer("gamma", [4], Oracle.RandomData(random, 4))
            .Initializer("beta", [4], Oracle.RandomData(random, 4))
            .Initializer("mean", [4], Oracle.RandomData(random, 4, 0.1f))
            .Initializer("var", [4], [0.5f, 1f, 1.5f, 2f])
            .Floats("up_scales", 1, 1, 2, 2)
            .Initializer("fc", [4 * 4 * 10, 5], Oracle.RandomData(random, 4 * 4 * 10 * 5, 0.2f))
            .Initializer("fc_bias", [5], Oracle.RandomData(random, 5))
            .Node("Conv", ["x", "w"], ["c"], a => a.Ints("pads", 1, 1, 1, 1))
            .Node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["bn"], a => a.Float("momentum", 0.9f).Float("epsilon", 1e-5f))
            .Node("Clip", ["bn"], ["clipped"], a => a.Float("min", 0f).Float("max", 0.6f))
            .Node("Upsample", ["clipped", "up_scales"], ["up"], a => a.String("mode", "nearest"))
            .Node("Pad", ["up"], ["padded"], a => a.Ints("pads", 0, 0, 1, 0, 0, 0, 0, 2).Float("value", 0.25f))
            .Node("Slice", ["padded"], ["sliced"], a => a.Ints("starts", 1, 2).Ints("ends", 9, 100).Ints("axes", 2, 3))
            .Node("MaxPool", ["sliced"], ["pooled"], a => a.Ints("kernel_shape", 2, 2).Ints("strides", 2, 2))
            .Node("Dropout", ["pooled"], ["dropped"], a => a.Float("ratio", 0.3f))
            .Node("Flatten", ["dropped"], ["flat"])
            .Node("Gemm", ["flat", "fc", "fc_bias"], ["logits"])
            .Node("Softmax", ["logits"], ["probabilities"]);
        OnnxModel model = builder.Build();
        Assert.Equal(9, model.DeclaredOpset);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 2, 3, 8, 10) }, _output, "opset 9");
    }

    [Theory]
    [InlineData("nearest")]
    [InlineData("linear")]
    public void Upsample_with_a_scales_attribute_at_opset_7_matches_the_oracle(string mode)
    {
        var builder = new ModelBuilder(7).Input("x", 1, 2, 3, 5).Output("y")
            .Node("Upsample", ["x"], ["u"], a => a.String("mode", mode).Floats("scales", 1, 1, 2, 3))
            .Node("Clip", ["u"], ["y"], a => a.Float("min", -0.5f));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(new Random(7), 1, 2, 3, 5) }, _output, $"opset 7 Upsample {mode}");
    }

    [Theory]
    [InlineData("nearest")]
    [InlineData("linear")]
    public void Resize_and_Slice_at_opset_10_match_the_oracle(string mode)
    {
        var builder = new ModelBuilder(10).Input("x", 1, 2, 4, 6).Output("y")
            .Floats("scales", 1, 1, 1.5f, 0.5f)
            .Int64s("starts", -1, 0).Int64s("ends", -100, 100).Int64s("axes", 2, 3).Int64s("steps", -1, 2)
            .Node("Resize", ["x", "scales"], ["r"], a => a.String("mode", mode))
            .Node("Slice", ["r", "starts", "ends", "axes", "steps"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(new Random(10), 1, 2, 4, 6) }, _output, $"opset 10 Resize {mode}");
    }

    [Fact]
    public void Attribute_values_become_constants_that_never_clash_with_graph_names()
    {
        // A graph value already named like the constant the upgrade would create keeps its meaning.
        var builder = new ModelBuilder(8).Input("x", 2, 3).Output("y")
            .Node("Relu", ["x"], ["clip/min"])
            .Node("Clip", ["clip/min"], ["y"], a => a.Float("min", 0.1f).Float("max", 0.3f), name: "clip");
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(new Random(8), 2, 3) }, _output, "opset 8 Clip");
    }

    [Fact]
    public void Per_element_BatchNormalization_is_refused_by_name()
    {
        OnnxModel model = new ModelBuilder(8).Input("x", 1, 2, 3).Output("y")
            .Initializer("p", [2, 3], new float[6])
            .Node("BatchNormalization", ["x", "p", "p", "p", "p"], ["y"], a => a.Int("spatial", 0), name: "bn_elementwise")
            .Build();
        var error = Assert.Throws<UserInputException>(model.EnsureSupported);
        Assert.Contains("spatial=0", error.Message, StringComparison.Ordinal);
        Assert.Contains(model.UnsupportedOperators, u => u.Contains("bn_elementwise", StringComparison.Ordinal));
    }
}
