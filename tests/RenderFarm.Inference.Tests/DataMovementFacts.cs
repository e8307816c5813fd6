using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>Shape, copy, resampling, padding and reduction operators against ONNX Runtime.</summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class DataMovementFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public DataMovementFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    private double Check(ModelBuilder builder, string label, params (string Name, int[] Shape)[] inputs)
    {
        var random = new Random(label.Length * 7);
        var tensors = inputs.ToDictionary(i => i.Name, i => Oracle.Random(random, i.Shape));
        return OracleCheck.Compare(_gpu.Device, builder, tensors, _output, label);
    }

    [Fact]
    public void Reshape_copies_zero_dims_and_infers_minus_one()
    {
        var builder = new ModelBuilder(17).Input("x", 2, 3, 4).Output("y").Int64s("s", 0, -1, 2)
            .Node("Reshape", ["x", "s"], ["r"]).Node("Relu", ["r"], ["y"]);
        Check(builder, "Reshape", ("x", [2, 3, 4]));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void Squeeze_and_Unsqueeze_take_axes_from_attribute_or_input(int opset)
    {
        var builder = new ModelBuilder(opset).Input("x", 2, 1, 3).Output("y");
        if (opset >= 13)
        {
            builder.Int64s("sq", 1).Int64s("un", 0, -1)
                .Node("Squeeze", ["x", "sq"], ["s"]).Node("Unsqueeze", ["s", "un"], ["u"]);
        }
        else
        {
            builder.Node("Squeeze", ["x"], ["s"], a => a.Ints("axes", 1)).Node("Unsqueeze", ["s"], ["u"], a => a.Ints("axes", 0, -1));
        }

        builder.Node("Flatten", ["u"], ["f"], a => a.Int("axis", 2)).Node("Neg", ["f"], ["y"]);
        Check(builder, $"Squeeze/Unsqueeze/Flatten opset {opset}", ("x", [2, 1, 3]));
    }

    [Fact]
    public void Transpose_permutes_axes()
    {
        var builder = new ModelBuilder(17).Input("x", 2, 3, 4, 5).Output("y").Output("z")
            .Node("Transpose", ["x"], ["y"], a => a.Ints("perm", 0, 2, 3, 1))
            .Node("Transpose", ["x"], ["z"]);
        Check(builder, "Transpose", ("x", [2, 3, 4, 5]));
    }

    [Fact]
    public void Concat_joins_computed_and_constant_inputs()
    {
        var random = new Random(5);
        var builder = new ModelBuilder(17).Input("a", 2, 3, 4).Input("b", 2, 1, 4).Output("y")
            .Initializer("c", [2, 2, 4], Oracle.RandomData(random, 16))
            .Node("Concat", ["a", "c", "b"], ["y"], a => a.Int("axis", -2));
        Check(builder, "Concat", ("a", [2, 3, 4]), ("b", [2, 1, 4]));
    }

    [Fact]
    public void Slice_handles_negative_bounds_steps_and_clamping()
    {
        var builder = new ModelBuilder(17).Input("x", 3, 8, 10).Output("y").Output("z")
            .Int64s("starts", 1, -1, 2).Int64s("ends", 100, -9, -1).Int64s("axes", 0, 1, 2).Int64s("steps", 1, -2, 3)
            .Int64s("s2", 0).Int64s("e2", 2).Int64s("a2", -1)
            .Node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])
            .Node("Slice", ["x", "s2", "e2", "a2"], ["z"]);
        Check(builder, "Slice", ("x", [3, 8, 10]));
    }

    [Fact]
    public void Gather_picks_rows_with_negative_indices()
    {
        var builder = new ModelBuilder(17).Input("x", 4, 5, 3).Output("y").Output("z")
            .Initializer("i", [2, 2], [3L, -1L, 0L, 2L]).Initializer("j", [], [1L])
            .Node("Gather", ["x", "i"], ["y"], a => a.Int("axis", 1))
            .Node("Gather", ["x", "j"], ["z"], a => a.Int("axis", 0));
        Check(builder, "Gather", ("x", [4, 5, 3]));
    }

    [Fact]
    public void Expand_broadcasts_to_a_shape()
    {
        var builder = new ModelBuilder(17).Input("x", 3, 1).Output("y").Int64s("s", 2, 1, 4)
            .Node("Expand", ["x", "s"], ["y"]);
        Check(builder, "Expand", ("x", [3, 1]));
    }

    [Theory]
    [InlineData("DCR")]
    [InlineData("CRD")]
    public void DepthToSpace_rearranges_channels_into_blocks(string mode)
    {
        var builder = new ModelBuilder(17).Input("x", 2, 8, 3, 4).Output("y")
            .Node("DepthToSpace", ["x"], ["y"], a => a.Int("blocksize", 2).String("mode", mode));
        Check(builder, $"DepthToSpace {mode}", ("x", [2, 8, 3, 4]));
    }

    [Fact]
    public void SpaceToDepth_rearranges_blocks_into_channels()
    {
        var builder = new ModelBuilder(17).Input("x", 1, 3, 6, 4).Output("y")
            .Node("SpaceToDepth", ["x"], ["y"], a => a.Int("blocksize", 2));
        Check(builder, "SpaceToDepth", ("x", [1, 3, 6, 4]));
    }

    [Theory]
    [InlineData("constant")]
    [InlineData("reflect")]
    [InlineData("edge")]
    public void Pad_fills_by_mode(string mode)
    {
        var builder = new ModelBuilder(13).Input("x", 1, 2, 5, 6).Output("y").Int64s("p", 0, 0, 2, 1, 0, 1, 3, 2).Floats("v", 0.75f)
            .Node("Pad", mode == "constant" ? ["x", "p", "v"] : ["x", "p"], ["y"], a => a.String("mode", mode));
        Check(builder, $"Pad {mode}", ("x", [1, 2, 5, 6]));
    }

    [Theory]
    [InlineData(11, "Softmax", 1)]
    [InlineData(13, "Softmax", 1)]
    [InlineData(13, "Softmax", -1)]
    [InlineData(11, "LogSoftmax", 2)]
    [InlineData(13, "LogSoftmax", -1)]
    [InlineData(21, "Softmax", 2)]
    public void Softmax_axis_follows_the_opset(int opset, string op, int axis)
    {
        var builder = new ModelBuilder(opset).Input("x", 2, 3, 4, 5).Output("y").Node(op, ["x"], ["y"], a => a.Int("axis", axis));
        Check(builder, $"{op} opset {opset} axis {axis}", ("x", [2, 3, 4, 5]));
    }

    [Theory]
    [InlineData(13, "ReduceMean", 1)]
    [InlineData(13, "ReduceMean", 0)]
    [InlineData(18, "ReduceMean", 1)]
    [InlineData(21, "ReduceMax", 0)]
    [InlineData(13, "ReduceSum", 0)]
    [InlineData(13, "ReduceMax", 1)]
    [InlineData(13, "ReduceMin", 0)]
    public void Reductions_take_axes_by_opset(int opset, string op, int keepDims)
    {
        var builder = new ModelBuilder(opset).Input("x", 2, 3, 4, 5).Output("y");
        bool axesInput = op == "ReduceSum" ? opset >= 13 : opset >= 18;
        if (axesInput)
        {
            builder.Int64s("axes", 1, -1).Node(op, ["x", "axes"], ["y"], a => a.Int("keepdims", keepDims));
        }
        else
        {
            builder.Node(op, ["x"], ["y"], a => a.Ints("axes", 1, -1).Int("keepdims", keepDims));
        }

        Check(builder, $"{op} opset {opset} keepdims {keepDims}", ("x", [2, 3, 4, 5]));
    }

    [Theory]
    [InlineData("nearest", "asymmetric", "floor", 2f)]
    [InlineData("nearest", "half_pixel", "round_prefer_floor", 2f)]
    [InlineData("nearest", "half_pixel", "round_prefer_ceil", 1.5f)]
    [InlineData("linear", "half_pixel", "round_prefer_floor", 2f)]
    [InlineData("linear", "align_corners", "round_prefer_floor", 1.75f)]
    [InlineData("linear", "asymmetric", "round_prefer_floor", 3f)]
    [InlineData("linear", "pytorch_half_pixel", "round_prefer_floor", 0.5f)]
    [InlineData("nearest", "half_pixel", "ceil", 2.5f)]
    [InlineData("nearest", "align_corners", "round_prefer_ceil", 0.6f)]
    [InlineData("nearest", "pytorch_half_pixel", "floor", 1.3f)]
    public void Resize_scales_by_mode_and_coordinate_transformation(string mode, string coordinates, string nearest, float scale)
    {
        var builder = new ModelBuilder(13).Input("x", 1, 2, 5, 6).Output("y")
            .Floats("roi").Floats("scales", 1f, 1f, scale, scale)
            .Node("Resize", ["x", "roi", "scales"], ["y"], a => a.String("mode", mode).String("coordinate_transformation_mode", coordinates).String("nearest_mode", nearest));
        Check(builder, $"Resize {mode} {coordinates} {nearest} x{scale}", ("x", [1, 2, 5, 6]));
    }

    [Fact]
    public void Resize_to_sizes()
    {
        var builder = new ModelBuilder(11).Input("x", 1, 3, 4, 4).Output("y")
            .Floats("roi").Floats("scales").Int64s("sizes", 1, 3, 7, 9)
            .Node("Resize", ["x", "roi", "scales", "sizes"], ["y"], a => a.String("mode", "linear"));
        Check(builder, "Resize sizes", ("x", [1, 3, 4, 4]));
    }

    [Fact]
    public void Shape_arithmetic_is_folded_into_a_reshape()
    {
        // Flatten everything after the batch dimension the way exporters write it:
        // Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape.
        var builder = new ModelBuilder(13).Input("x", null, 3, 4, 4).Output("y")
            .Initializer("zero", [], [0L]).Int64s("minus1", -1).Int64s("axes0", 0)
            .Node("Shape", ["x"], ["shape"])
            .Node("Gather", ["shape", "zero"], ["batch"], a => a.Int("axis", 0))
            .Node("Unsqueeze", ["batch", "axes0"], ["batch1"])
            .Node("Concat", ["batch1", "minus1"], ["target"], a => a.Int("axis", 0))
            .Node("Reshape", ["x", "target"], ["flat"])
            .Node("Sigmoid", ["flat"], ["y"]);
        OnnxModel model = builder.Build();
        Assert.Equal([null, 3, 4, 4], model.Inputs[0].Shape);
        Check(builder, "folded reshape batch 2", ("x", [2, 3, 4, 4]));
        Check(builder, "folded reshape batch 3", ("x", [3, 3, 4, 4]));

        using var session = new InferenceSession(_gpu.Device, model);
        Planning.PlanStatistics statistics = session.GetStatistics(new Dictionary<string, int[]> { ["x"] = [2, 3, 4, 4] });
        Assert.Equal(1, statistics.Dispatches);
        Assert.True(statistics.FoldedNodes >= 4, $"{statistics.FoldedNodes} nodes folded");
    }

    [Theory]
    [InlineData(13)]
    [InlineData(18)]
    public void Split_cuts_an_axis_into_parts(int opset)
    {
        var builder = new ModelBuilder(opset).Input("x", 2, 7, 3).Output("a").Output("b").Output("c");
        if (opset >= 18)
        {
            builder.Node("Split", ["x"], ["a", "b", "c"], a => a.Int("axis", 1).Int("num_outputs", 3));
        }
        else
        {
            builder.Int64s("parts", 2, 4, 1).Node("Split", ["x", "parts"], ["a", "b", "c"], a => a.Int("axis", -2));
        }

        Check(builder, $"Split opset {opset}", ("x", [2, 7, 3]));
    }

    [Fact]
    public void Sum_and_Mean_take_any_number_of_inputs()
    {
        var builder = new ModelBuilder(17).Input("a", 2, 3).Input("b", 3).Input("c", 2, 1).Output("s").Output("m")
            .Node("Sum", ["a", "b", "c"], ["s"]).Node("Mean", ["a", "b", "c"], ["m"]);
        Check(builder, "Sum/Mean", ("a", [2, 3]), ("b", [3]), ("c", [2, 1]));
    }

    [Fact]
    public void Comparisons_and_Where_fold_in_shape_arithmetic()
    {
        // Exporters guard reshapes of possibly empty dims: Where(Equal(shape, 0), 1, shape).
        var builder = new ModelBuilder(17).Input("x", 2, 3, 4).Output("y")
            .Int64s("zero", 0).Int64s("one", 1).Int64s("minus1", -1).Int64s("start", 1).Int64s("end", 3)
            .Node("Shape", ["x"], ["shape"])
            .Node("Slice", ["shape", "start", "end"], ["tail"])
            .Node("Equal", ["tail", "zero"], ["is_zero"])
            .Node("Where", ["is_zero", "one", "tail"], ["safe"])
            .Node("Concat", ["safe", "minus1"], ["target"], a => a.Int("axis", 0))
            .Node("Reshape", ["x", "target"], ["r"])
            .Node("Softmax", ["r"], ["y"], a => a.Int("axis", 0));
        Check(builder, "folded Where/Equal reshape", ("x", [2, 3, 4]));
    }

    [Fact]
    public void Pad_takes_axes_and_negative_pads()
    {
        var builder = new ModelBuilder(18).Input("x", 2, 5, 6).Output("y").Int64s("p", 2, -1, -2, 3).Int64s("axes", 1, -1)
            .Node("Pad", ["x", "p", "", "axes"], ["y"], a => a.String("mode", "edge"));
        Check(builder, "Pad axes negative", ("x", [2, 5, 6]));
    }
}
