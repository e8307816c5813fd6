using System.Runtime.InteropServices;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>The tiles and batches a frame is cut into, their dispatches and the read-back of their sums.</summary>
public sealed partial class PathTracer
{
    // RenderTiles with a given batch size, which lets tests compare splits.
    internal IReadOnlyList<HdrImage> RenderTiles(
        SceneAsset scene,
        int frame,
        RenderSettings settings,
        IReadOnlyList<(int X, int Y, int Width, int Height)> tiles,
        int samplesPerDispatch,
        CancellationToken cancellationToken,
        IReadOnlyList<int>? snapshotCounts = null,
        List<HdrImage>[]? snapshots = null)
    {
        ArgumentNullException.ThrowIfNull(scene);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(tiles);
        ArgumentOutOfRangeException.ThrowIfLessThan(samplesPerDispatch, 1);
        ObjectDisposedException.ThrowIf(_disposed, this);
        settings.Validate();
        if (frame < 1)
        {
            throw new UserInputException($"Frame numbers start at 1; got {frame}.");
        }

        ImageSize size = settings.Size;
        foreach ((int x, int y, int width, int height) in tiles)
        {
            if (width < 1 || height < 1 || x < 0 || y < 0 || x + width > size.Width || y + height > size.Height)
            {
                throw new ArgumentOutOfRangeException(nameof(tiles), $"Tile ({x}, {y}, {width}x{height}) does not lie inside the {size} frame.");
            }
        }

        using FrameBuffers buffers = PrepareFrame(scene, frame, settings);
        ComputePipeline pipeline = Pipeline(buffers.Features);
        var results = new List<HdrImage>(tiles.Count);
        var stats = new RenderStats(0);
        foreach ((int x, int y, int width, int height) in tiles)
        {
            var image = new HdrImage(width, height);
            HdrImage[]? earlier = snapshots is null ? null : [.. snapshots.Select(_ => new HdrImage(width, height))];
            // Regions larger than the accumulation buffer are done in pieces.
            for (int py = 0; py < height; py += TileSize)
            {
                for (int px = 0; px < width; px += TileSize)
                {
                    RenderRegion(
                        pipeline, buffers.Buffers, frame, settings, samplesPerDispatch, x + px, y + py, Math.Min(TileSize, width - px),
                        Math.Min(TileSize, height - py), image.Pixels, width, px, py, stats, null, cancellationToken, snapshotCounts, earlier);
                }
            }

            results.Add(image);
            for (int k = 0; earlier is not null && k < earlier.Length; k++)
            {
                snapshots![k].Add(earlier[k]);
            }
        }

        return results;
    }

    /// <summary>
    /// Renders the given regions of frame <paramref name="frame"/> like <see cref="RenderTiles(SceneAsset, int, RenderSettings, IReadOnlyList{ValueTuple{int, int, int, int}}, CancellationToken)"/>
    /// and keeps each region's image after each of <paramref name="sampleCounts"/> samples per pixel: one render, read
    /// back at those counts. The image after n samples equals a render with n samples per pixel bit for bit (a pixel
    /// adds its samples one after another whatever the dispatches hold), so a validator can tell which earlier count a
    /// delivered frame resembles.
    /// </summary>
    /// <param name="scene">The scene.</param>
    /// <param name="frame">The frame, from 1.</param>
    /// <param name="settings">The render settings; their samples per pixel is the last count rendered.</param>
    /// <param name="tiles">The regions.</param>
    /// <param name="sampleCounts">Strictly increasing counts in [1, samples per pixel].</param>
    /// <param name="cancellationToken">Cancels the render.</param>
    /// <returns>One list per count, in order, of one linear image per region.</returns>
    public IReadOnlyList<IReadOnlyList<HdrImage>> RenderTileSnapshots(
        SceneAsset scene,
        int frame,
        RenderSettings settings,
        IReadOnlyList<(int X, int Y, int Width, int Height)> tiles,
        IReadOnlyList<int> sampleCounts,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(sampleCounts);
        if (sampleCounts.Count == 0)
        {
            throw new ArgumentException("At least one sample count is needed.", nameof(sampleCounts));
        }

        for (int k = 0; k < sampleCounts.Count; k++)
        {
            if (sampleCounts[k] < 1 || sampleCounts[k] > settings.SamplesPerPixel || (k > 0 && sampleCounts[k] <= sampleCounts[k - 1]))
            {
                throw new ArgumentOutOfRangeException(nameof(sampleCounts), $"Sample counts must increase strictly within [1, {settings.SamplesPerPixel}].");
            }
        }

        var snapshots = new List<HdrImage>[sampleCounts.Count];
        for (int k = 0; k < snapshots.Length; k++)
        {
            snapshots[k] = new List<HdrImage>(tiles?.Count ?? 0);
        }

        // The last count is the render's own; its image is the last snapshot.
        _ = RenderTiles(
            scene, frame, settings with { SamplesPerPixel = sampleCounts[^1] }, tiles!, SamplesPerDispatch(settings), cancellationToken, sampleCounts, snapshots);
        return snapshots;
    }

