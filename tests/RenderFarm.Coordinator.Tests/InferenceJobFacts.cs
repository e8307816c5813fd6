using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Gpu;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Testing;
using RenderFarm.Worker;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// Batch inference on the farm in one process: the edge-detection sample model and random inputs uploaded, split into
/// tasks on the inference queue, run by real workers on the local Vulkan device, sampled items re-executed by another
/// provider; a provider returning wrong tensors is caught 2 of 3.
/// </summary>
[Trait("Category", "Gpu")]
[Collection(GpuWorkers.Name)]
public sealed class InferenceJobFacts
{
    private static readonly Dictionary<string, string?> s_spotChecks = new() { ["Coordinator:SpotChecks"] = "true" };
    private static readonly string s_model = RepositoryPaths.Combine("samples/edge-detect/edge-detect.onnx");
    private static readonly string s_encoder = RepositoryPaths.Combine("tests/RenderFarm.Inference.Tests/Samples/tiny-encoder.onnx");
    private static readonly string s_head = RepositoryPaths.Combine("tests/RenderFarm.Inference.Tests/Samples/token-head.onnx");

    /// <summary>
    /// A provider scaling every output by 1.5 is caught, and so is one scaling by 1.0005: inside the fixed tolerance
    /// (1e-4 + 1e-3·|b|) items were compared with before, far outside the edge model's bound from its roundings (55) and
    /// magnitude (about 0.25), 8e-7.
    /// </summary>
    [Theory]
    [InlineData(1.5f)]
    [InlineData(1.0005f)]
    public async Task A_batch_is_run_by_honest_workers_and_a_provider_returning_wrong_tensors_is_caught(float factor)
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        ModelUploaded model = await farm.UploadAsync<ModelUploaded>("models", "edge-detect.onnx", await File.ReadAllBytesAsync(s_model));
        Tensor[] items = [.. Enumerable.Range(0, 4).Select(i => RandomImage(seed: i))];
        var inputs = new List<string>();
        foreach ((Tensor item, int i) in items.Select((t, i) => (t, i)))
        {
            inputs.Add((await farm.UploadAsync<InputUploaded>("inputs", $"item{i}.npy", NpyFile.Format(item))).Sha256);
        }

