using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>Unary and broadcasting binary kernels against ONNX Runtime, as one-node models on random data.</summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class ElementwiseFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public ElementwiseFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    [Theory]
    [InlineData("Relu")]
    [InlineData("LeakyRelu")]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    [InlineData("HardSigmoid")]
    [InlineData("HardSwish")]
    [InlineData("Sqrt")]
    [InlineData("Exp")]
    [InlineData("Neg")]
    [InlineData("Abs")]
    [InlineData("Log")]
    [InlineData("Reciprocal")]
    [InlineData("Elu")]
    [InlineData("Identity")]
    [InlineData("Erf")]
    [InlineData("Gelu")]
    [InlineData("GeluTanh")]
    [InlineData("Softplus")]
    public void Unary_operators_match_the_oracle(string op)
    {
        var random = new Random(op.GetHashCode(StringComparison.Ordinal) & 0xffff);
        int[] shape = [2, random.Next(1, 5), random.Next(1, 9), random.Next(1, 9)];
        Tensor x = Oracle.Random(random, shape);
        if (op is "Sqrt" or "Log" or "Reciprocal")
        {
            for (int i = 0; i < x.Length; i++)
            {
                x.Data[i] = Math.Abs(x.Data[i]) + 0.05f;
            }
        }
        else
        {
            for (int i = 0; i < x.Length; i++)
            {
                x.Data[i] *= 6;
            }
        }

        var builder = new ModelBuilder(op.StartsWith("Gelu", StringComparison.Ordinal) ? 20 : 17).Input("x", shape).Output("y");
        builder.Node(op == "GeluTanh" ? "Gelu" : op, ["x"], ["y"], a =>
        {
            if (op == "GeluTanh")
            {
                a.String("approximate", "tanh");
            }

            if (op == "LeakyRelu")
            {
                a.Float("alpha", 0.2f);
            }
            else if (op == "HardSigmoid")
            {
                a.Float("alpha", 0.3f).Float("beta", 0.4f);
            }
        });
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = x }, _output, op);
    }

    [Theory]
    [InlineData(11, true, true)]
    [InlineData(13, true, false)]
    [InlineData(13, false, true)]
    public void Clip_takes_bounds_as_inputs(int opset, bool min, bool max)
    {
        var random = new Random(opset);
        Tensor x = Oracle.Random(random, 3, 7);
        var builder = new ModelBuilder(opset).Input("x", 3, 7).Output("y");
        if (min)
        {
            builder.Initializer("lo", [], [-0.25f]);
        }

        if (max)
        {
            builder.Initializer("hi", [], [0.5f]);
        }

        builder.Node("Clip", ["x", min ? "lo" : string.Empty, max ? "hi" : string.Empty], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = x }, _output, "Clip");
    }

    public static TheoryData<string, int[], int[]> BinaryCases() => new()
    {
        { "Add", [2, 3, 4], [2, 3, 4] },
        { "Add", [2, 3, 4], [4] },
        { "Sub", [2, 1, 4], [3, 1] },
        { "Mul", [1, 5], [4, 1] },
        { "Div", [2, 3, 4, 5], [1, 3, 1, 1] },
        { "Pow", [3, 4], [] },
        { "Add", [2, 1, 3, 1, 2, 2, 2], [1, 4, 1, 5, 1, 1, 1] },
        { "Max", [3, 1, 5], [2, 1] },
        { "Min", [4], [3, 4] },
    };

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary_operators_broadcast_like_numpy(string op, int[] shapeA, int[] shapeB)
    {
        var random = new Random(shapeA.Length * 31 + shapeB.Length);
        Tensor a = Oracle.Random(random, shapeA);
        Tensor b = Oracle.Random(random, shapeB);
        if (op == "Pow")
        {
            for (int i = 0; i < a.Length; i++)
            {
                a.Data[i] = Math.Abs(a.Data[i]) + 0.1f;
            }

            b.Data[0] = 2.5f;
        }

        if (op == "Div")
        {
            for (int i = 0; i < b.Length; i++)
            {
                b.Data[i] = b.Data[i] >= 0 ? b.Data[i] + 0.5f : b.Data[i] - 0.5f;
            }
        }

        var builder = new ModelBuilder(17).Input("a", shapeA).Input("b", shapeB).Output("y")
            .Node(op, ["a", "b"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, _output, $"{op} {string.Join("x", shapeA)} {string.Join("x", shapeB)}");
    }

    [Fact]
    public void Pow_of_negative_bases_with_integer_exponents_keeps_the_sign()
    {
        var x = new Tensor([4], [-2f, -1.5f, 0.5f, 3f]);
        var builder = new ModelBuilder(17).Input("x", 4).Initializer("e", [], [3f]).Output("y").Node("Pow", ["x", "e"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = x }, _output, "Pow odd");
    }

    [Fact]
    public void PRelu_broadcasts_its_slope()
    {
        var random = new Random(31);
        var builder = new ModelBuilder(17).Input("x", 2, 3, 4, 5).Output("y")
            .Initializer("slope", [3, 1, 1], Oracle.RandomData(random, 3))
            .Node("PRelu", ["x", "slope"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 2, 3, 4, 5) }, _output, "PRelu");
    }
}
