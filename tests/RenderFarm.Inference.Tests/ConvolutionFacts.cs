using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>Convolution, matrix product, normalization and pooling kernels against ONNX Runtime.</summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class ConvolutionFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public ConvolutionFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    public static TheoryData<string, int[], int[], int, long[], long[], long[], string, bool> ConvCases() => new()
    {
        // label, input, weights, group, strides, dilations, pads, auto_pad, bias
        { "3x3 pad 1", [1, 3, 9, 11], [5, 3, 3, 3], 1, [1, 1], [1, 1], [1, 1, 1, 1], "NOTSET", true },
        { "stride 2 asymmetric pads", [2, 4, 10, 9], [6, 4, 3, 3], 1, [2, 2], [1, 1], [0, 1, 2, 1], "NOTSET", false },
        { "groups 2 dilation 2", [1, 4, 12, 12], [6, 2, 3, 3], 2, [1, 1], [2, 2], [2, 2, 2, 2], "NOTSET", true },
        { "depthwise", [1, 6, 8, 8], [6, 1, 3, 3], 6, [1, 1], [1, 1], [1, 1, 1, 1], "NOTSET", true },
        { "same upper stride 2", [1, 3, 7, 8], [4, 3, 4, 4], 1, [2, 2], [1, 1], [], "SAME_UPPER", true },
        { "same lower", [1, 2, 6, 6], [3, 2, 2, 2], 1, [1, 1], [1, 1], [], "SAME_LOWER", false },
        { "valid 1x1", [1, 8, 5, 5], [4, 8, 1, 1], 1, [1, 1], [1, 1], [], "VALID", true },
        { "1-D", [2, 3, 17], [4, 3, 5], 1, [2], [1], [2, 2], "NOTSET", true },
        { "tiled 3x3 stride 2", [1, 5, 13, 11], [20, 5, 3, 3], 1, [2, 2], [1, 1], [1, 0, 1, 2], "NOTSET", true },
        { "tiled groups 2 dilation 2", [2, 6, 9, 9], [32, 3, 3, 3], 2, [1, 1], [2, 2], [1, 1, 1, 1], "NOTSET", false },
        { "tiled 1-D past one tile", [1, 4, 70], [17, 4, 3], 1, [1], [1], [1, 1], "NOTSET", true },
        { "tiled deep input", [1, 40, 6, 6], [70, 40, 3, 3], 1, [1, 1], [1, 1], [], "SAME_UPPER", true },
    };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv_matches_the_oracle(string label, int[] input, int[] weights, int group, long[] strides, long[] dilations, long[] pads, string autoPad, bool bias)
    {
        var random = new Random(label.Length);
        ModelBuilder builder = ConvModel(random, input, weights, group, strides, dilations, pads, autoPad, bias);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, input) }, _output, $"Conv {label}");
    }

    /// <summary>
    /// One Conv node over input <c>x</c> with random weights (and bias) drawn from <paramref name="random"/>, as
    /// <see cref="ConvCases"/> describes it; shared with the kernel builds' bit-identity facts.
    /// </summary>
    internal static ModelBuilder ConvModel(Random random, int[] input, int[] weights, int group, long[] strides, long[] dilations, long[] pads, string autoPad, bool bias)
    {
        var builder = new ModelBuilder(17).Input("x", input).Output("y")
            .Initializer("w", weights, Oracle.RandomData(random, weights.Aggregate(1, (a, b) => a * b)));
        if (bias)
        {
            builder.Initializer("b", [weights[0]], Oracle.RandomData(random, weights[0]));
        }

        builder.Node("Conv", bias ? ["x", "w", "b"] : ["x", "w"], ["y"], a =>
        {
            a.Int("group", group).Ints("strides", strides).Ints("dilations", dilations).Ints("kernel_shape", weights.Skip(2).Select(k => (long)k).ToArray());
            if (pads.Length > 0)
            {
                a.Ints("pads", pads);
            }

            if (autoPad != "NOTSET")
            {
                a.String("auto_pad", autoPad);
            }
        });
        return builder;
    }

    public static TheoryData<string, int[], int[], int, long[], long[], long[], long[]> ConvTransposeCases() => new()
    {
        // label, input, weights (C, M/group, kh, kw), group, strides, pads, output_padding, dilations
        { "stride 2 pad 1 output padding 1", [1, 4, 5, 6], [4, 3, 3, 3], 1, [2, 2], [1, 1, 1, 1], [1, 1], [1, 1] },
        { "stride 2 kernel 4", [2, 3, 4, 4], [3, 2, 4, 4], 1, [2, 2], [1, 1, 1, 1], [0, 0], [1, 1] },
        { "groups and dilation", [1, 4, 5, 5], [4, 2, 3, 3], 2, [1, 2], [0, 1, 2, 0], [0, 1], [2, 1] },
        { "1-D", [1, 2, 7], [2, 3, 3], 1, [3], [1, 0], [2], [1] },
    };

    [Theory]
    [MemberData(nameof(ConvTransposeCases))]
    public void ConvTranspose_matches_the_oracle(string label, int[] input, int[] weights, int group, long[] strides, long[] pads, long[] outputPadding, long[] dilations)
    {
        var random = new Random(label.Length + 100);
        int outputs = weights[1] * group;
        var builder = new ModelBuilder(17).Input("x", input).Output("y")
            .Initializer("w", weights, Oracle.RandomData(random, weights.Aggregate(1, (a, b) => a * b)))
            .Initializer("b", [outputs], Oracle.RandomData(random, outputs))
            .Node("ConvTranspose", ["x", "w", "b"], ["y"], a => a.Int("group", group).Ints("strides", strides).Ints("pads", pads)
                .Ints("output_padding", outputPadding).Ints("dilations", dilations));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, input) }, _output, $"ConvTranspose {label}");
    }

    [Fact]
    public void ConvTranspose_with_output_shape_derives_its_pads()
    {
        var random = new Random(7);
        var builder = new ModelBuilder(17).Input("x", 1, 2, 4, 4).Output("y")
            .Initializer("w", [2, 3, 3, 3], Oracle.RandomData(random, 54))
            .Node("ConvTranspose", ["x", "w"], ["y"], a => a.Ints("strides", 2, 2).Ints("output_shape", 8, 8));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 1, 2, 4, 4) }, _output, "ConvTranspose output_shape");
    }

    public static TheoryData<int, int, int, bool, bool, float, float, int[]> GemmCases() => new()
    {
        // m, k, n, transA, transB, alpha, beta, C shape (empty array = no C)
        { 5, 7, 3, false, false, 1f, 1f, [3] },
        { 17, 33, 20, true, false, 0.5f, 2f, [17, 20] },
        { 16, 16, 16, false, true, 1f, 1f, [] },
        { 40, 3, 1, true, true, 1.5f, -1f, [40, 1] },
        { 1, 50, 10, false, true, 1f, 1f, [1, 10] },
    };

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void Gemm_matches_the_oracle(int m, int k, int n, bool transA, bool transB, float alpha, float beta, int[] cShape)
    {
        var random = new Random((m * 100) + n);
        int[] a = transA ? [k, m] : [m, k];
        int[] b = transB ? [n, k] : [k, n];
        var builder = new ModelBuilder(17).Input("a", a).Output("y")
            .Initializer("b", b, Oracle.RandomData(random, k * n));
        if (cShape.Length > 0)
        {
            builder.Initializer("c", cShape, Oracle.RandomData(random, cShape.Aggregate(1, (x, y) => x * y)));
        }

        builder.Node("Gemm", cShape.Length > 0 ? ["a", "b", "c"] : ["a", "b"], ["y"], x => x.Int("transA", transA ? 1 : 0)
            .Int("transB", transB ? 1 : 0).Float("alpha", alpha).Float("beta", beta));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["a"] = Oracle.Random(random, a) }, _output, $"Gemm {m}x{k}x{n}");
    }

    public static TheoryData<int[], int[]> MatMulCases() => new()
    {
        { [3, 4], [4, 5] },
        { [2, 3, 19, 24], [24, 17] },
        { [2, 1, 5, 6], [3, 6, 2] },
        { [7], [7, 3] },
        { [4, 7], [7] },
        { [2, 3, 2, 4, 8], [3, 1, 8, 4] },
    };

    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMul_batches_and_broadcasts(int[] a, int[] b)
    {
        var random = new Random(a.Length * 10 + b.Length);
        var builder = new ModelBuilder(17).Input("a", a).Input("b", b).Output("y").Node("MatMul", ["a", "b"], ["y"]);
        OracleCheck.Compare(
            _gpu.Device, builder, new Dictionary<string, Tensor> { ["a"] = Oracle.Random(random, a), ["b"] = Oracle.Random(random, b) }, _output,
            $"MatMul {string.Join("x", a)} @ {string.Join("x", b)}");
    }

    [Fact]
    public void BatchNormalization_applies_its_statistics()
    {
        var random = new Random(3);
        float[] variance = Oracle.RandomData(random, 5).Select(v => Math.Abs(v) + 0.1f).ToArray();
        var builder = new ModelBuilder(15).Input("x", 2, 5, 4, 3).Output("y")
            .Floats("scale", Oracle.RandomData(random, 5)).Floats("bias", Oracle.RandomData(random, 5))
            .Floats("mean", Oracle.RandomData(random, 5)).Floats("var", variance)
            .Node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], a => a.Float("epsilon", 1e-3f));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 2, 5, 4, 3) }, _output, "BatchNormalization");
    }

    [Fact]
    public void InstanceNormalization_normalizes_each_plane()
    {
        var random = new Random(4);
        Tensor x = Oracle.Random(random, 2, 3, 17, 23);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (x.Data[i] * 3) + 5;
        }

        var builder = new ModelBuilder(17).Input("x", 2, 3, 17, 23).Output("y")
            .Floats("scale", Oracle.RandomData(random, 3)).Floats("bias", Oracle.RandomData(random, 3))
            .Node("InstanceNormalization", ["x", "scale", "bias"], ["y"], a => a.Float("epsilon", 1e-5f));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = x }, _output, "InstanceNormalization");
    }

    public static TheoryData<string, int[], long[], long[], long[], int, int> PoolCases() => new()
    {
        // op, input, kernel, strides, pads, ceil_mode, count_include_pad
        { "MaxPool", [1, 3, 9, 9], [3, 3], [2, 2], [1, 1, 1, 1], 0, 0 },
        { "MaxPool", [2, 2, 8, 7], [2, 2], [2, 2], [0, 0, 0, 0], 1, 0 },
        { "AveragePool", [1, 3, 9, 10], [3, 3], [2, 2], [1, 1, 1, 1], 0, 0 },
        { "AveragePool", [1, 3, 9, 10], [3, 3], [2, 2], [1, 1, 1, 1], 0, 1 },
        { "AveragePool", [1, 2, 7, 7], [3, 2], [2, 2], [0, 1, 1, 0], 1, 1 },
        { "MaxPool", [1, 2, 11], [3], [2], [1, 1], 0, 0 },
        { "MaxPool", [1, 2, 10, 10], [2, 3], [1, 2], [1, 1, 0, 1], 1, 0 },
    };

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void Pooling_matches_the_oracle(string op, int[] input, long[] kernel, long[] strides, long[] pads, int ceilMode, int countIncludePad)
    {
        var random = new Random(input.Sum() + ceilMode);
        var builder = new ModelBuilder(17).Input("x", input).Output("y").Node(op, ["x"], ["y"], a =>
        {
            a.Ints("kernel_shape", kernel).Ints("strides", strides).Ints("pads", pads).Int("ceil_mode", ceilMode);
            if (op == "AveragePool")
            {
                a.Int("count_include_pad", countIncludePad);
            }
        });
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, input) }, _output, $"{op} {string.Join("x", input)} ceil {ceilMode} incl {countIncludePad}");
    }

    [Theory]
    [InlineData("GlobalAveragePool")]
    [InlineData("GlobalMaxPool")]
    public void Global_pooling_reduces_each_plane(string op)
    {
        var random = new Random(op.Length);
        var builder = new ModelBuilder(17).Input("x", 2, 3, 6, 5).Output("y").Node(op, ["x"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 2, 3, 6, 5) }, _output, op);
    }

    [Theory]
    [InlineData(8, "Relu")]
    [InlineData(24, "LeakyRelu")]
    public void BatchNormalization_and_activation_after_Conv_fuse_into_one_dispatch(int outputs, string activation)
    {
        var random = new Random(outputs);
        var builder = new ModelBuilder(15).Input("x", 1, 3, 10, 10).Output("y")
            .Initializer("w", [outputs, 3, 3, 3], Oracle.RandomData(random, outputs * 27))
            .Floats("b", Oracle.RandomData(random, outputs))
            .Floats("scale", Oracle.RandomData(random, outputs)).Floats("shift", Oracle.RandomData(random, outputs))
            .Floats("mean", Oracle.RandomData(random, outputs)).Floats("var", Oracle.RandomData(random, outputs).Select(v => Math.Abs(v) + 0.2f).ToArray())
            .Node("Conv", ["x", "w", "b"], ["c"], a => a.Ints("pads", 1, 1, 1, 1))
            .Node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["n"])
            .Node(activation, ["n"], ["y"], a =>
            {
                if (activation == "LeakyRelu")
                {
                    a.Float("alpha", 0.1f);
                }
            });
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 1, 3, 10, 10) }, _output, $"Conv+BN+{activation}");
        using var session = new InferenceSession(_gpu.Device, builder.Build());
        Assert.Equal(1, session.GetStatistics(new Dictionary<string, int[]> { ["x"] = [1, 3, 10, 10] }).Dispatches);
    }

    [Fact]
    public void A_Conv_output_read_twice_is_not_fused()
    {
        var random = new Random(9);
        var builder = new ModelBuilder(15).Input("x", 1, 2, 6, 6).Output("y").Output("c")
            .Initializer("w", [4, 2, 3, 3], Oracle.RandomData(random, 72))
            .Node("Conv", ["x", "w"], ["c"])
            .Node("Relu", ["c"], ["y"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 1, 2, 6, 6) }, _output, "Conv output kept");
    }

    [Theory]
    [InlineData("SAME_UPPER")]
    [InlineData("SAME_LOWER")]
    [InlineData("VALID")]
    public void ConvTranspose_auto_pad_matches_the_oracle(string autoPad)
    {
        var random = new Random(autoPad.Length);
        var builder = new ModelBuilder(17).Input("x", 1, 2, 5, 4).Output("y")
            .Initializer("w", [2, 3, 3, 3], Oracle.RandomData(random, 54))
            .Node("ConvTranspose", ["x", "w"], ["y"], a => a.Ints("strides", 2, 2).String("auto_pad", autoPad));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 1, 2, 5, 4) }, _output, $"ConvTranspose {autoPad}");
    }

    [Fact]
    public void MaxPool_with_dilation_matches_the_oracle()
    {
        var random = new Random(21);
        var builder = new ModelBuilder(17).Input("x", 1, 2, 9, 9).Output("y")
            .Node("MaxPool", ["x"], ["y"], a => a.Ints("kernel_shape", 3, 3).Ints("dilations", 2, 2).Ints("pads", 1, 1, 1, 1));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 1, 2, 9, 9) }, _output, "MaxPool dilated");
    }

    [Theory]
    [InlineData(-1, true)]
    [InlineData(1, false)]
    public void LayerNormalization_normalizes_the_trailing_axes(int axis, bool withBias)
    {
        var random = new Random(axis + 40);
        int[] shape = [2, 3, 4, 5];
        int[] normalized = axis == -1 ? [5] : [3, 4, 5];
        int count = normalized.Aggregate(1, (a, b) => a * b);
        Tensor x = Oracle.Random(random, shape);
        for (int i = 0; i < x.Length; i++)
        {
            x.Data[i] = (x.Data[i] * 4) + 2;
        }

        var builder = new ModelBuilder(17).Input("x", shape).Output("y")
            .Initializer("scale", normalized, Oracle.RandomData(random, count));
        if (withBias)
        {
            builder.Initializer("bias", normalized, Oracle.RandomData(random, count));
        }

        builder.Node("LayerNormalization", withBias ? ["x", "scale", "bias"] : ["x", "scale"], ["y"], a => a.Int("axis", axis).Float("epsilon", 1e-5f));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = x }, _output, $"LayerNormalization axis {axis}");
    }
}
