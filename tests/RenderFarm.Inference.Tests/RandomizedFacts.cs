using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Kernels against ONNX Runtime on configurations drawn from a seeded generator: shapes, strides, dilations, pads,
/// groups, broadcasts and permutations the hand-written cases do not list. Each seed is one test case.
/// </summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class RandomizedFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public RandomizedFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    public static TheoryData<int> Seeds() => new(Enumerable.Range(1, 10));

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Conv(int seed)
    {
        var random = new Random(seed);
        int group = random.Next(3) == 0 ? random.Next(2, 4) : 1;
        int channels = group * random.Next(1, 4);
        int outputs = group * (random.Next(2) == 0 ? random.Next(1, 5) : random.Next(16, 24));
        int kh = random.Next(1, 5);
        int kw = random.Next(1, 5);
        int dh = random.Next(1, 3);
        int dw = random.Next(1, 3);
        int h = ((kh - 1) * dh) + random.Next(1, 12);
        int w = ((kw - 1) * dw) + random.Next(1, 12);
        long[] pads = [random.Next(kh), random.Next(kw), random.Next(kh), random.Next(kw)];
        long[] strides = [random.Next(1, 4), random.Next(1, 4)];
        int[] input = [random.Next(1, 3), channels, h, w];
        int[] weights = [outputs, channels / group, kh, kw];
        var builder = new ModelBuilder(17).Input("x", input).Output("y")
            .Initializer("w", weights, Oracle.RandomData(random, weights.Aggregate(1, (a, b) => a * b)))
            .Floats("b", Oracle.RandomData(random, outputs))
            .Node("Conv", ["x", "w", "b"], ["y"], a => a.Int("group", group).Ints("strides", strides).Ints("dilations", dh, dw).Ints("pads", pads));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, input) }, _output,
            $"Conv x{string.Join("x", input)} w{string.Join("x", weights)} g{group} s{string.Join(",", strides)} d{dh},{dw} p{string.Join(",", pads)}");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void ConvTranspose(int seed)
    {
        var random = new Random(seed + 1000);
        int group = random.Next(3) == 0 ? 2 : 1;
        int channels = group * random.Next(1, 4);
        int perGroup = random.Next(1, 4);
        int kh = random.Next(1, 5);
        int kw = random.Next(1, 5);
        long[] strides = [random.Next(1, 4), random.Next(1, 4)];
        long[] dilations = [random.Next(1, 3), random.Next(1, 3)];
        long[] pads = [random.Next(kh), random.Next(kw), random.Next(kh), random.Next(kw)];
        long[] outputPadding = [random.Next((int)strides[0]), random.Next((int)strides[1])];
        int[] input = [1, channels, random.Next(2, 8), random.Next(2, 8)];
        int[] weights = [channels, perGroup, kh, kw];
        var builder = new ModelBuilder(17).Input("x", input).Output("y")
            .Initializer("w", weights, Oracle.RandomData(random, weights.Aggregate(1, (a, b) => a * b)))
            .Node("ConvTranspose", ["x", "w"], ["y"], a => a.Int("group", group).Ints("strides", strides).Ints("dilations", dilations)
                .Ints("pads", pads).Ints("output_padding", outputPadding));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, input) }, _output,
            $"ConvTranspose x{string.Join("x", input)} w{string.Join("x", weights)} g{group} s{string.Join(",", strides)} d{string.Join(",", dilations)} p{string.Join(",", pads)} op{string.Join(",", outputPadding)}");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MatMul(int seed)
    {
        var random = new Random(seed + 2000);
        int m = random.Next(1, 40);
        int k = random.Next(1, 40);
        int n = random.Next(1, 40);
        int rank = random.Next(0, 3);
        var batchA = new List<int>();
        var batchB = new List<int>();
        for (int i = 0; i < rank; i++)
        {
            int d = random.Next(1, 4);
            batchA.Add(random.Next(3) == 0 ? 1 : d);
            batchB.Add(random.Next(3) == 0 ? 1 : d);
        }

        if (random.Next(2) == 0 && batchB.Count > 0)
        {
            batchB.RemoveAt(0);
        }

        int[] a = [.. batchA, m, k];
        int[] b = [.. batchB, k, n];
        var builder = new ModelBuilder(17).Input("a", a).Input("b", b).Output("y").Node("MatMul", ["a", "b"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["a"] = Oracle.Random(random, a), ["b"] = Oracle.Random(random, b) }, _output,
            $"MatMul {string.Join("x", a)} @ {string.Join("x", b)}");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Broadcast(int seed)
    {
        var random = new Random(seed + 3000);
        int rank = random.Next(1, 6);
        int[] shape = Enumerable.Range(0, rank).Select(_ => random.Next(1, 5)).ToArray();
        int[] a = shape.Select(d => random.Next(3) == 0 ? 1 : d).ToArray();
        int[] b = shape.Skip(random.Next(rank)).Select(d => random.Next(3) == 0 ? 1 : d).ToArray();
        string op = new[] { "Add", "Sub", "Mul", "Div", "Max", "Min" }[random.Next(6)];
        Tensor ta = Oracle.Random(random, a);
        Tensor tb = Oracle.Random(random, b);
        for (int i = 0; i < tb.Length; i++)
        {
            tb.Data[i] += tb.Data[i] >= 0 ? 0.5f : -0.5f;
        }

        var builder = new ModelBuilder(17).Input("a", a).Input("b", b).Output("y").Node(op, ["b", "a"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["a"] = ta, ["b"] = tb }, _output,
            $"{op} {string.Join("x", b)} with {string.Join("x", a)}");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Pool(int seed)
    {
        var random = new Random(seed + 4000);
        string op = random.Next(2) == 0 ? "MaxPool" : "AveragePool";
        int kh = random.Next(1, 4);
        int kw = random.Next(1, 4);
        long[] pads = [random.Next(kh), random.Next(kw), random.Next(kh), random.Next(kw)];
        long[] strides = [random.Next(1, 4), random.Next(1, 4)];
        int[] input = [1, random.Next(1, 4), kh + random.Next(0, 9), kw + random.Next(0, 9)];
        int ceil = random.Next(2);
        int includePad = random.Next(2);
        var builder = new ModelBuilder(17).Input("x", input).Output("y").Node(op, ["x"], ["y"], a =>
        {
            a.Ints("kernel_shape", kh, kw).Ints("strides", strides).Ints("pads", pads).Int("ceil_mode", ceil);
            if (op == "AveragePool")
            {
                a.Int("count_include_pad", includePad);
            }
        });
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, input) }, _output,
            $"{op} {string.Join("x", input)} k{kh}x{kw} s{string.Join(",", strides)} p{string.Join(",", pads)} ceil{ceil} incl{includePad}");
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Transpose_and_Slice(int seed)
    {
        var random = new Random(seed + 5000);
        int rank = random.Next(1, 6);
        int[] shape = Enumerable.Range(0, rank).Select(_ => random.Next(1, 6)).ToArray();
        int[] perm = Enumerable.Range(0, rank).OrderBy(_ => random.Next()).ToArray();
        int axis = random.Next(rank);
        long start = random.Next(-shape[axis] - 1, shape[axis] + 1);
        long end = random.Next(-shape[axis] - 1, shape[axis] + 2);
        long step = random.Next(2) == 0 ? random.Next(1, 3) : -random.Next(1, 3);
        var builder = new ModelBuilder(17).Input("x", shape).Output("t").Output("s")
            .Int64s("starts", start).Int64s("ends", end).Int64s("axes", axis).Int64s("steps", step)
            .Node("Transpose", ["x"], ["t"], a => a.Ints("perm", perm.Select(p => (long)p).ToArray()))
            .Node("Slice", ["x", "starts", "ends", "axes", "steps"], ["s"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, shape) }, _output,
            $"{string.Join("x", shape)} perm {string.Join(",", perm)} slice axis {axis} {start}:{end}:{step}");
    }
}
