using System.Collections.Concurrent;
using System.Diagnostics;
using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Worker;

namespace RenderFarm.Benchmarks;

/// <summary>What a worker asked its renderer for.</summary>
internal enum GpuCallKind
{
    /// <summary><see cref="IFrameRenderer.RenderAsync"/>: a render task's frame, or a whole-frame re-render for a check.</summary>
    Frame,

    /// <summary><see cref="ITileRenderer.RenderTilesAsync"/>: a tile spot check (a lease with <c>Validation</c> tiles).</summary>
    Tiles,
}

/// <summary>One finished renderer call.</summary>
/// <param name="Worker">Index of the worker that made it.</param>
/// <param name="Kind">Which method.</param>
/// <param name="Frame">The frame rendered or spot-checked.</param>
/// <param name="Seconds">Wall time of the call: the Vulkan work, its read-back and the PNG encoding.</param>
internal sealed record GpuCall(int Worker, GpuCallKind Kind, int Frame, double Seconds);

/// <summary>The renderer calls of all workers of one run, and how many of them threw.</summary>
internal sealed class GpuCallLog
{
    private readonly ConcurrentQueue<GpuCall> _calls = new();
    private int _abandoned;

    /// <summary>The calls that returned, in the order they finished.</summary>
    public IReadOnlyCollection<GpuCall> Calls => _calls;

    /// <summary>Calls that threw (a lost lease, a stopped worker): their time is in no sum.</summary>
    public int Abandoned => Volatile.Read(ref _abandoned);

    /// <summary>Runs <paramref name="call"/> and records its wall time when it returns.</summary>
    public async Task<T> TimeAsync<T>(int worker, GpuCallKind kind, int frame, Func<Task<T>> call)
    {
        long start = Stopwatch.GetTimestamp();
        T result;
        try
        {
            result = await call();
        }
        catch
        {
            Interlocked.Increment(ref _abandoned);
            throw;
        }

        _calls.Enqueue(new GpuCall(worker, kind, frame, Stopwatch.GetElapsedTime(start).TotalSeconds));
        return result;
    }
}

/// <summary>A worker's renderer that passes every call on to its Vulkan renderer and times it in a <see cref="GpuCallLog"/>.</summary>
internal sealed class TimedRenderer(int worker, VulkanFrameRenderer inner, GpuCallLog log) : IFrameRenderer, ITileRenderer
{
    public string DeviceName => inner.DeviceName;

    public Task<RenderedFrame> RenderAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken)
        => log.TimeAsync(worker, GpuCallKind.Frame, frame, () => inner.RenderAsync(scenePath, frame, settings, pngPath, cancellationToken));

    public Task<byte[]> RenderTilesAsync(string scenePath, int frame, RenderSettings settings, IReadOnlyList<PixelTile> tiles, CancellationToken cancellationToken)
        => log.TimeAsync(worker, GpuCallKind.Tiles, frame, () => inner.RenderTilesAsync(scenePath, frame, settings, tiles, cancellationToken));
}
