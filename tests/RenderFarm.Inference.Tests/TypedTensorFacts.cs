using RenderFarm.Core;
using RenderFarm.Inference.Onnx;
using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;
using DataType = RenderFarm.Inference.Onnx.TensorProto.Types.DataType;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Inputs and outputs of every supported element type, several per model, and the operators computed at run time on
/// them (comparisons, logic, Where, Cast, Mod, Gather with computed indices), against ONNX Runtime with seeded random
/// cases. Before these, models with an int64, bool, uint8, int32 or float16 input or output were refused, and
/// comparisons were folded on constants only.
/// </summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class TypedTensorFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public TypedTensorFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    private static Tensor Integers(Random random, TensorElementType type, int low, int high, params int[] shape)
    {
        var data = new float[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = random.Next(low, high);
        }

        return new Tensor(shape, data, type);
    }

    /// <summary>Runs both engines; every output must match exactly (tolerance 0) or within the float tolerance, with its type.</summary>
    private void Check(ModelBuilder builder, Dictionary<string, Tensor> inputs, string label, double tolerance = OracleCheck.DefaultTolerance)
    {
        OracleCheck.Compare(_gpu.Device, builder, inputs, _output, label, tolerance);
        using var session = new InferenceSession(_gpu.Device, builder.Build());
        IReadOnlyDictionary<string, Tensor> actual = session.Run(inputs);
        foreach ((string name, Tensor expected) in Oracle.Run(builder.ToBytes(), inputs))
        {
            Assert.Equal(expected.ElementType, actual[name].ElementType);
        }
    }

    [Fact]
    public void Token_ids_gather_embeddings_and_an_int64_mask_becomes_a_float_bias()
    {
        var random = new Random(1);
        var builder = new ModelBuilder(17)
            .TypedInput("input_ids", DataType.Int64, 2, null)
            .TypedInput("attention_mask", DataType.Int64, 2, null)
            .Output("embeddings").Output("bias")
            .Initializer("table", [50, 8], Oracle.RandomData(random, 400))
            .Floats("one", 1f).Floats("big", -10000f)
            .Node("Gather", ["table", "input_ids"], ["embeddings"])
            .Node("Cast", ["attention_mask"], ["mask_f"], a => a.Int("to", (long)DataType.Float))
            .Node("Sub", ["one", "mask_f"], ["inverted"])
            .Node("Mul", ["inverted", "big"], ["bias"]);
        Check(builder, new Dictionary<string, Tensor>
        {
            ["input_ids"] = Integers(random, TensorElementType.Int64, -50, 50, 2, 7),
            ["attention_mask"] = Integers(random, TensorElementType.Int64, 0, 2, 2, 7),
        }, "ids and mask");
    }

    [Theory]
    [InlineData("Equal")]
    [InlineData("Less")]
    [InlineData("Greater")]
    [InlineData("LessOrEqual")]
    [InlineData("GreaterOrEqual")]
    public void Comparisons_of_computed_tensors_give_booleans(string op)
    {
        var random = new Random(op.Length);
        var builder = new ModelBuilder(17).Input("a", 3, 4).Input("b", 4).TypedOutput("y", DataType.Bool).Output("chosen")
            .Node("Round", ["a"], ["ra"]).Node("Round", ["b"], ["rb"])
            .Node(op, ["ra", "rb"], ["y"])
            .Node("Where", ["y", "a", "b"], ["chosen"]);
        var a = Oracle.Random(random, 3, 4);
        var b = Oracle.Random(random, 4);
        Check(builder, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, op, tolerance: 0);
    }

    [Fact]
    public void Logic_on_bool_inputs_and_Where_broadcast_all_three_operands()
    {
        var random = new Random(3);
        var builder = new ModelBuilder(17)
            .TypedInput("p", DataType.Bool, 2, 1, 5).TypedInput("q", DataType.Bool, 3, 1)
            .Input("x", 1, 3, 5).Input("y", 5)
            .TypedOutput("and", DataType.Bool).TypedOutput("or", DataType.Bool).TypedOutput("xor", DataType.Bool).TypedOutput("not", DataType.Bool)
            .Output("where")
            .Node("And", ["p", "q"], ["and"]).Node("Or", ["p", "q"], ["or"]).Node("Xor", ["p", "q"], ["xor"]).Node("Not", ["p"], ["not"])
            .Node("Where", ["xor", "x", "y"], ["where"]);
        Check(builder, new Dictionary<string, Tensor>
        {
            ["p"] = Integers(random, TensorElementType.Bool, 0, 2, 2, 1, 5),
            ["q"] = Integers(random, TensorElementType.Bool, 0, 2, 3, 1),
            ["x"] = Oracle.Random(random, 1, 3, 5),
            ["y"] = Oracle.Random(random, 5),
        }, "logic", tolerance: 0);
    }

    [Fact]
    public void Integer_division_truncates_and_Mod_follows_the_divisor_sign()
    {
        var random = new Random(4);
        var builder = new ModelBuilder(17)
            .TypedInput("a", DataType.Int64, 4, 6).TypedInput("b", DataType.Int32, 6)
            .TypedOutput("quotient", DataType.Int64).TypedOutput("remainder", DataType.Int64).TypedOutput("truncated", DataType.Int32)
            .Node("Cast", ["b"], ["b64"], a => a.Int("to", (long)DataType.Int64))
            .Node("Div", ["a", "b64"], ["quotient"])
            .Node("Mod", ["a", "b64"], ["remainder"])
            .Node("Cast", ["a"], ["af"], a => a.Int("to", (long)DataType.Float))
            .Node("Div", ["af", "af3"], ["scaled"])
            .Node("Cast", ["scaled"], ["truncated"], a => a.Int("to", (long)DataType.Int32))
            .Floats("af3", 3f);
        Tensor divisors = Integers(random, TensorElementType.Int32, 1, 9, 6);
        for (int i = 0; i < 3; i++)
        {
            divisors.Data[i] = -divisors.Data[i];
        }

        Check(builder, new Dictionary<string, Tensor>
        {
            ["a"] = Integers(random, TensorElementType.Int64, -1000, 1000, 4, 6),
            ["b"] = divisors,
        }, "integer arithmetic", tolerance: 0);
    }

    [Fact]
    public void Float16_and_uint8_inputs_and_outputs_keep_their_types()
    {
        var random = new Random(5);
        var builder = new ModelBuilder(17)
            .TypedInput("half", DataType.Float16, 2, 3).TypedInput("bytes", DataType.Uint8, 2, 3)
            .TypedOutput("half_out", DataType.Float16).Output("sum").TypedOutput("bytes_out", DataType.Uint8)
            .Node("Cast", ["half"], ["h32"], a => a.Int("to", (long)DataType.Float))
            .Node("Cast", ["bytes"], ["b32"], a => a.Int("to", (long)DataType.Float))
            .Node("Add", ["h32", "b32"], ["sum"])
            .Node("Cast", ["sum"], ["half_out"], a => a.Int("to", (long)DataType.Float16))
            .Node("Identity", ["bytes"], ["bytes_out"]);
        Tensor half = Oracle.Random(random, 2, 3);
        var halfTyped = new Tensor(half.Shape, half.Data.Select(v => (float)(Half)v).ToArray(), TensorElementType.Float16);
        Check(builder, new Dictionary<string, Tensor>
        {
            ["half"] = halfTyped,
            ["bytes"] = Integers(random, TensorElementType.UInt8, 0, 256, 2, 3),
        }, "float16 and uint8", tolerance: 1e-3);
    }

    [Theory]
    [InlineData(1.5f)]
    [InlineData(16_777_218f)]
    public void Integer_inputs_that_the_device_cannot_carry_exactly_are_refused(float value)
    {
        OnnxModel model = new ModelBuilder(17).TypedInput("ids", DataType.Int64, 2).TypedOutput("y", DataType.Int64)
            .Node("Identity", ["ids"], ["y"]).Build();
        using var session = new InferenceSession(_gpu.Device, model);
        var error = Assert.Throws<UserInputException>(() => session.Run(new Dictionary<string, Tensor>
        {
            ["ids"] = new Tensor([2], [1f, value], TensorElementType.Int64),
        }));
        Assert.Contains("'ids'", error.Message, StringComparison.Ordinal);
        Assert.Contains("element 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gathered_indices_outside_the_table_give_zeros_instead_of_reading_past_it()
    {
        // Hostile ids must not read outside the embedding buffer; ONNX leaves the result undefined.
        OnnxModel model = new ModelBuilder(17).TypedInput("ids", DataType.Int64, 3).Output("y")
            .Initializer("table", [4, 2], [1, 2, 3, 4, 5, 6, 7, 8])
            .Node("Gather", ["table", "ids"], ["y"]).Build();
        using var session = new InferenceSession(_gpu.Device, model);
        Tensor y = session.Run(new Dictionary<string, Tensor> { ["ids"] = new Tensor([3], [-1f, 4f, 1000f], TensorElementType.Int64) })["y"];
        Assert.Equal([7f, 8f, 0f, 0f, 0f, 0f], y.Data);
    }
}
