using Google.Protobuf;
using RenderFarm.Core;
using RenderFarm.Inference.Onnx;
using RenderFarm.Inference.Tests.Models;

namespace RenderFarm.Inference.Tests;

/// <summary>Loading models, describing their inputs and outputs, and refusing what the engine cannot run.</summary>
public sealed class OnnxModelFacts
{
    [Fact]
    public void Inputs_leave_out_initializers_and_report_dynamic_dimensions()
    {
        byte[] bytes = new ModelBuilder(13).Input("x", null, 3, 8, 8).Output("y")
            .Initializer("w", [4, 3, 1, 1], new float[12])
            .Node("Conv", ["x", "w"], ["y"]).ToBytes();

        // Older exporters list initializers among the graph inputs too.
        var proto = ModelProto.Parser.ParseFrom(bytes);
        proto.Graph.Input.Add(new ValueInfoProto { Name = "w", Type = proto.Graph.Input[0].Type });
        OnnxModel model = OnnxModel.Parse(proto.ToByteArray());

        TensorInfo input = Assert.Single(model.Inputs);
        Assert.Equal("x", input.Name);
        Assert.Equal([null, 3, 8, 8], input.Shape);
        Assert.Equal("y", Assert.Single(model.Outputs).Name);
        Assert.Empty(model.UnsupportedOperators);
        model.EnsureSupported();
    }

