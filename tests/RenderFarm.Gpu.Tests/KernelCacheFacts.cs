using RenderFarm.Gpu;
using Xunit;

namespace RenderFarm.Gpu.Tests;

[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class KernelCacheFacts
{
    private readonly ComputeDevice _device;

    public KernelCacheFacts(GpuFixture fixture)
    {
        _device = fixture.Device;
    }

    [Fact]
    public void A_kernel_is_compiled_once_per_device_and_shared()
    {
        int loads = 0;
        var description = new KernelDescription("tests/buffer_ops", 3, 8);
        byte[] Load()
        {
            loads++;
            return TestShaders.Load("buffer_ops");
        }

        ComputePipeline first = _device.Kernels.Get(description, Load);
        ComputePipeline second = _device.Kernels.Get(description with { }, Load);
        Assert.Same(first, second);
        Assert.Equal(1, loads);
        Assert.Equal(description, first.Description);
    }

    [Fact]
    public void The_same_name_with_another_layout_is_refused()
    {
        _device.Kernels.Get(new KernelDescription("tests/spin", 1, 4), () => TestShaders.Load("spin"));
        var clash = Assert.Throws<ArgumentException>(
            () => _device.Kernels.Get(new KernelDescription("tests/spin", 2, 4), () => TestShaders.Load("spin")));
        Assert.Contains("tests/spin", clash.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Specialization_constants_reach_the_kernel_and_key_the_cache()
    {
        // shaders/tests/specialized.comp writes constant 0 times constant 1 (7 and 1 unless specialized).
        int loads = 0;
        byte[] Load()
        {
            loads++;
            return TestShaders.Load("specialized");
        }

        var plain = new KernelDescription("tests/specialized", 1, 0);
        var five = plain with { SpecializationConstants = [5u] };
        var fiveTimesThree = plain with { SpecializationConstants = [5u, 3u] };
        Assert.Equal(7u, Run(_device.Kernels.Get(plain, Load)));
        Assert.Equal(5u, Run(_device.Kernels.Get(five, Load)));
        ComputePipeline specialized = _device.Kernels.Get(fiveTimesThree, Load);
        Assert.Equal(15u, Run(specialized));
        Assert.Equal(3, loads);

        // Equal values in another array are the same kernel: one pipeline, compiled once.
        Assert.Same(specialized, _device.Kernels.Get(new KernelDescription("tests/specialized", 1, 0) { SpecializationConstants = [5u, 3u] }, Load));
        Assert.Equal(3, loads);
        Assert.Contains("SpecializationConstants = [5, 3]", specialized.Description.ToString(), StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(
            () => _device.CreatePipeline(TestShaders.Load("specialized"), plain with { SpecializationConstants = [.. new uint[KernelDescription.MaxSpecializationConstants + 1]] }));
    }

    private uint Run(ComputePipeline pipeline)
    {
        using GpuBuffer buffer = _device.CreateBuffer(64 * sizeof(uint));
        _device.Fill(buffer, 0xdeadbeefu);
        _device.Dispatch(pipeline, [buffer], [], 1, 1, 1);
        var values = new uint[64];
        _device.Download<uint>(buffer, values);
        Assert.All(values, v => Assert.Equal(values[0], v));
        return values[0];
    }

    [Fact]
    public void Cached_kernels_go_with_their_device()
    {
        ComputePipeline pipeline;
        using (ComputeDevice device = ComputeDevice.Open())
        {
            pipeline = device.Kernels.Get(new KernelDescription("tests/spin", 1, 4), () => TestShaders.Load("spin"));
            Assert.Equal(1, device.Kernels.Count);
        }

        Assert.True(pipeline.IsDisposed);
    }

    [Fact]
    public void Dispatch_and_a_one_item_sequence_refuse_alike_and_time_alike()
    {
        // Dispatch is a sequence of one: the same checks (and messages) and the same kind of time.
        using GpuBuffer buffer = _device.CreateBuffer(256);
        ComputePipeline spin = _device.Kernels.Get(new KernelDescription("tests/spin", 1, 4), () => TestShaders.Load("spin"));
        byte[] tooLong = new byte[8];
        string single = Assert.Throws<ArgumentException>(() => _device.Dispatch(spin, [buffer], tooLong, 1, 1, 1)).Message;
        string sequence = Assert.Throws<ArgumentException>(
            () => _device.DispatchSequence([new ComputeDispatch(spin, [buffer], tooLong, 1, 1, 1)])).Message;
        Assert.Equal(single.Split(" (Parameter")[0], sequence.Split(" (Parameter")[0].Replace("dispatches[0].", string.Empty, StringComparison.Ordinal));

        byte[] iterations = BitConverter.GetBytes(10_000u);
        TimeSpan one = _device.Dispatch(spin, [buffer], iterations, 64, 1, 1);
        TimeSpan viaSequence = _device.DispatchSequence([new ComputeDispatch(spin, [buffer], iterations, 64, 1, 1)]);
        Assert.True(one > TimeSpan.Zero);
        Assert.True(viaSequence > TimeSpan.Zero);
    }
}
