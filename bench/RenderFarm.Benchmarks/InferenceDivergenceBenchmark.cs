using System.Globalization;
using RenderFarm.Gpu;
using RenderFarm.Inference;
using RenderFarm.Testing;

namespace RenderFarm.Benchmarks;

/// <summary>
/// Honest divergence of inference outputs between devices: every float output of the committed models, on seeded
/// random items, from this device's kernels and from the same kernels built as another conforming device would run
/// them (<see cref="InferenceSession.SimulatingOtherDevice"/>: fused multiply-adds, other summation orders,
/// exp/log/sqrt/division at their Vulkan precision bounds). Each difference is printed in units of
/// <see cref="OutputTolerance"/>'s <c>2^-24 · roundings · max|output|</c>, beside what a provider scaling the output by
/// 1 % would show, so the verification bound (<see cref="OutputTolerance.Scale"/>) rests on measured figures.
/// </summary>
internal static class InferenceDivergenceBenchmark
{
    private static readonly (string Name, string Path)[] s_models =
    [
        ("edge-detect", "samples/edge-detect/edge-detect.onnx"),
        ("small-cnn", "bench/RenderFarm.Benchmarks/Models/small-cnn.onnx"),
        ("tiny-encoder", "tests/RenderFarm.Inference.Tests/Samples/tiny-encoder.onnx"),
        ("token-head", "tests/RenderFarm.Inference.Tests/Samples/token-head.onnx"),
    ];

    public static Task<int> RunAsync(BenchOptions options)
    {
        int items = options.Int("items", 4);
        int size = options.Int("size", 64, min: 8);
        int length = options.Int("length", 12, min: 2);
        Console.WriteLine(Stats.Machine());
        using ComputeDevice device = ComputeDevice.Open();
        Console.WriteLine($"device: {device.Info}; {items} seeded items per model; images {size}x{size}, token sequences up to {length}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"unit = 2^-24 · roundings · max|output| (OutputTolerance); verification allows {OutputTolerance.Scale} units"));
        Console.WriteLine();
        Console.WriteLine("| model | output | roundings | max abs output | max abs diff (other device) | honest, units | 1 % scaled output, units |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        double worst = 0;
        foreach ((string name, string path) in s_models)
        {
            OnnxModel model = OnnxModel.Load(RepositoryPaths.Combine(path));
            using var ours = new InferenceSession(device, model);
            using var other = InferenceSession.SimulatingOtherDevice(device, model);
            var random = new Random(17);
            var perOutput = new Dictionary<string, (long Roundings, double Magnitude, double Difference, double Units, double CheatUnits)>(StringComparer.Ordinal);
            for (int item = 0; item < items; item++)
            {
                Dictionary<string, Tensor> inputs = RandomItem(model, random, size, 2 + random.Next(length - 1));
                IReadOnlyDictionary<string, long> roundings = OutputTolerance.Roundings(model, inputs.ToDictionary(p => p.Key, p => p.Value.Shape.ToArray(), StringComparer.Ordinal));
                IReadOnlyDictionary<string, Tensor> a = ours.Run(inputs);
                IReadOnlyDictionary<string, Tensor> b = other.Run(inputs);
                foreach (TensorInfo output in model.Outputs.Where(o => !TensorTypes.IsInteger(o.ElementType)))
                {
                    float[] reference = a[output.Name].Data;
                    double magnitude = reference.Where(float.IsFinite).Select(v => (double)Math.Abs(v)).DefaultIfEmpty(0).Max();
                    double difference = reference.Zip(b[output.Name].Data, (x, y) => Math.Abs((double)x - y)).DefaultIfEmpty(0).Max();
                    double unit = OutputTolerance.Bound(roundings[output.Name], magnitude) / OutputTolerance.Scale;
                    double units = unit > 0 ? difference / unit : (difference > 0 ? double.PositiveInfinity : 0);
                    double cheatUnits = unit > 0 ? 0.01 * magnitude / unit : 0;
                    if (!perOutput.TryGetValue(output.Name, out var seen) || units >= seen.Units)
                    {
                        perOutput[output.Name] = (roundings[output.Name], magnitude, difference, units, cheatUnits);
                    }
                }
            }

            foreach ((string output, var figures) in perOutput)
            {
                worst = Math.Max(worst, figures.Units);
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {name} | {output} | {figures.Roundings} | {figures.Magnitude:G3} | {figures.Difference:G3} | {figures.Units:G3} | {figures.CheatUnits:G3} |"));
            }
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"largest honest difference: {worst:G3} units (verification allows {OutputTolerance.Scale}: a margin of {OutputTolerance.Scale / Math.Max(worst, 1e-12):0}x)"));
        return Task.FromResult(0);
    }

    // Every input of the model filled from its declared type and shape: dynamic image sides get `size`, other dynamic
    // dimensions `length` (or 1 for the batch); token ids fit the test vocabularies, masks end in padding.
    private static Dictionary<string, Tensor> RandomItem(OnnxModel model, Random random, int size, int length)
    {
        var inputs = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (TensorInfo input in model.Inputs)
        {
            int[] shape = [.. input.Shape.Select((d, i) => d ?? (i == 0 ? 1 : input.Shape.Count == 4 ? size : length))];
            int count = shape.Aggregate(1, (p, d) => p * d);
            float[] data = new float[count];
            bool integer = TensorTypes.IsInteger(input.ElementType);
            bool mask = input.Name.Contains("mask", StringComparison.OrdinalIgnoreCase);
            for (int i = 0; i < count; i++)
            {
                data[i] = mask ? (i % shape[^1] < shape[^1] - 1 ? 1 : 0)
                    : integer ? random.Next(0, 30)
                    : (float)random.NextDouble();
            }

            inputs[input.Name] = new Tensor(shape, data, input.ElementType);
        }

        return inputs;
    }
}
