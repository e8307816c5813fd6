using RenderFarm.Gpu;
using RenderFarm.Inference.Planning;
using RenderFarm.Inference.Tests.Models;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// The kernel builds for CPU-type devices (<c>shaders/inference/*_cpu.comp</c>: no shared memory, no barriers) compute
/// the same sums in the same order as the GPU kernels, so the two give bit-identical outputs: a farm mixing lavapipe and
/// GPU providers sees no new divergence from them. Shapes cover partial 64×64 tiles, groups, strides, dilations, padding,
/// transposed and broadcast operands, and outputs spanning several planes per workgroup.
/// </summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class KernelBuildsFacts
{
    private readonly GpuFixture _gpu;

    public KernelBuildsFacts(GpuFixture gpu)
    {
        _gpu = gpu;
    }

    [Fact]
    public void The_matrix_and_convolution_kernels_have_cpu_builds_that_cpu_devices_run()
    {
        Assert.True(KernelLibrary.HasCpuBuild(KernelKind.MatMul));
        Assert.True(KernelLibrary.HasCpuBuild(KernelKind.ConvGemm));
        Assert.True(KernelLibrary.HasCpuBuild(KernelKind.Conv));
        Assert.False(KernelLibrary.HasCpuBuild(KernelKind.Unary));
        ComputePipeline chosen = KernelLibrary.For(_gpu.Device).Get(KernelKind.MatMul);
        ComputePipeline gpu = KernelLibrary.For(_gpu.Device, KernelBuilds.Gpu).Get(KernelKind.MatMul);
        Assert.Equal(_gpu.Device.Info.Kind == GpuDeviceKind.Cpu, !ReferenceEquals(chosen, gpu));
    }

    [Theory]
    [MemberData(nameof(ConvolutionFacts.ConvCases), MemberType = typeof(ConvolutionFacts))]
    public void Conv_builds_agree_bit_for_bit(string label, int[] input, int[] weights, int group, long[] strides, long[] dilations, long[] pads, string autoPad, bool bias)
    {
        var random = new Random(label.Length);
        ModelBuilder builder = ConvolutionFacts.ConvModel(random, input, weights, group, strides, dilations, pads, autoPad, bias);
        AssertIdentical(builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, input) });
    }

    [Theory]
    [InlineData(1, 3, 20, 20, 24, 3)]  // implicit GEMM: 24 channels, partial tiles both ways
    [InlineData(2, 16, 16, 16, 70, 3)] // implicit GEMM: two row tiles, 256 pixels
    [InlineData(3, 2, 16, 16, 1, 5)]   // direct: one channel, each workgroup inside one 256-pixel plane
    [InlineData(1, 3, 9, 7, 2, 3)]     // direct: 63-pixel planes, workgroups span several planes
    public void Conv_with_relu_builds_agree_bit_for_bit(int batch, int channels, int height, int width, int outputs, int kernel)
    {
        var random = new Random((outputs * 31) + kernel);
        var builder = new ModelBuilder(17).Input("x", [batch, channels, height, width]).Output("y")
            .Initializer("w", [outputs, channels, kernel, kernel], Oracle.RandomData(random, outputs * channels * kernel * kernel))
            .Initializer("b", [outputs], Oracle.RandomData(random, outputs))
            .Node("Conv", ["x", "w", "b"], ["c"], a => a.Ints("pads", [kernel / 2, kernel / 2, kernel / 2, kernel / 2]))
            .Node("Relu", ["c"], ["y"]);
        AssertIdentical(builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, batch, channels, height, width) });
    }

    [Theory]
    [MemberData(nameof(ConvolutionFacts.GemmCases), MemberType = typeof(ConvolutionFacts))]
    public void Gemm_builds_agree_bit_for_bit(int m, int k, int n, bool transA, bool transB, float alpha, float beta, int[] cShape)
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
        AssertIdentical(builder, new Dictionary<string, Tensor> { ["a"] = Oracle.Random(random, a) });
    }

    [Theory]
    [InlineData(new[] { 2, 3, 19, 24 }, new[] { 24, 17 })]
    [InlineData(new[] { 2, 1, 5, 6 }, new[] { 3, 6, 2 })]
    [InlineData(new[] { 130, 70 }, new[] { 70, 129 })]
    [InlineData(new[] { 2, 3, 2, 4, 8 }, new[] { 3, 1, 8, 4 })]
    public void MatMul_builds_agree_bit_for_bit(int[] a, int[] b)
    {
        var random = new Random((a.Length * 10) + b.Length);
        var builder = new ModelBuilder(17).Input("a", a).Input("b", b).Output("y").Node("MatMul", ["a", "b"], ["y"]);
        AssertIdentical(builder, new Dictionary<string, Tensor> { ["a"] = Oracle.Random(random, a), ["b"] = Oracle.Random(random, b) });
    }

    private void AssertIdentical(ModelBuilder builder, Dictionary<string, Tensor> inputs)
    {
        OnnxModel model = OnnxModel.Parse(builder.ToBytes());
        using var chosen = new InferenceSession(_gpu.Device, model);
        using var gpu = new InferenceSession(_gpu.Device, model, KernelBuilds.Gpu);
        Tensor ours = chosen.Run(inputs)["y"];
        Tensor reference = gpu.Run(inputs)["y"];
        Assert.Equal(reference.Shape, ours.Shape);
        Assert.NotEmpty(ours.Data);
        Assert.Contains(ours.Data, v => v != 0f);
        for (int i = 0; i < ours.Data.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(reference.Data[i]) == BitConverter.SingleToInt32Bits(ours.Data[i]), $"element {i}: {ours.Data[i]:R} against {reference.Data[i]:R}");
        }
    }
}
