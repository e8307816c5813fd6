using RenderFarm.Gpu;
using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>Runs a model on the engine and on ONNX Runtime and compares every output.</summary>
internal static class OracleCheck
{
    /// <summary>
    /// The tolerance of most kernels, relative to the output's magnitude (max(1, max |expected|)). Measured errors of
    /// the checked kernels are far below it (see docs of each test class); the margin absorbs summation order.
    /// </summary>
    public const double DefaultTolerance = 1e-4;

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
