using System.Diagnostics;
using System.Runtime.InteropServices;
using RenderFarm.Gpu;
using Xunit;

namespace RenderFarm.Gpu.Tests;

[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class DispatchFacts
{
    private const int SaxpyGroupSize = 256;

    private readonly ComputeDevice _device;

    public DispatchFacts(GpuFixture fixture)
    {
        _device = fixture.Device;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Saxpy_matches_the_cpu_on_a_million_floats(bool staging)
    {
        using ComputeDevice device = ComputeDevice.Open();
        device.ForceStaging = staging;
        const int count = 1 << 20;
        const float a = 1.75f;
        var random = new Random(1234);
        float[] x = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 200 - 100)).ToArray();
        float[] y = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 200 - 100)).ToArray();
        using GpuBuffer xBuffer = device.CreateBuffer(sizeof(float) * count);
        using GpuBuffer yBuffer = device.CreateBuffer(sizeof(float) * count);
        using GpuBuffer result = device.CreateBuffer(sizeof(float) * count);
        using ComputePipeline saxpy = device.CreatePipeline(TestShaders.Load("buffer_ops"), 3, 8);
        device.Upload<float>(xBuffer, x);
        device.Upload<float>(yBuffer, y);

        TimeSpan elapsed = device.Dispatch(saxpy, [xBuffer, yBuffer, result], SaxpyConstants(a, count), count / SaxpyGroupSize, 1, 1);

        var output = new float[count];
        device.Download<float>(result, output);
        for (int i = 0; i < count; i++)
        {
            // The GPU may fuse the multiply-add, so allow for the product's rounding.
            float expected = a * x[i] + y[i];
            float tolerance = 1e-6f * (Math.Abs(a * x[i]) + Math.Abs(y[i]));
            if (Math.Abs(output[i] - expected) > tolerance)
            {
                Assert.Fail($"result[{i}] = {output[i]}, expected {expected} ({a} * {x[i]} + {y[i]})");
            }
        }

        Assert.True(elapsed > TimeSpan.Zero);
    }

    [Fact]
    public void Push_constants_select_the_work_and_the_scale()
    {
        const int count = 1000;
        float[] x = Enumerable.Range(0, count).Select(i => (float)i).ToArray();
        float[] y = Enumerable.Repeat(1f, count).ToArray();
        using GpuBuffer xBuffer = _device.CreateBuffer(sizeof(float) * count);
        using GpuBuffer yBuffer = _device.CreateBuffer(sizeof(float) * count);
        using GpuBuffer result = _device.CreateBuffer(sizeof(float) * count);
        using ComputePipeline saxpy = _device.CreatePipeline(TestShaders.Load("buffer_ops"), 3, 8);
        _device.Upload<float>(xBuffer, x);
        _device.Upload<float>(yBuffer, y);
        _device.Fill(result, BitConverter.SingleToUInt32Bits(-1f));

        // Only the first 700 elements, scaled by 3; the rest keep the fill value.
        _device.Dispatch(saxpy, [xBuffer, yBuffer, result], SaxpyConstants(3f, 700), (count + SaxpyGroupSize - 1) / SaxpyGroupSize, 1, 1);
        var output = new float[count];
        _device.Download<float>(result, output);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(i < 700 ? 3f * i + 1f : -1f, output[i]);
        }

        // Same pipeline and descriptor set, different buffers and constants: result = 0.5 * y + x.
        _device.Dispatch(saxpy, [yBuffer, xBuffer, result], SaxpyConstants(0.5f, count), (count + SaxpyGroupSize - 1) / SaxpyGroupSize, 1, 1);
        _device.Download<float>(result, output);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(i + 0.5f, output[i]);
        }
    }

    [Fact]
    public void Push_constants_arrive_intact_and_the_unset_tail_reads_zero()
    {
        using GpuBuffer words = _device.CreateBuffer(16 * sizeof(uint));
        using ComputePipeline echo = _device.CreatePipeline(TestShaders.Load("push_constants"), 1, 64);
        uint[] full = Enumerable.Range(0, 16).Select(i => 0xC0DE0000u + (uint)i).ToArray();

        _device.Dispatch(echo, [words], MemoryMarshal.AsBytes<uint>(full), 1, 1, 1);
        var output = new uint[16];
        _device.Download<uint>(words, output);
        Assert.Equal(full, output);

        // 6 bytes: the block is padded with zeros rather than keeping the previous dispatch's values.
        _device.Dispatch(echo, [words], [1, 2, 3, 4, 5, 6], 1, 1, 1);
        _device.Download<uint>(words, output);
        Assert.Equal([0x04030201u, 0x0605u, .. new uint[14]], output);

        _device.Dispatch(echo, [words], [], 1, 1, 1);
        _device.Download<uint>(words, output);
        Assert.Equal(new uint[16], output);
    }

    [Fact]
    public void Dispatch_reports_gpu_time_that_grows_with_the_work()
    {
        Assert.True(_device.Info.SupportsTimestamps);
        using GpuBuffer result = _device.CreateBuffer(64 * 64 * sizeof(uint));
        using ComputePipeline spin = _device.CreatePipeline(TestShaders.Load("spin"), 1, 4);

        TimeSpan little = _device.Dispatch(spin, [result], BitConverter.GetBytes(1_000u), 64, 1, 1);
        long start = Stopwatch.GetTimestamp();
        TimeSpan lot = _device.Dispatch(spin, [result], BitConverter.GetBytes(100_000u), 64, 1, 1);
        TimeSpan wallClock = Stopwatch.GetElapsedTime(start);

        Assert.True(little > TimeSpan.Zero, $"{little}");
        Assert.True(lot > little, $"100k iterations took {lot}, 1k took {little}");
        Assert.True(lot <= wallClock + TimeSpan.FromMilliseconds(1), $"GPU time {lot} exceeds wall-clock time {wallClock}");
    }

    [Fact]
    public void Dispatch_validates_its_arguments()
    {
        using GpuBuffer buffer = _device.CreateBuffer(64);
        using ComputePipeline spin = _device.CreatePipeline(TestShaders.Load("spin"), 1, 4);
        byte[] constants = BitConverter.GetBytes(1u);

        Assert.Throws<ArgumentNullException>(() => _device.Dispatch(null!, [buffer], constants, 1, 1, 1));

        var tooFew = Assert.Throws<ArgumentException>(() => _device.Dispatch(spin, [], constants, 1, 1, 1));
        Assert.Equal("buffers", tooFew.ParamName);
        Assert.Contains("declares 1 storage buffer(s) but 0 were passed", tooFew.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => _device.Dispatch(spin, [buffer, buffer], constants, 1, 1, 1));
        var nullBuffer = Assert.Throws<ArgumentNullException>(() => _device.Dispatch(spin, [null!], constants, 1, 1, 1));
        Assert.Equal("buffers[0]", nullBuffer.ParamName);

        var tooLong = Assert.Throws<ArgumentException>(() => _device.Dispatch(spin, [buffer], new byte[8], 1, 1, 1));
        Assert.Equal("pushConstants", tooLong.ParamName);
        Assert.Contains("8 bytes of push constants passed but the pipeline declares 4", tooLong.Message, StringComparison.Ordinal);

        Assert.Equal("groupsX", Assert.Throws<ArgumentOutOfRangeException>(() => _device.Dispatch(spin, [buffer], constants, 0, 1, 1)).ParamName);
        Assert.Equal("groupsY", Assert.Throws<ArgumentOutOfRangeException>(() => _device.Dispatch(spin, [buffer], constants, 1, 0, 1)).ParamName);
        Assert.Equal("groupsZ", Assert.Throws<ArgumentOutOfRangeException>(() => _device.Dispatch(spin, [buffer], constants, 1, 1, 0)).ParamName);
        var tooMany = Assert.Throws<ArgumentOutOfRangeException>(() => _device.Dispatch(spin, [buffer], constants, uint.MaxValue, 1, 1));
        Assert.Contains("maxComputeWorkGroupCount", tooMany.Message, StringComparison.Ordinal);

        GpuBuffer disposed = _device.CreateBuffer(64);
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _device.Dispatch(spin, [disposed], constants, 1, 1, 1));

        ComputePipeline disposedPipeline = _device.CreatePipeline(TestShaders.Load("spin"), 1, 4);
        disposedPipeline.Dispose();
        disposedPipeline.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _device.Dispatch(disposedPipeline, [buffer], constants, 1, 1, 1));

        using ComputeDevice other = ComputeDevice.Open();
        using ComputePipeline foreign = other.CreatePipeline(TestShaders.Load("spin"), 1, 4);
        Assert.Equal("pipeline", Assert.Throws<ArgumentException>(() => _device.Dispatch(foreign, [buffer], constants, 1, 1, 1)).ParamName);

        // The device still works after all the rejected calls.
        _device.Dispatch(spin, [buffer], constants, 1, 1, 1);
    }

    [Fact]
    public void CreatePipeline_validates_the_spirv_and_the_layout()
    {
        byte[] spirv = TestShaders.Load("buffer_ops");

        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => _device.CreatePipeline([], 3, 8)).Message, StringComparison.Ordinal);
        Assert.Contains("4-byte words", Assert.Throws<ArgumentException>(() => _device.CreatePipeline(spirv.AsSpan(0, 22), 3, 8)).Message, StringComparison.Ordinal);
        Assert.Contains("magic number", Assert.Throws<ArgumentException>(() => _device.CreatePipeline(new byte[64], 3, 8)).Message, StringComparison.Ordinal);
        // 24 bytes cut the first instruction (OpCapability, two words) in half.
        Assert.Contains("malformed", Assert.Throws<ArgumentException>(() => _device.CreatePipeline(spirv.AsSpan(0, 24), 3, 8)).Message, StringComparison.Ordinal);

        var entryPoint = Assert.Throws<ArgumentException>(() => _device.CreatePipeline(spirv, 3, 8, "saxpy"));
        Assert.Equal("entryPoint", entryPoint.ParamName);
        Assert.Contains("no compute entry point 'saxpy' (it has: main)", entryPoint.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => _device.CreatePipeline(spirv, 3, 8, ""));
        Assert.Throws<ArgumentNullException>(() => _device.CreatePipeline(spirv, 3, 8, null!));

        Assert.Equal("storageBufferCount", Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreatePipeline(spirv, -1, 8)).ParamName);
        Assert.Equal("storageBufferCount", Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreatePipeline(spirv, int.MaxValue, 8)).ParamName);
        Assert.Equal("pushConstantBytes", Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreatePipeline(spirv, 3, -4)).ParamName);
        Assert.Equal("pushConstantBytes", Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreatePipeline(spirv, 3, 6)).ParamName);
        var overLimit = Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreatePipeline(spirv, 3, 1 << 20));
        Assert.Contains("maxPushConstantsSize", overLimit.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Spirv_need_not_be_word_aligned_in_memory()
    {
        byte[] spirv = TestShaders.Load("spin");
        var shifted = new byte[spirv.Length + 1];
        spirv.CopyTo(shifted, 1);

        using ComputePipeline pipeline = _device.CreatePipeline(shifted.AsSpan(1), 1, 4);

        Assert.Equal(1, pipeline.StorageBufferCount);
        Assert.Equal(4, pipeline.PushConstantBytes);
    }

    private static byte[] SaxpyConstants(float a, int count)
    {
        var bytes = new byte[8];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), a);
        BitConverter.TryWriteBytes(bytes.AsSpan(4, 4), (uint)count);
        return bytes;
    }
}
