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
        var values = inputs.Select(i => ToOrt(i.Key, session.InputMetadata[i.Key].ElementDataType, i.Value)).ToList();
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(values);
        var outputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DisposableNamedOnnxValue result in results)
        {
            outputs[result.Name] = FromOrt(result);
        }

        return outputs;
    }

    private static NamedOnnxValue ToOrt(string name, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType type, Tensor tensor)
    {
        int[] shape = [.. tensor.Shape];
        return type switch
        {
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 =>
                NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(tensor.Data.Select(v => (long)v).ToArray(), shape)),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32 =>
                NamedOnnxValue.CreateFromTensor(name, new DenseTensor<int>(tensor.Data.Select(v => (int)v).ToArray(), shape)),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.UInt8 =>
                NamedOnnxValue.CreateFromTensor(name, new DenseTensor<byte>(tensor.Data.Select(v => (byte)v).ToArray(), shape)),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Bool =>
                NamedOnnxValue.CreateFromTensor(name, new DenseTensor<bool>(tensor.Data.Select(v => v != 0).ToArray(), shape)),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16 =>
                NamedOnnxValue.CreateFromTensor(name, new DenseTensor<Float16>(tensor.Data.Select(v => (Float16)v).ToArray(), shape)),
            _ => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(tensor.Data, shape)),
        };
    }

    private static Tensor FromOrt(DisposableNamedOnnxValue result)
    {
        int[] Shape<T>(Tensor<T> t) => t.Dimensions.ToArray();
        return result.ElementType switch
        {
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 => From(result.AsTensor<long>(), v => v, TensorElementType.Int64),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32 => From(result.AsTensor<int>(), v => v, TensorElementType.Int32),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.UInt8 => From(result.AsTensor<byte>(), v => v, TensorElementType.UInt8),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Bool => From(result.AsTensor<bool>(), v => v ? 1f : 0f, TensorElementType.Bool),
            Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16 => From(result.AsTensor<Float16>(), v => (float)v, TensorElementType.Float16),
            _ => new Tensor(Shape(result.AsTensor<float>()), result.AsTensor<float>().ToArray()),
        };

        static Tensor From<T>(Tensor<T> t, Func<T, float> convert, TensorElementType type) =>
            new(t.Dimensions.ToArray(), t.ToArray().Select(convert).ToArray(), type);
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
