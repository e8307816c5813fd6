using System.Diagnostics;
using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Inference.Planning;
using RenderFarm.Testing;
using Ort = Microsoft.ML.OnnxRuntime;

namespace RenderFarm.Benchmarks;

/// <summary>
/// Batch inference on our Vulkan kernels next to ONNX Runtime's CPU provider, same models, same
/// inputs, same run: latency of one item, latency and throughput of a batch, GFLOP/s of the
/// convolution and matrix-product work, and the largest difference between the two outputs.
/// </summary>
/// <remarks>
/// Models: the edge-detection sample (<c>samples/edge-detect</c>, on the Cornell box image stretched
/// to <c>--size</c>) and a small CNN classifier (<c>bench/RenderFarm.Benchmarks/Models/small-cnn.onnx</c>,
/// 64×64 inputs). Both files come from the generators in <c>tests/RenderFarm.Inference.Tests/Samples</c>,
/// whose FLOP counts are repeated below. A run is one <c>Run</c> call with its uploads and downloads
/// (our engine) or one <c>OrtSession.Run</c> on preallocated inputs (ONNX Runtime, all cores); each
/// configuration gets two untimed warm-up runs (our plan is compiled per input shape on first use).
/// </remarks>
internal static class InferenceBenchmark
{
    private const string EdgeDetectPath = "samples/edge-detect/edge-detect.onnx";
    private const string SmallCnnPath = "bench/RenderFarm.Benchmarks/Models/small-cnn.onnx";

