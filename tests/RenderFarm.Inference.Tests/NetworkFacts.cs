using RenderFarm.Inference.Planning;
using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Whole networks against ONNX Runtime. Measured on lavapipe (max |err| relative to max(1, max |output|)):
/// classifier 1.5e-8, super-resolution 7.5e-8, style transfer 4.3e-7 (max |err| 7.6e-5 on outputs up to 176);
/// the asserted tolerance is <see cref="OracleCheck.DefaultTolerance"/>.
/// </summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class NetworkFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public NetworkFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    [Fact]
    public void Classifier_matches_the_oracle()
    {
        var random = new Random(11);
        ModelBuilder builder = SampleNetworks.Classifier(1);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["image"] = Oracle.Random(random, 2, 3, 32, 32) }, _output, "classifier");
    }

    [Fact]
    public void Classifier_with_a_dynamic_batch_plans_each_batch_size()
    {
        var random = new Random(12);
        ModelBuilder builder = SampleNetworks.Classifier(2, batch: null);
        OnnxModel model = builder.Build();
        Assert.Null(model.Inputs[0].Shape[0]);
        using var session = new InferenceSession(_gpu.Device, model);
        var constantBytes = new List<long>();
        foreach (int batch in new[] { 1, 3 })
        {
            var inputs = new Dictionary<string, Tensor> { ["image"] = Oracle.Random(random, batch, 3, 32, 32) };
            Tensor expected = Oracle.Run(builder.ToBytes(), inputs)["probabilities"];
            Oracle.AssertClose(expected, session.Run(inputs)["probabilities"], OracleCheck.DefaultTolerance, _output, $"classifier batch {batch}");
            constantBytes.Add(session.SharedConstantBytes);
        }

        // The second plan reuses the weights the first one uploaded (BatchNormalization folded once per session).
        Assert.True(constantBytes[0] > 0);
        Assert.Equal(constantBytes[0], constantBytes[1]);
        Assert.Equal(2, session.PlanCount);
    }

    [Fact]
    public void Super_resolution_matches_the_oracle()
    {
        var random = new Random(13);
        ModelBuilder builder = SampleNetworks.SuperResolution(3);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["low"] = Oracle.Random(random, 1, 1, 24, 24) }, _output, "super-resolution");
    }

    [Fact]
    public void Style_transfer_matches_the_oracle()
    {
        var random = new Random(14);
        ModelBuilder builder = SampleNetworks.StyleTransfer(4);
        Tensor content = Oracle.Random(random, 1, 3, 32, 32);
        for (int i = 0; i < content.Length; i++)
        {
            content.Data[i] = (content.Data[i] + 1) * 127.5f;
        }

        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["content"] = content }, _output, "style transfer");
    }

    [Fact]
    public void Buffer_reuse_allocates_less_than_one_buffer_per_tensor()
    {
        ModelBuilder builder = SampleNetworks.StyleTransfer(5);
        using var session = new InferenceSession(_gpu.Device, builder.Build());
        PlanStatistics statistics = session.GetStatistics(new Dictionary<string, int[]> { ["content"] = [1, 3, 32, 32] });
        _output.WriteLine($"{statistics}");
        Assert.True(
            statistics.AllocatedBytes * 2 < statistics.IntermediateBytes,
            $"allocated {statistics.AllocatedBytes} bytes for {statistics.IntermediateBytes} bytes of tensors");
        Assert.True(statistics.Dispatches > 20);
    }

    [Fact]
    public void A_session_runs_again_with_the_same_results()
    {
        var random = new Random(15);
        ModelBuilder builder = SampleNetworks.SuperResolution(6, size: 12);
        using var session = new InferenceSession(_gpu.Device, builder.Build());
        Tensor first = Oracle.Random(random, 1, 1, 12, 12);
        Tensor second = Oracle.Random(random, 1, 1, 12, 12);
        Tensor a = session.Run(new Dictionary<string, Tensor> { ["low"] = first })["high"];
        Tensor b = session.Run(new Dictionary<string, Tensor> { ["low"] = second })["high"];
        Tensor c = session.Run(new Dictionary<string, Tensor> { ["low"] = first })["high"];
        Assert.Equal(a.Data, c.Data);
        Assert.NotEqual(a.Data, b.Data);
    }
}