    // Renders region (x, y, width, height) of the frame (at most one accumulation tile) into a linear RGB
    // target of row length targetWidth, at (targetX, targetY), samplesPerDispatch samples per dispatch.
    private void RenderRegion(
        ComputePipeline pipeline,
        GpuBuffer[] buffers,
        int frame,
        RenderSettings settings,
        int samplesPerDispatch,
        int x,
        int y,
        int width,
        int height,
        float[] target,
        int targetWidth,
        int targetX,
        int targetY,
        RenderStats stats,
        IProgress<FrameProgress>? progress,
        CancellationToken cancellationToken,
        IReadOnlyList<int>? snapshotCounts = null,
        HdrImage[]? snapshots = null)
    {
        GpuBuffer accumulation = buffers[9];
        GpuBuffer rayCounts = buffers[10];
        _device.Fill(accumulation, 0);
        _device.Fill(rayCounts, 0);
        // Exactly the asked samples: the last batch is cut short, never rounded up. Batches also stop at each snapshot
        // count, which changes no bits (a pixel adds its samples in order whatever a dispatch holds).
        int snapshot = 0;
        for (int sampleStart = 0; sampleStart < settings.SamplesPerPixel;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int stop = snapshots is not null && snapshot < snapshots.Length ? snapshotCounts![snapshot] : settings.SamplesPerPixel;
            int count = Math.Min(samplesPerDispatch, stop - sampleStart);
            var push = new GpuTilePush
            {
                TileX = (uint)x,
                TileY = (uint)y,
                TileWidth = (uint)width,
                TileHeight = (uint)height,
                SampleStart = (uint)sampleStart,
                SampleCount = (uint)count,
            };
            TimeSpan elapsed = DispatchTile(pipeline, buffers, push);
            stats.GpuTime += elapsed;
            sampleStart += count;
            stats.SamplesDone += (long)width * height * count;
            progress?.Report(new FrameProgress(frame, stats.SamplesDone, stats.SamplesTotal));
            if (snapshots is not null && snapshot < snapshots.Length && sampleStart == stop)
            {
                ReadSnapshot(accumulation, stop, width, height, snapshots[snapshot].Pixels, targetWidth, targetX, targetY);
                snapshot++;
            }
        }

        int tilePixels = width * height;
        var sums = new float[tilePixels * 4];
        var counts = new uint[tilePixels];
        _device.Download<float>(accumulation, sums);
        _device.Download<uint>(rayCounts, counts);
        for (int i = 0; i < tilePixels; i++)
        {
            stats.Rays += counts[i];
            float droppedHere = sums[(i * 4) + 3];
            stats.Dropped += (long)droppedHere;
            float kept = settings.SamplesPerPixel - droppedHere;
            float scale = kept > 0 ? 1f / kept : 0f;
            int index = (((targetY + (i / width)) * targetWidth) + targetX + (i % width)) * 3;
            target[index] = sums[i * 4] * scale;
            target[index + 1] = sums[(i * 4) + 1] * scale;
            target[index + 2] = sums[(i * 4) + 2] * scale;
        }
    }

    // The accumulated mean after `samples` samples of the region, written like the final image.
    private void ReadSnapshot(GpuBuffer accumulation, int samples, int width, int height, float[] target, int targetWidth, int targetX, int targetY)
    {
        int tilePixels = width * height;
        var sums = new float[tilePixels * 4];
        _device.Download<float>(accumulation, sums);
        for (int i = 0; i < tilePixels; i++)
        {
            float kept = samples - sums[(i * 4) + 3];
            float scale = kept > 0 ? 1f / kept : 0f;
            int index = (((targetY + (i / width)) * targetWidth) + targetX + (i % width)) * 3;
            target[index] = sums[i * 4] * scale;
            target[index + 1] = sums[(i * 4) + 1] * scale;
            target[index + 2] = sums[(i * 4) + 2] * scale;
        }
    }

    /// <summary>Runs <paramref name="pipeline"/> over the tile <paramref name="push"/> names, one invocation per pixel.</summary>
    internal TimeSpan DispatchTile(ComputePipeline pipeline, GpuBuffer[] buffers, in GpuTilePush push) =>
        _device.Dispatch(
            pipeline,
            buffers,
            MemoryMarshal.AsBytes(new ReadOnlySpan<GpuTilePush>(in push)),
            (push.TileWidth + WorkgroupSize - 1) / WorkgroupSize,
            (push.TileHeight + WorkgroupSize - 1) / WorkgroupSize,
            1);

    /// <summary>A frame of <paramref name="size"/> cut into tiles of at most <see cref="TileSize"/> a side, row by row.</summary>
    internal static IEnumerable<(int X, int Y, int Width, int Height)> Tiles(ImageSize size)
    {
        for (int y = 0; y < size.Height; y += TileSize)
        {
            for (int x = 0; x < size.Width; x += TileSize)
            {
                yield return (x, y, Math.Min(TileSize, size.Width - x), Math.Min(TileSize, size.Height - y));
            }
        }
    }

    private sealed class RenderStats(long samplesTotal)
    {
        public long SamplesTotal { get; } = samplesTotal;

        public long SamplesDone { get; set; }

        public long Rays { get; set; }

        public long Dropped { get; set; }

        public TimeSpan GpuTime { get; set; }
    }
}