        using HttpResponseMessage submitted = await farm.Client.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, inputs, ItemsPerTask: 2));
        await TestFarm.ExpectAsync(submitted, HttpStatusCode.Created);
        JobSummary job = (await submitted.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
        Assert.Equal(2, job.TasksTotal);

        // The cheat takes the first task alone; the honest workers join once its output waits for verification.
        await using var cheat = new InProcessWorker(farm, new VulkanFrameRenderer(), new ScaledOutputRunner(new VulkanInferenceRunner(), factor));
        await farm.WaitForJobAsync(job.Id, d => d.Tasks.Any(t => t.State == FarmTaskState.Verifying));
        await using var first = new InProcessWorker(farm, new VulkanFrameRenderer(), new VulkanInferenceRunner());
        await using var second = new InProcessWorker(farm, new VulkanFrameRenderer(), new VulkanInferenceRunner());

        JobDetails done = await farm.WaitForJobEndAsync(job.Id);

        Assert.Equal(JobState.Completed, done.Job.State);
        Assert.Contains(done.Tasks, t => t.RejectedBy!.Contains(cheat.Address, StringComparer.OrdinalIgnoreCase));
        Assert.All(done.Tasks, t => Assert.NotEqual(cheat.Address, t.Provider, StringComparer.OrdinalIgnoreCase));
        Assert.All(done.Tasks, t => Assert.Contains(t.Checks!, c => c.State == SpotCheckState.Passed && c.RenderedBy.Equals(t.Provider, StringComparison.OrdinalIgnoreCase)));

        // Every delivered output is what the engine computes here for that item.
        using ComputeDevice device = ComputeDevice.Open();
        OnnxModel onnx = OnnxModel.Load(s_model);
        using var session = new InferenceSession(device, onnx);
        foreach (FrameLink output in done.Tasks.SelectMany(t => t.Frames))
        {
            Assert.EndsWith($"/outputs/{output.Frame}", output.Url.AbsolutePath, StringComparison.Ordinal);
            Tensor delivered = NpyFile.Parse(await farm.Client.GetByteArrayAsync(output.Url), "output");
            Tensor expected = session.Run(new Dictionary<string, Tensor> { [onnx.Inputs[0].Name] = items[output.Frame - 1] }).Values.Single();
            Assert.Equal(expected.Shape, delivered.Shape);
            Assert.Equal(expected.Data, delivered.Data);
        }
    }

    [Fact]
    public async Task Bad_models_and_inputs_are_refused_at_submission_with_the_reason()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        string notOnnx = await TestFarm.ExpectProblemAsync(await farm.PostUploadAsync("models", "model.onnx", "not a model"u8.ToArray()), HttpStatusCode.BadRequest);
        Assert.Contains("model.onnx", notOnnx, StringComparison.Ordinal);
        await TestFarm.ExpectProblemAsync(await farm.PostUploadAsync("inputs", "x.npy", "not a tensor"u8.ToArray()), HttpStatusCode.BadRequest);

        ModelUploaded model = await farm.UploadAsync<ModelUploaded>("models", "edge-detect.onnx", await File.ReadAllBytesAsync(s_model));
        InputUploaded flat = await farm.UploadAsync<InputUploaded>("inputs", "flat.npy", NpyFile.Format(new Tensor([3, 8, 8], new float[192])));
        using HttpResponseMessage refused = await farm.Client.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, [flat.Sha256]));
        string detail = await TestFarm.ExpectProblemAsync(refused, HttpStatusCode.BadRequest);
        Assert.Contains("inputs[0] does not fit the model's inputs", detail, StringComparison.Ordinal);
        Assert.Contains("has shape [3, 8, 8]", detail, StringComparison.Ordinal);
        Assert.Empty(await farm.ListJobsAsync());
    }

    /// <summary>
    /// Models with several typed inputs and outputs run on the farm: a BERT-style encoder fed int64 token ids and masks
    /// as .npz items, and a head with int64 and bool outputs beside a float one. Two workers run the tasks, sampled items
    /// are re-executed and compared output by output, and every delivered output is what the engine computes here.
    /// Before, both models were refused at upload ("one input and one output", "verifies float32 outputs").
    /// </summary>
    [Fact]
    public async Task Models_with_several_typed_inputs_and_outputs_run_and_are_verified_output_by_output()
    {
        await using TestFarm farm = await TestFarm.StartAsync(s_spotChecks);
        await using var first = new InProcessWorker(farm, new VulkanFrameRenderer(), new VulkanInferenceRunner());
        await using var second = new InProcessWorker(farm, new VulkanFrameRenderer(), new VulkanInferenceRunner());
        using ComputeDevice device = ComputeDevice.Open();
        var random = new Random(17);
        Dictionary<string, Tensor>[] encoderItems =
        [
            .. new[] { 5, 3, 7 }.Select(length => new Dictionary<string, Tensor>
            {
                ["input_ids"] = new([1, length], [.. Enumerable.Range(0, length).Select(_ => (float)random.Next(0, 30))], TensorElementType.Int64),
                ["attention_mask"] = new([1, length], [.. Enumerable.Range(0, length).Select(i => i < length - 1 ? 1f : 0f)], TensorElementType.Int64),
            }),
        ];
        Dictionary<string, Tensor>[] headItems =
        [
            .. Enumerable.Range(0, 3).Select(i => new Dictionary<string, Tensor>
            {
                ["tokens"] = new([2, 6], [.. Enumerable.Range(0, 12).Select(_ => (float)random.Next(-50, 50))], TensorElementType.Int64),
            }),
        ];

        foreach ((string path, Dictionary<string, Tensor>[] items) in new[] { (s_encoder, encoderItems), (s_head, headItems) })
        {
            OnnxModel onnx = OnnxModel.Load(path);
            ModelUploaded model = await farm.UploadAsync<ModelUploaded>("models", Path.GetFileName(path), await File.ReadAllBytesAsync(path));
            var inputs = new List<string>();
            foreach ((Dictionary<string, Tensor> item, int i) in items.Select((t, i) => (t, i)))
            {
                string name = $"item{i}{ItemFiles.Extension(onnx.Inputs.Count)}";
                inputs.Add((await farm.UploadAsync<InputUploaded>("inputs", name, ItemFiles.Format(onnx.Inputs, item))).Sha256);
            }

            using HttpResponseMessage submitted = await farm.Client.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, inputs, ItemsPerTask: 2));
            await TestFarm.ExpectAsync(submitted, HttpStatusCode.Created);
            JobSummary job = (await submitted.Content.ReadFromJsonAsync<JobSummary>(TestFarm.Json))!;
            JobDetails done = await farm.WaitForJobEndAsync(job.Id);

            Assert.Equal(JobState.Completed, done.Job.State);
            Assert.All(done.Tasks, t => Assert.Contains(t.Checks!, c => c.State == SpotCheckState.Passed));
            using var session = new InferenceSession(device, onnx);
            FrameLink[] outputs = [.. done.Tasks.SelectMany(t => t.Frames)];
            Assert.Equal(items.Length, outputs.Length);
            foreach (FrameLink output in outputs)
            {
                // The download is named by its real format: .npz for the head's several outputs (it said .npy before).
                using HttpResponseMessage download = await farm.Client.GetAsync(output.Url);
                await TestFarm.ExpectAsync(download, HttpStatusCode.OK);
                Assert.Equal($"{output.Frame:D6}{ItemFiles.Extension(onnx.Outputs.Count)}", download.Content.Headers.ContentDisposition?.FileName);
                Dictionary<string, Tensor> delivered = ItemFiles.Parse(await download.Content.ReadAsByteArrayAsync(), onnx.Outputs, "output");
                IReadOnlyDictionary<string, Tensor> expected = session.Run(items[output.Frame - 1]);
                Assert.Equal(onnx.Outputs.Count, delivered.Count);
                foreach (TensorInfo info in onnx.Outputs)
                {
                    Assert.Equal(info.ElementType, delivered[info.Name].ElementType);
                    Assert.Equal(expected[info.Name].Shape, delivered[info.Name].Shape);
                    Assert.Equal(expected[info.Name].Data, delivered[info.Name].Data);
                }
            }
        }
    }

    /// <summary>
    /// Each item must hold exactly the model's inputs in their types: an archive missing the mask, and float token ids
    /// for an int64 input, are refused at submission in one line, before any task could fail on a provider.
    /// </summary>
    [Fact]
    public async Task Items_that_are_not_exactly_the_models_typed_inputs_are_refused_at_submission()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        ModelUploaded model = await farm.UploadAsync<ModelUploaded>("models", "tiny-encoder.onnx", await File.ReadAllBytesAsync(s_encoder));
        var ids = new Tensor([1, 3], [2, 7, 3], TensorElementType.Int64);
        InputUploaded noMask = await farm.UploadAsync<InputUploaded>("inputs", "no-mask.npz", NpzFile.Format([new("input_ids", ids)]));
        InputUploaded floats = await farm.UploadAsync<InputUploaded>(
            "inputs", "floats.npz", NpzFile.Format([new("input_ids", new Tensor([1, 3], [2, 7, 3])), new("attention_mask", new Tensor([1, 3], [1, 1, 1], TensorElementType.Int64))]));

        foreach ((InputUploaded input, string reason) in new[] { (noMask, "holds 'input_ids' but the model's are 'input_ids', 'attention_mask'"), (floats, "'input_ids' is float32; the model's is int64") })
        {
            using HttpResponseMessage refused = await farm.Client.PostAsJsonAsync("api/inference-jobs", new SubmitInferenceJobRequest(model.Sha256, [input.Sha256]));
            string detail = await TestFarm.ExpectProblemAsync(refused, HttpStatusCode.BadRequest);
            Assert.Contains(reason, detail, StringComparison.Ordinal);
        }

        Assert.Empty(await farm.ListJobsAsync());
    }

    internal static Tensor RandomImage(int seed)
    {
        var random = new Random(seed);
        return new Tensor([1, 3, 24, 24], [.. Enumerable.Range(0, 3 * 24 * 24).Select(_ => (float)random.NextDouble())]);
    }

    // A dishonest provider: runs the model, then scales every output (cheaper work would look as wrong).
    private sealed class ScaledOutputRunner(VulkanInferenceRunner inner, float factor) : IInferenceRunner, IDisposable
    {
        public async Task<InferredItem> RunAsync(string modelPath, byte[] inputNpy, CancellationToken cancellationToken)
        {
            InferredItem honest = await inner.RunAsync(modelPath, inputNpy, cancellationToken);
            Tensor output = NpyFile.Parse(honest.OutputNpy, "output");
            return honest with { OutputNpy = NpyFile.Format(new Tensor(output.Shape, [.. output.Data.Select(v => v * factor)])) };
        }

        public void Dispose() => inner.Dispose();
    }
}
