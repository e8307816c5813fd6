using RenderFarm.Gpu;
using Xunit;

namespace RenderFarm.Gpu.Tests;

[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class DispatchSequenceFacts
{
    private readonly ComputeDevice _device;

    public DispatchSequenceFacts(GpuFixture fixture)
    {
        _device = fixture.Device;
    }

    [Fact]
    public void Each_dispatch_sees_the_writes_of_the_ones_before_it()
    {
        // acc_{i+1} = 1 * ones + acc_i, ping-ponging between two buffers: 25 dependent dispatches, one submission.
        const int count = 1000;
        using GpuBuffer ones = _device.CreateBuffer(4 * count);
        using GpuBuffer first = _device.CreateBuffer(4 * count);
        using GpuBuffer second = _device.CreateBuffer(4 * count);
        using ComputePipeline saxpy = _device.CreatePipeline(TestShaders.Load("buffer_ops"), 3, 8);
        _device.Upload<float>(ones, Enumerable.Repeat(1f, count).ToArray());
        _device.Upload<float>(first, new float[count]);

        var dispatches = new List<ComputeDispatch>();
        for (int i = 0; i < 25; i++)
        {
            (GpuBuffer from, GpuBuffer to) = i % 2 == 0 ? (first, second) : (second, first);
            dispatches.Add(new ComputeDispatch(saxpy, [ones, from, to], Constants(1f, count), (count + 255) / 256, 1, 1));
        }

        _device.DispatchSequence(dispatches);
        var output = new float[count];
        _device.Download<float>(second, output);
        Assert.All(output, v => Assert.Equal(25f, v));
    }

    [Fact]
    public void An_empty_sequence_does_nothing_and_bad_dispatches_are_refused_before_recording()
    {
        Assert.Equal(TimeSpan.Zero, _device.DispatchSequence([]));
        using GpuBuffer buffer = _device.CreateBuffer(16);
        using ComputePipeline saxpy = _device.CreatePipeline(TestShaders.Load("buffer_ops"), 3, 8);
        var wrongCount = Assert.Throws<ArgumentException>(() => _device.DispatchSequence([new ComputeDispatch(saxpy, [buffer], Constants(1f, 4), 1, 1, 1)]));
        Assert.Contains("dispatches[0]", wrongCount.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => _device.DispatchSequence([new ComputeDispatch(saxpy, [buffer, buffer, buffer], Constants(1f, 4), 0, 1, 1)]));
        Assert.Throws<ArgumentException>(() => _device.DispatchSequence([new ComputeDispatch(saxpy, [buffer, buffer, buffer], new byte[12], 1, 1, 1)]));
    }

    private static byte[] Constants(float a, int count)
    {
        var bytes = new byte[8];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), a);
        BitConverter.TryWriteBytes(bytes.AsSpan(4, 4), (uint)count);
        return bytes;
    }
}
