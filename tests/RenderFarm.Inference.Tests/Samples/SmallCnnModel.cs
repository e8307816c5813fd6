using RenderFarm.Inference.Tests.Models;

namespace RenderFarm.Inference.Tests.Samples;

/// <summary>
/// Generates <c>bench/RenderFarm.Benchmarks/Models/small-cnn.onnx</c>: a small image classifier of the usual shape with
/// fixed pseudo-random (He-uniform) weights, the benchmark's second model. Its answers mean nothing;
/// its arithmetic is that of a real CNN.
/// </summary>
/// <remarks>
/// <code>
/// image [N, 3, 64, 64]
///   → Conv 3→16 3×3 pad 1 + Relu          [N, 16, 64, 64]
///   → Conv 16→32 3×3 stride 2 pad 1 + Relu [N, 32, 32, 32]
///   → Conv 32→64 3×3 stride 2 pad 1 + Relu [N, 64, 16, 16]
///   → Conv 64→64 3×3 stride 2 pad 1 + Relu [N, 64, 8, 8]
///   → GlobalAveragePool, Flatten          [N, 64]
///   → Gemm 64→10, Softmax                 probabilities [N, 10]
/// </code>
/// </remarks>
internal static class SmallCnnModel
{
    /// <summary>The committed file, relative to the repository root.</summary>
    public const string RelativePath = "bench/RenderFarm.Benchmarks/Models/small-cnn.onnx";

    private static readonly (int In, int Out, int Stride, int Size)[] s_convolutions =
    [
        (3, 16, 1, 64),
        (16, 32, 2, 32),
        (32, 64, 2, 16),
        (64, 64, 2, 8),
    ];

    /// <summary>FLOPs (2 per multiply-add) of the convolutions and the Gemm for one image.</summary>
    public static long FlopsPerItem =>
        s_convolutions.Sum(c => 2L * c.Out * c.Size * c.Size * c.In * 9) + (2L * 64 * 10);

    public static ModelBuilder Create()
    {
        var random = new SplitMix(20261128);
        var builder = new ModelBuilder(opset: 17, graphName: "small_cnn").Input("image", null, 3, 64, 64);
        string x = "image";
        for (int i = 0; i < s_convolutions.Length; i++)
        {
            (int input, int output, int stride, _) = s_convolutions[i];
            string w = $"conv{i + 1}.weight";
            string b = $"conv{i + 1}.bias";
            builder
                .Initializer(w, [output, input, 3, 3], random.HeUniform(output * input * 9, input * 9))
                .Initializer(b, [output], random.Uniform(output, 0.05f))
                .Node("Conv", [x, w, b], [$"conv{i + 1}"], a => a.Ints("kernel_shape", 3, 3).Ints("strides", stride, stride).Ints("pads", 1, 1, 1, 1), name: $"conv{i + 1}")
                .Node("Relu", [$"conv{i + 1}"], [$"relu{i + 1}"], name: $"relu{i + 1}");
            x = $"relu{i + 1}";
        }

        return builder
            .Initializer("fc.weight", [10, 64], random.HeUniform(640, 64))
            .Initializer("fc.bias", [10], random.Uniform(10, 0.05f))
            .Node("GlobalAveragePool", [x], ["pooled"], name: "pool")
            .Node("Flatten", ["pooled"], ["features"], a => a.Int("axis", 1), name: "flatten")
            .Node("Gemm", ["features", "fc.weight", "fc.bias"], ["logits"], a => a.Int("transB", 1), name: "fc")
            .Node("Softmax", ["logits"], ["probabilities"], a => a.Int("axis", 1), name: "softmax")
            .Output("probabilities", null, 10);
    }

    /// <summary>SplitMix64: the same weights on every runtime (System.Random's seeded sequence is not promised across versions).</summary>
    private sealed class SplitMix(ulong seed)
    {
        private ulong _state = seed;

        public float[] HeUniform(int count, int fanIn) => Uniform(count, MathF.Sqrt(6f / fanIn));

        public float[] Uniform(int count, float limit)
        {
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                // 24 random bits → [0, 1) exactly representable, then to [-limit, limit).
                float unit = (Next() >> 40) / (float)(1 << 24);
                values[i] = ((2 * unit) - 1) * limit;
            }

            return values;
        }

        private ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
