using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Inference.Tests.Models;

namespace RenderFarm.Inference.Tests;

/// <summary>The session's input checks, refusals and the batched GPU submission it relies on.</summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class InferenceSessionFacts
{
    private readonly ComputeDevice _device;

    public InferenceSessionFacts(GpuFixture gpu)
    {
        _device = gpu.Device;
    }

    [Fact]
    public void A_wrong_input_shape_is_rejected_naming_both_shapes()
    {
        using var session = new InferenceSession(_device, SampleNetworks.Classifier(1).Build());
        var error = Assert.Throws<UserInputException>(() => session.Run(new Dictionary<string, Tensor> { ["image"] = Tensor.Zeros(2, 3, 28, 28) }));
        Assert.Contains("'image'", error.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 3, 28, 28]", error.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 3, 32, 32]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_or_unknown_input_is_rejected()
    {
        using var session = new InferenceSession(_device, SampleNetworks.Classifier(1).Build());
        var missing = Assert.Throws<UserInputException>(() => session.Run(new Dictionary<string, Tensor>()));
        Assert.Contains("'image' is missing", missing.Message, StringComparison.Ordinal);
        var unknown = Assert.Throws<UserInputException>(() => session.Run(new Dictionary<string, Tensor>
        {
            ["image"] = Tensor.Zeros(2, 3, 32, 32),
            ["extra"] = Tensor.Zeros(1),
        }));
        Assert.Contains("'extra'", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_session_refuses_an_unsupported_model()
    {
        OnnxModel model = new ModelBuilder(17).Input("x", 4).Output("y").Node("NonZero", ["x"], ["y"], name: "nz").Build();
        var error = Assert.Throws<UserInputException>(() => new InferenceSession(_device, model));
        Assert.Contains("NonZero", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shapes_that_do_not_fit_the_graph_are_reported_with_the_node()
    {
        OnnxModel model = new ModelBuilder(17).Input("a", null, 3).Input("b", 4, 5).Output("y").Node("MatMul", ["a", "b"], ["y"], name: "mm").Build();
        using var session = new InferenceSession(_device, model);
        var error = Assert.Throws<UserInputException>(() => session.Run(new Dictionary<string, Tensor>
        {
            ["a"] = Tensor.Zeros(2, 3),
            ["b"] = Tensor.Zeros(4, 5),
        }));
        Assert.Contains("'mm'", error.Message, StringComparison.Ordinal);
        Assert.Contains("inner dimensions", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Outputs_folded_to_constants_and_inputs_passed_through_are_returned()
    {
        OnnxModel model = new ModelBuilder(17).Input("x", 2, 3).Output("same").Output("dims")
            .Node("Identity", ["x"], ["same"])
            .Node("Shape", ["x"], ["shape"])
            .Node("Cast", ["shape"], ["dims"], a => a.Int("to", 1))
            .Build();
        using var session = new InferenceSession(_device, model);
        var x = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
        IReadOnlyDictionary<string, Tensor> outputs = session.Run(new Dictionary<string, Tensor> { ["x"] = x });
        Assert.Equal(x.Data, outputs["same"].Data);
        Assert.Equal([2f, 3f], outputs["dims"].Data);
    }

    [Fact]
    public void A_dispatch_sequence_sees_the_writes_of_earlier_dispatches()
    {
        // 40 chained unary dispatches (+1 each through an affine map) in one submission: each reads the previous one's output.
        using var a = _device.CreateBuffer(4 * 1000);
        using var b = _device.CreateBuffer(4 * 1000);
        ComputePipeline unary = Planning.KernelLibrary.For(_device).Get(Planning.KernelKind.Unary);
        byte[] push = new Planning.PushConstants().U(1000).U((uint)Planning.UnaryOp.Affine).F(1f).F(1f).ToBytes();
        var dispatches = new List<ComputeDispatch>();
        for (int i = 0; i < 40; i++)
        {
            GpuBuffer from = i % 2 == 0 ? a : b;
            GpuBuffer to = i % 2 == 0 ? b : a;
            dispatches.Add(new ComputeDispatch(unary, [from, to], push, 4, 1, 1));
        }

        _device.Upload<float>(a, new float[1000]);
        _device.DispatchSequence(dispatches);
        var result = new float[1000];
        _device.Download<float>(a, result);
        Assert.All(result, v => Assert.Equal(40f, v));
    }

    [Fact]
    public void A_session_keeps_a_bounded_number_of_plans_for_dynamic_shapes()
    {
        var builder = new ModelBuilder(17).Input("x", null, 4).Output("y").Node("Relu", ["x"], ["y"]);
        using var session = new InferenceSession(_device, builder.Build());
        for (int rows = 1; rows <= InferenceSession.MaxPlans + 2; rows++)
        {
            var x = new Tensor([rows, 4], Enumerable.Range(0, rows * 4).Select(i => i % 3 == 0 ? -1f : i).ToArray());
            Tensor y = session.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"];
            Assert.Equal(x.Data.Select(v => Math.Max(v, 0f)), y.Data);
        }

        Assert.Equal(InferenceSession.MaxPlans, session.PlanCount);
    }

    [Theory]
    [InlineData(1L, 1u, 1u)]
    [InlineData(256L * 65535, 65535u, 1u)]
    [InlineData((256L * 65535) + 1, 65535u, 2u)]
    [InlineData(40_000_000L, 65535u, 3u)]
    public void Large_tensors_spill_workgroups_into_a_second_dimension(long invocations, uint x, uint y)
    {
        (uint gx, uint gy) = Planning.KernelGroups.Groups(invocations);
        Assert.Equal((x, y), (gx, gy));
        Assert.True((long)gx * gy * 256 >= invocations);
    }
}
