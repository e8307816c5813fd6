using System.Runtime.InteropServices;
using RenderFarm.Gpu;
using Xunit;

namespace RenderFarm.Gpu.Tests;

[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class BufferFacts
{
    private readonly ComputeDevice _device;

    public BufferFacts(GpuFixture fixture)
    {
        _device = fixture.Device;
    }

    /// <summary>
    /// Opens a device either mapping host-visible buffers directly (lavapipe, integrated GPUs) or forcing the
    /// staging path discrete GPUs take, with a tiny staging buffer so transfers are split into odd-sized chunks.
    /// </summary>
    private static ComputeDevice OpenDevice(bool staging)
    {
        ComputeDevice device = ComputeDevice.Open();
        device.ForceStaging = staging;
        if (staging)
        {
            device.MaxStagingBytes = 1000;
        }

        return device;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Upload_then_download_round_trips(bool staging)
    {
        using ComputeDevice device = OpenDevice(staging);
        float[] data = Enumerable.Range(0, 10_000).Select(i => i * 0.5f - 7f).ToArray();
        using GpuBuffer buffer = device.CreateBuffer(sizeof(float) * (ulong)data.Length);

        device.Upload<float>(buffer, data);
        var result = new float[data.Length];
        device.Download<float>(buffer, result);

        Assert.Equal(data, result);
        Assert.Equal(40_000UL, buffer.SizeBytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Offsets_address_bytes_within_the_buffer(bool staging)
    {
        using ComputeDevice device = OpenDevice(staging);
        using GpuBuffer buffer = device.CreateBuffer(4096);
        device.Fill(buffer, 0);

        byte[] payload = Enumerable.Range(1, 2001).Select(i => (byte)i).ToArray();
        device.Upload<byte>(buffer, payload, offsetBytes: 1003);

        var all = new byte[4096];
        device.Download<byte>(buffer, all);
        Assert.All(all[..1003], b => Assert.Equal(0, b));
        Assert.Equal(payload, all[1003..3004]);
        Assert.All(all[3004..], b => Assert.Equal(0, b));

        var middle = new byte[7];
        device.Download<byte>(buffer, middle, offsetBytes: 1005);
        Assert.Equal(payload[2..9], middle);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Structs_whose_size_is_not_a_multiple_of_four_round_trip(bool staging)
    {
        using ComputeDevice device = OpenDevice(staging);
        Rgb[] pixels = Enumerable.Range(0, 999).Select(i => new Rgb((byte)i, (byte)(i * 3), (byte)(255 - i))).ToArray();
        Triple[] triples = Enumerable.Range(0, 333).Select(i => new Triple((short)i, (short)-i, (short)(i * 7))).ToArray();
        Assert.Equal(3, Marshal.SizeOf<Rgb>());
        Assert.Equal(6, Marshal.SizeOf<Triple>());

        // 2997 bytes: not a whole number of words, so the buffer's last word is partly padding.
        using GpuBuffer rgbBuffer = device.CreateBuffer(3UL * (ulong)pixels.Length);
        device.Upload<Rgb>(rgbBuffer, pixels);
        var rgbResult = new Rgb[pixels.Length];
        device.Download<Rgb>(rgbBuffer, rgbResult);
        Assert.Equal(pixels, rgbResult);

        using GpuBuffer tripleBuffer = device.CreateBuffer(6UL * (ulong)triples.Length + 1);
        device.Upload<Triple>(tripleBuffer, triples, offsetBytes: 1);
        var tripleResult = new Triple[triples.Length];
        device.Download<Triple>(tripleBuffer, tripleResult, offsetBytes: 1);
        Assert.Equal(triples, tripleResult);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fill_sets_every_word_including_a_partial_last_one(bool staging)
    {
        using ComputeDevice device = OpenDevice(staging);
        using GpuBuffer buffer = device.CreateBuffer(4099);
        device.Upload<byte>(buffer, new byte[4099]);

        device.Fill(buffer, 0xA1B2C3D4);

        var words = new uint[1024];
        device.Download<uint>(buffer, words);
        Assert.All(words, w => Assert.Equal(0xA1B2C3D4u, w));
        var tail = new byte[3];
        device.Download<byte>(buffer, tail, offsetBytes: 4096);
        Assert.Equal(new byte[] { 0xD4, 0xC3, 0xB2 }, tail);
    }

    [Fact]
    public void Empty_transfers_are_allowed_up_to_the_end_of_the_buffer()
    {
        using GpuBuffer buffer = _device.CreateBuffer(16);

        _device.Upload<int>(buffer, [], offsetBytes: 16);
        _device.Download<int>(buffer, [], offsetBytes: 16);
    }

    [Fact]
    public void Transfers_beyond_the_buffer_are_rejected()
    {
        using GpuBuffer buffer = _device.CreateBuffer(16);

        var upload = Assert.Throws<ArgumentOutOfRangeException>(() => _device.Upload<int>(buffer, new int[5]));
        Assert.Equal("data", upload.ParamName);
        Assert.Contains("20 bytes at offset 0 do not fit in a buffer of 16 bytes", upload.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentOutOfRangeException>(() => _device.Upload<int>(buffer, new int[1], offsetBytes: 13));
        Assert.Throws<ArgumentOutOfRangeException>(() => _device.Upload<int>(buffer, [], offsetBytes: 17));
        Assert.Throws<ArgumentOutOfRangeException>(() => _device.Upload<byte>(buffer, new byte[1], offsetBytes: ulong.MaxValue));
        var download = Assert.Throws<ArgumentOutOfRangeException>(() => _device.Download<long>(buffer, new long[3]));
        Assert.Equal("destination", download.ParamName);
    }

    [Fact]
    public void CreateBuffer_rejects_zero_and_oversized_sizes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreateBuffer(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreateBuffer(ulong.MaxValue));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _device.CreateBuffer(1UL << 40));
        Assert.Contains("maxStorageBufferRange", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_and_disposed_buffers_are_rejected()
    {
        GpuBuffer buffer = _device.CreateBuffer(16);
        buffer.Dispose();
        buffer.Dispose();

        Assert.Throws<ArgumentNullException>(() => _device.Upload<int>(null!, new int[1]));
        Assert.Throws<ArgumentNullException>(() => _device.Fill(null!, 0));
        Assert.Throws<ObjectDisposedException>(() => _device.Upload<int>(buffer, new int[1]));
        Assert.Throws<ObjectDisposedException>(() => _device.Download<int>(buffer, new int[1]));
        Assert.Throws<ObjectDisposedException>(() => _device.Fill(buffer, 0));
    }

    [Fact]
    public void Buffers_of_another_device_are_rejected()
    {
        using ComputeDevice other = ComputeDevice.Open();
        using GpuBuffer foreign = other.CreateBuffer(16);

        var ex = Assert.Throws<ArgumentException>(() => _device.Fill(foreign, 0));
        Assert.Contains("different ComputeDevice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Disposing_the_device_first_releases_its_buffers_and_pipelines()
    {
        ComputeDevice device = ComputeDevice.Open();
        GpuBuffer buffer = device.CreateBuffer(64);
        ComputePipeline pipeline = device.CreatePipeline(TestShaders.Load("spin"), 1, 4);

        device.Dispose();
        device.Dispose();

        // Disposing children afterwards must be a harmless no-op; using anything throws.
        buffer.Dispose();
        pipeline.Dispose();
        Assert.Throws<ObjectDisposedException>(() => device.CreateBuffer(4));
        Assert.Throws<ObjectDisposedException>(() => device.Fill(buffer, 0));
        Assert.Throws<ObjectDisposedException>(() => device.Dispatch(pipeline, [buffer], [], 1, 1, 1));
        Assert.Throws<ObjectDisposedException>(() => device.CreatePipeline(TestShaders.Load("spin"), 1, 4));
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private readonly record struct Rgb(byte R, byte G, byte B);

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private readonly record struct Triple(short A, short B, short C);
}