    public static Task<int> RunAsync(BenchOptions options)
    {
        string which = options.String("model", "both");
        int batch = options.Int("batch", 8);
        int runs = options.Int("runs", 20);
        ImageSize size = ImageSize.Parse(options.String("size", "256x256"));
        if (which is not ("edge" or "cnn" or "both"))
        {
            throw new ArgumentException($"--model must be edge, cnn or both; got '{which}'.");
        }

        var models = new List<BenchModel>();
        if (which is "edge" or "both")
        {
            // Conv 1×1 (3 taps), 5×5 blur (25), Sobel x and y (2 × 9): 2 FLOPs per multiply-add per pixel.
            long flops = 2L * (3 + 25 + (2 * 9)) * size.PixelCount;
            Tensor image = ImageInput.Load(RepositoryPaths.Combine("samples/edge-detect/cornell-box.png"), new ImagePreprocessing { Size = size });
            models.Add(new BenchModel($"edge-detect {size}", EdgeDetectPath, image, flops));
        }

        if (which is "cnn" or "both")
        {
            // Four 3×3 convolutions (3→16 at 64², 16→32 at 32², 32→64 at 16², 64→64 at 8²) and a 64→10 Gemm.
            long flops = (2L * 9 * ((16 * 3 * 64 * 64) + (32 * 16 * 32 * 32) + (64 * 32 * 16 * 16) + (64 * 64 * 8 * 8))) + (2L * 64 * 10);
            models.Add(new BenchModel("small-cnn 64x64", SmallCnnPath, RandomImage(new Random(7), 64, 64), flops));
        }

        Console.WriteLine(Stats.Machine());
        using ComputeDevice device = ComputeDevice.Open();
        Console.WriteLine($"ours: {device.Info}; ONNX Runtime {Ort.OrtEnv.Instance().GetVersionString()}, CPU execution provider, default threads, all graph optimizations");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch 1 and batch {batch}, {runs} timed runs each after 2 warm-up runs; GFLOP/s counts the convolutions and matrix products only"));
        Console.WriteLine();

        var rows = new List<string>();
        foreach (BenchModel model in models)
        {
            byte[] bytes = File.ReadAllBytes(RepositoryPaths.Combine(model.Path));
            OnnxModel parsed = OnnxModel.Parse(bytes);
            parsed.EnsureSupported();
            string inputName = parsed.Inputs[0].Name;
            string outputName = parsed.Outputs[0].Name;
            Tensor single = model.Item;
            Tensor batched = InputBatching.Stack([.. Enumerable.Repeat(single, batch)]);

            using var ours = new InferenceSession(device, parsed);
            using var sessionOptions = new Ort.SessionOptions { GraphOptimizationLevel = Ort.GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var ort = new Ort.InferenceSession(bytes, sessionOptions);
            using var runOptions = new Ort.RunOptions();

            // On a CPU-type device the session runs the *_cpu kernel builds; the GPU builds (shared-memory tiles) are
            // timed beside them, run for run interleaved, so both see the same load.
            bool cpuBuilds = device.Info.Kind == GpuDeviceKind.Cpu;
            using InferenceSession? tiled = cpuBuilds ? new InferenceSession(device, parsed, KernelBuilds.Gpu) : null;
            Func<Tensor, Tensor> runOurs = input => ours.Run(new Dictionary<string, Tensor> { [inputName] = input })[outputName];
            Func<Tensor, Tensor>? runTiled = tiled is null ? null : input => tiled.Run(new Dictionary<string, Tensor> { [inputName] = input })[outputName];
            Func<Tensor, Tensor> runOrt = input => RunOrt(ort, runOptions, inputName, outputName, input);

            (Measurement oursOne, Measurement? tiledOne) = Measure(runOurs, runTiled, single, runs);
            (Measurement oursMany, Measurement? tiledMany) = Measure(runOurs, runTiled, batched, runs);
            (Measurement ortOne, _) = Measure(runOrt, null, single, runs);
            (Measurement ortMany, _) = Measure(runOrt, null, batched, runs);
            double difference = MaxAbsDifference(oursMany.Output, ortMany.Output);
            double magnitude = ortMany.Output.Data.Max(Math.Abs);
            if (tiledMany is not null && !tiledMany.Output.Data.AsSpan().SequenceEqual(oursMany.Output.Data))
            {
                throw new InvalidOperationException($"{model.Name}: the CPU-type kernel builds and the GPU builds gave different outputs.");
            }

            var runtimes = new List<(string Runtime, Measurement One, Measurement Many, bool Ours)>
            {
                (cpuBuilds ? "RenderFarm (Vulkan, CPU builds)" : "RenderFarm (Vulkan)", oursOne, oursMany, true),
            };
            if (tiledOne is not null && tiledMany is not null)
            {
                runtimes.Add(("RenderFarm (Vulkan, GPU builds)", tiledOne, tiledMany, true));
            }

            runtimes.Add(("ONNX Runtime CPU", ortOne, ortMany, false));
            foreach ((string runtime, Measurement one, Measurement many, bool isOurs) in runtimes)
            {
                rows.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {model.Name} | {runtime} | {Stats.Ms(one.P50)} ms | {Stats.Ms(many.P50)} ms | {batch / (many.P50 / 1000):0.0} | {model.FlopsPerItem * batch / (many.P50 / 1000) / 1e9:0.00} | {ortMany.P50 / many.P50:P1} | {(isOurs ? difference.ToString("0.0e+0", CultureInfo.InvariantCulture) + $" (of max {magnitude:0.###})" : "")} |"));
            }

            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{model.Name}: {model.FlopsPerItem / 1e6:0.0} MFLOP per item; batch {batch}: ours {Stats.Ms(oursMany.P50)} ms (p90 {Stats.Ms(oursMany.P90)}){(tiledMany is null ? "" : $", GPU builds {Stats.Ms(tiledMany.P50)} ms (p90 {Stats.Ms(tiledMany.P90)})")}, ONNX Runtime {Stats.Ms(ortMany.P50)} ms (p90 {Stats.Ms(ortMany.P90)}); ratio {ortMany.P50 / oursMany.P50:0.00}×; max |ours − ORT| {difference:0.0e+0}"));
        }

        Console.WriteLine();
        Console.WriteLine($"| model | runtime | batch 1 p50 | batch {batch} p50 | items/s (batch {batch}) | GFLOP/s (batch {batch}) | of ONNX Runtime's throughput | max abs diff vs ORT |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine(Stats.Machine());
        return Task.FromResult(0);
    }

    // Two warm-up runs each, then the timed runs of `run` and `other` (when given) alternate, so both see the same load.
    private static (Measurement Run, Measurement? Other) Measure(Func<Tensor, Tensor> run, Func<Tensor, Tensor>? other, Tensor input, int runs)
    {
        Tensor output = run(input);
        output = run(input);
        Tensor? otherOutput = null;
        if (other is not null)
        {
            other(input);
            otherOutput = other(input);
        }
        var times = new double[runs];
        var otherTimes = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            output = run(input);
            times[i] = Stats.Since(start);
            if (other is not null)
            {
                start = Stopwatch.GetTimestamp();
                otherOutput = other(input);
                otherTimes[i] = Stats.Since(start);
            }
        }

        var stats = new Stats(times);
        var otherStats = new Stats(otherTimes);
        return (new Measurement(stats.Percentile(50), stats.Percentile(90), output),
            otherOutput is null ? null : new Measurement(otherStats.Percentile(50), otherStats.Percentile(90), otherOutput));
    }

    private static Tensor RunOrt(Ort.InferenceSession session, Ort.RunOptions runOptions, string inputName, string outputName, Tensor input)
    {
        using Ort.OrtValue value = Ort.OrtValue.CreateTensorValueFromMemory(input.Data, [.. input.Shape.Select(d => (long)d)]);
        using Ort.IDisposableReadOnlyCollection<Ort.OrtValue> results = session.Run(runOptions, [inputName], [value], [outputName]);
        Ort.OrtValue result = results[0];
        long[] shape = result.GetTensorTypeAndShape().Shape;
        return new Tensor([.. shape.Select(d => (int)d)], result.GetTensorDataAsSpan<float>().ToArray());
    }

    private static double MaxAbsDifference(Tensor a, Tensor b)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
        {
            throw new InvalidOperationException($"Output shapes differ: [{string.Join(", ", a.Shape)}] and [{string.Join(", ", b.Shape)}].");
        }

        double worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)a.Data[i] - b.Data[i]));
        }

        return worst;
    }

    private static Tensor RandomImage(Random random, int width, int height)
    {
        var data = new float[3 * width * height];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)random.NextDouble();
        }

        return new Tensor([1, 3, height, width], data);
    }

    private sealed record BenchModel(string Name, string Path, Tensor Item, long FlopsPerItem);

    private sealed record Measurement(double P50, double P90, Tensor Output);
}
