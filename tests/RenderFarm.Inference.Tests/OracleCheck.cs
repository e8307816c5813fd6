using RenderFarm.Gpu;
using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>Runs a model on the engine and on ONNX Runtime and compares every output.</summary>
internal static class OracleCheck
{
    /// <summary>
    /// The tolerance of every kernel and network check: max |engine - ONNX Runtime| relative to the output's
    /// magnitude, max(1, max |expected|). Measured on lavapipe over all checks (single kernels, 60 randomized
    /// configurations, the three networks): at most 6.0e-7 (1-D Conv), networks 1.5e-8 to 4.3e-7; exact for
    /// copies, pooling maxima and most elementwise operators. The margin covers other summation orders and the
    /// approximate exp/log of GPU drivers.
    /// </summary>
    public const double DefaultTolerance = 1e-5;

    public static double Compare(
        ComputeDevice device, ModelBuilder builder, IReadOnlyDictionary<string, Tensor> inputs, ITestOutputHelper output, string label, double tolerance = DefaultTolerance)
    {
        byte[] bytes = builder.ToBytes();
        OnnxModel model = OnnxModel.Parse(bytes);
        Assert.Empty(model.UnsupportedOperators);
        Dictionary<string, Tensor> expected = Oracle.Run(bytes, inputs);
        using var session = new InferenceSession(device, model);
        IReadOnlyDictionary<string, Tensor> actual = session.Run(inputs);
        double worst = 0;
        foreach ((string name, Tensor tensor) in expected)
        {
            Assert.True(actual.ContainsKey(name), $"{label}: output '{name}' is missing.");
            worst = Math.Max(worst, Oracle.AssertClose(tensor, actual[name], tolerance, output, $"{label} {name}"));
        }

        return worst;
    }
}
