using RenderFarm.Core;
using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;
using DataType = RenderFarm.Inference.Onnx.TensorProto.Types.DataType;

namespace RenderFarm.Inference.Tests;

/// <summary>If with both branches planned, against ONNX Runtime. Before this, If was refused as an unsupported operator.</summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class ControlFlowFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public ControlFlowFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    /// <summary>Branches read the outer x and have initializers of their own.</summary>
    private static ModelBuilder WithIf(ModelBuilder outer, string condition, string output)
    {
        ModelBuilder then = new ModelBuilder(17, "then").Output("t_out").Floats("two", 2f).Node("Mul", ["x", "two"], ["t_out"]);
        ModelBuilder otherwise = new ModelBuilder(17, "else").Output("e_out").Floats("one", 1f).Node("Sub", ["x", "one"], ["e_mid"]).Node("Tanh", ["e_mid"], ["e_out"]);
        return outer.Node("If", [condition], [output], a => a.Graph("then_branch", then.Graph).Graph("else_branch", otherwise.Graph));
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(-0.5f)]
    public void A_condition_computed_at_run_time_selects_between_both_planned_branches(float shift)
    {
        var builder = new ModelBuilder(17).Input("x", 2, 3).Output("y")
            .Node("ReduceSum", ["x"], ["total"], a => a.Int("keepdims", 0))
            .Floats("zero", 0f)
            .Node("Greater", ["total", "zero"], ["positive"]);
        WithIf(builder, "positive", "y");
        var x = Oracle.Random(new Random(3), 2, 3);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (x.Data[i] * 0.1f) + shift;
        }

        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = x }, _output, $"If shift {shift}");
    }

    [Fact]
    public void A_condition_known_while_planning_plans_only_its_branch()
    {
        // The batch size decides: Shape folds, so the branches may even differ in shape.
        ModelBuilder then = new ModelBuilder(17, "then").Output("t_out").Int64s("flat", -1).Node("Reshape", ["x", "flat"], ["t_out"]);
        ModelBuilder otherwise = new ModelBuilder(17, "else").Output("e_out").Node("Relu", ["x"], ["e_out"]);
        var builder = new ModelBuilder(17).Input("x", null, 3).Output("y")
            .Node("Shape", ["x"], ["shape"])
            .Initializer("first", [], [0L])
            .Node("Gather", ["shape", "first"], ["batch"])
            .Initializer("one", [], [1L])
            .Node("Equal", ["batch", "one"], ["single"])
            .Node("If", ["single"], ["y"], a => a.Graph("then_branch", then.Graph).Graph("else_branch", otherwise.Graph));
        foreach (int batch in new[] { 1, 2 })
        {
            OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(new Random(batch), batch, 3) }, _output, $"If batch {batch}");
        }
    }

    [Fact]
    public void An_unsupported_operator_inside_a_branch_is_named()
    {
        ModelBuilder then = new ModelBuilder(17, "then").Output("t_out").Node("NonZero", ["x"], ["t_out"], name: "inner_nonzero");
        ModelBuilder otherwise = new ModelBuilder(17, "else").Output("e_out").Node("Identity", ["x"], ["e_out"]);
        OnnxModel model = new ModelBuilder(17).Input("x", 3).TypedInput("c", DataType.Bool, 1).Output("y")
            .Node("If", ["c"], ["y"], a => a.Graph("then_branch", then.Graph).Graph("else_branch", otherwise.Graph)).Build();
        var error = Assert.Throws<UserInputException>(model.EnsureSupported);
        Assert.Contains("inner_nonzero", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Branches_of_different_shapes_under_a_run_time_condition_are_refused_in_one_line()
    {
        ModelBuilder then = new ModelBuilder(17, "then").Output("t_out").Int64s("flat", -1).Node("Reshape", ["x", "flat"], ["t_out"]);
        ModelBuilder otherwise = new ModelBuilder(17, "else").Output("e_out").Node("Identity", ["x"], ["e_out"]);
        OnnxModel model = new ModelBuilder(17).Input("x", 2, 3).TypedInput("c", DataType.Bool, 1).Output("y")
            .Node("If", ["c"], ["y"], a => a.Graph("then_branch", then.Graph).Graph("else_branch", otherwise.Graph)).Build();
        // Every input shape is fixed, so the session plans (and refuses) when it is created.
        var error = Assert.Throws<UserInputException>(() => new InferenceSession(_gpu.Device, model).Dispose());
        Assert.Contains("needs equal shapes", error.Message, StringComparison.Ordinal);
    }
}
