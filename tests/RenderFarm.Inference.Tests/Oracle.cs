using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>ONNX Runtime (CPU) as the reference the engine is checked against, and the tolerant comparison.</summary>
internal static class Oracle
{
    public static Dictionary<string, Tensor> Run(byte[] model, IReadOnlyDictionary<string, Tensor> inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model, options);
        var values = inputs.Select(i => NamedOnnxValue.CreateFromTensor(i.Key, new DenseTensor<float>(i.Value.Data, i.Value.Shape.ToArray()))).ToList();
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(values);
        var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DisposableNamedOnnxValue result in results)
        {
            Tensor<float> tensor = result.AsTensor<float>();
            outputs[result.Name] = new Tensor(tensor.Dimensions.ToArray(), tensor.ToArray());
        }

        return outputs;
    }

    /// <summary>
    /// Asserts equal shapes and max |expected - actual| ≤ <paramref name="tolerance"/> · max(1, max |expected|), and
    /// reports the measured error.
    /// </summary>
    public static double AssertClose(Tensor expected, Tensor actual, double tolerance, ITestOutputHelper? output = null, string label = "")
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double scale = 1;
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected.Data[i]));
        }

        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected.Data[i];
            double a = actual.Data[i];
            double error = double.IsNaN(e) && double.IsNaN(a) ? 0 : Math.Abs(e - a);
            if (double.IsNaN(error) || error > worst)
            {
                worst = double.IsNaN(error) ? double.PositiveInfinity : error;
                worstAt = i;
            }
        }

        double relative = worst / scale;
        output?.WriteLine($"{label}: shape [{string.Join(", ", expected.Shape)}], max |err| {worst:E2}, relative to magnitude {scale:G4}: {relative:E2}");
        Assert.True(
            relative <= tolerance,
            $"{label}: max |err| {worst:E3} at {worstAt} (expected {(worstAt >= 0 ? expected.Data[worstAt] : 0)}, got {(worstAt >= 0 ? actual.Data[worstAt] : 0)}); " +
            $"relative {relative:E3} > {tolerance:E1}.");
        return relative;
    }

    public static Tensor Random(Random random, params int[] shape)
    {
        var tensor = Tensor.Zeros(shape);
        for (int i = 0; i < tensor.Length; i++)
        {
            tensor.Data[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return tensor;
    }

    public static float[] RandomData(Random random, int count, float scale = 1f)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = (float)((random.NextDouble() * 2) - 1) * scale;
        }

        return data;
    }
}