    [Fact]
    public void Load_reports_a_missing_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.onnx");
        var error = Assert.Throws<UserInputException>(() => OnnxModel.Load(path));
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Load_refuses_a_file_that_is_not_onnx()
    {
        string path = Path.Combine(Path.GetTempPath(), $"not-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllText(path, "this is a PNG, honestly");
        try
        {
            var error = Assert.Throws<UserInputException>(() => OnnxModel.Load(path));
            Assert.Contains("Not an ONNX model", error.Message, StringComparison.Ordinal);
            Assert.Contains(path, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_reads_a_saved_model()
    {
        string path = Path.Combine(Path.GetTempPath(), $"model-{Guid.NewGuid():N}.onnx");
        SampleNetworks.Classifier(1).Save(path);
        try
        {
            OnnxModel model = OnnxModel.Load(path);
            Assert.Equal([2, 3, 32, 32], model.Inputs[0].Shape);
            Assert.Empty(model.UnsupportedOperators);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Unsupported_operators_are_named_with_domain_and_first_node()
    {
        OnnxModel model = new ModelBuilder(17).Input("x", 1, 4).Output("y")
            .Node("Relu", ["x"], ["a"])
            .Node("Scan", ["a"], ["b"], name: "first_scan")
            .Node("Scan", ["b"], ["c"], name: "second_scan")
            .Node("FusedGelu", ["c"], ["y"], name: "gelu", domain: "com.example")
            .Build();

        Assert.Equal(2, model.UnsupportedOperators.Count);
        Assert.Contains("Scan (domain 'ai.onnx', first used by node 'first_scan')", model.UnsupportedOperators);
        Assert.Contains("FusedGelu (domain 'com.example', first used by node 'gelu')", model.UnsupportedOperators);
        var error = Assert.Throws<UserInputException>(model.EnsureSupported);
        Assert.Contains("Scan", error.Message, StringComparison.Ordinal);
        Assert.Contains("first_scan", error.Message, StringComparison.Ordinal);
        Assert.Contains("com.example", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("second_scan", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The support check and the planner read one registry: every registered operator is accepted by the check (a
    /// name missing from a separate list used to refuse operators the planner could run, and the reverse).
    /// </summary>
    [Fact]
    public void Every_registered_operator_passes_the_support_check_by_name()
    {
        foreach (Planning.OperatorLowering lowering in Planning.PlanBuilder.Lowerings.Values)
        {
            var builder = new ModelBuilder(17).Input("x", 2, 2).Output("y");
            if (lowering.Domain.Length > 0)
            {
                builder.WithMicrosoftDomain();
            }

            OnnxModel model = builder.Node(lowering.OpType, ["x"], ["y"], domain: lowering.Domain, name: "probe").Build();
            Assert.DoesNotContain(model.UnsupportedOperators, u => u.StartsWith($"{lowering.OpType} (domain", StringComparison.Ordinal));
        }

        Assert.Null(Planning.PlanBuilder.Find(new NodeProto { OpType = "Scan" }));
        Assert.NotNull(Planning.PlanBuilder.Find(new NodeProto { OpType = "Attention", Domain = "com.microsoft" }));
        Assert.Null(Planning.PlanBuilder.Find(new NodeProto { OpType = "Attention" }));
    }

    /// <summary>
    /// The farm carries every input and output of any supported type in one item file, its tensors named after the
    /// model's: int64 outputs and several inputs are taken (they were refused before), while a name that cannot be an
    /// archive entry is refused at upload rather than failing every provider's output at acceptance.
    /// </summary>
    [Fact]
    public void The_farm_carries_typed_and_several_tensors_and_refuses_names_it_cannot_carry()
    {
        OnnxModel ints = new ModelBuilder(17).Input("x", 2, 3).TypedOutput("y", TensorProto.Types.DataType.Int64)
            .Node("ArgMax", ["x"], ["y"], a => a.Int("axis", 1)).Build();
        OnnxModel two = new ModelBuilder(17).Input("a", 2).Input("b", 2).Output("y").Node("Add", ["a", "b"], ["y"]).Build();
        OnnxModel slashed = new ModelBuilder(17).Input("a", 2).Input("../b", 2).Output("y").Node("Add", ["a", "../b"], ["y"]).Build();

        ints.EnsureFarmCompatible();
        two.EnsureFarmCompatible();
        Assert.Contains("each must be a distinct plain name of 1 to 200 characters; '../b' is not", Assert.Throws<UserInputException>(slashed.EnsureFarmCompatible).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_attribute_values_and_computed_shape_inputs_are_refused()
    {
        OnnxModel model = new ModelBuilder(13).Input("x", 1, 1, 4, 4).Input("shape_source", 2).Output("y").Output("z")
            .Floats("roi").Floats("scales", 1, 1, 2, 2)
            .Node("Resize", ["x", "roi", "scales"], ["y"], a => a.String("mode", "cubic"), name: "bicubic")
            .Node("Reshape", ["x", "shape_source"], ["z"], name: "dynamic_reshape")
            .Build();

        Assert.Equal(2, model.UnsupportedOperators.Count);
        Assert.Contains(model.UnsupportedOperators, u => u.Contains("cubic", StringComparison.Ordinal) && u.Contains("bicubic", StringComparison.Ordinal));
        Assert.Contains(model.UnsupportedOperators, u => u.Contains("dynamic_reshape", StringComparison.Ordinal) && u.Contains("run time", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(22)]
    public void Opsets_outside_the_supported_range_are_refused(int opset)
    {
        OnnxModel model = new ModelBuilder(opset).Input("x", 2).Output("y").Node("Relu", ["x"], ["y"]).Build();
        var error = Assert.Throws<UserInputException>(model.EnsureSupported);
        Assert.Contains($"opset {opset}", error.Message, StringComparison.Ordinal);
        Assert.Contains(model.UnsupportedOperators, u => u.Contains($"opset {opset}", StringComparison.Ordinal));
    }

    [Fact]
    public void Inputs_of_types_the_engine_cannot_carry_are_refused()
    {
        OnnxModel model = new ModelBuilder(17).TypedInput("ids", TensorProto.Types.DataType.Double, 1, 8).Output("y")
            .Node("Identity", ["ids"], ["y"]).Build();
        var error = Assert.Throws<UserInputException>(model.EnsureSupported);
        Assert.Contains("'ids'", error.Message, StringComparison.Ordinal);
        Assert.Single(model.UnsupportedOperators);
        Assert.Contains("Double", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void External_tensor_data_is_refused()
    {
        var proto = ModelProto.Parser.ParseFrom(new ModelBuilder(17).Input("x", 2).Output("y").Floats("w", 1, 2).Node("Add", ["x", "w"], ["y"]).ToBytes());
        TensorProto weights = proto.Graph.Initializer[0];
        weights.RawData = ByteString.Empty;
        weights.DataLocation = TensorProto.Types.DataLocation.External;
        weights.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        var error = Assert.Throws<UserInputException>(() => OnnxModel.Parse(proto.ToByteArray()));
        Assert.Contains("external", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Typed_tensor_fields_are_read_like_raw_data()
    {
        var tensor = new TensorProto { Name = "t", DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(3);
        tensor.FloatData.AddRange([1.5f, -2f, 0.25f]);
        Assert.Equal([1.5, -2, 0.25], Planning.CpuTensor.FromProto(tensor).Data);

        var half = new TensorProto { Name = "h", DataType = (int)TensorProto.Types.DataType.Float16 };
        half.Dims.Add(2);
        half.Int32Data.AddRange([BitConverter.HalfToUInt16Bits((Half)0.5f), BitConverter.HalfToUInt16Bits((Half)(-3f))]);
        Assert.Equal([0.5, -3], Planning.CpuTensor.FromProto(half).Data);
    }
}
