using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>The result of rendering one frame.</summary>
/// <param name="Frame">Frame number.</param>
/// <param name="Image">Linear radiance, averaged over the samples.</param>
/// <param name="WallTime">Time from the start of the frame to its read-back, scene building included.</param>
/// <param name="GpuTime">Sum of the dispatches' GPU execution times.</param>
/// <param name="Samples">Camera samples traced (pixels × samples per pixel).</param>
/// <param name="Rays">Rays traced: camera, bounce and shadow rays.</param>
/// <param name="DroppedSamples">Samples discarded because their value was not finite.</param>
public sealed record FrameRender(
    int Frame, HdrImage Image, TimeSpan WallTime, TimeSpan GpuTime, long Samples, long Rays, long DroppedSamples);

/// <summary>Progress within one frame: samples traced so far out of the frame's total.</summary>
/// <param name="Frame">Frame number.</param>
/// <param name="SamplesDone">Camera samples traced so far.</param>
/// <param name="SamplesTotal">Camera samples the frame needs.</param>
public readonly record struct FrameProgress(int Frame, long SamplesDone, long SamplesTotal);

/// <summary>
/// Renders frames of a <see cref="SceneAsset"/> on a Vulkan compute device. The work of a frame is
/// split into tiles of at most 256×256 pixels and batches of samples whose size follows from the
/// settings alone, never from timing, so every split traces the same loops and a frame's pixels do not
/// depend on how its work was cut; progress is reported between dispatches.
/// </summary>
public sealed class PathTracer : IDisposable
{
    /// <summary>The most samples one dispatch adds to a pixel, whatever the settings.</summary>
    internal const int MaxSamplesPerDispatch = 16;

    // llvmpipe (lavapipe) ends every loop of a shader invocation once 65,535 loop iterations have run
    // in it, all loops together (sample, bounce, light and BVH traversal loops) and counted per SIMD
    // batch of invocations, so the busiest lane of the batch sets the count. A loop ended that way
    // silently changes the pixel, which made a picture depend on how many samples one dispatch held.
    // Measured on the Cornell box against one sample per dispatch: at 8 bounces 48 samples per
    // dispatch gave the same bits on a 96×96 frame and 64 did not (64 did on 32×32, 96 did not), so a
    // sample costs at most 65,535 / 48 ≈ 1,365 iterations there; at 2 bounces 96 matched and 192 did
    // not, ≤ 683 per sample, ≤ 228 per path segment (a closest-hit and a shadow ray). A batch is held
    // to LoopBudget iterations (an eighth of the cap) at LoopsPerSegment per segment: 3 samples per
    // dispatch at 8 bounces (≤ 4,100 measured iterations, 16 times below the cap), 10 at 2 bounces
    // (≤ 6,830, 9.6 times below). Scenes with deeper hierarchies or many lights cost more per segment,
    // which this margin is for.
    /// <summary>Storage buffers the path tracer's shaders bind (shaders/pathtrace/layout.glsl, bindings 0–13).</summary>
    internal const int StorageBufferCount = 14;

    private const int LoopBudget = 8_192;
    private const int LoopsPerSegment = 256;
    /// <summary>The largest tile one dispatch covers, in pixels a side; the tile buffers are sized for it.</summary>
    internal const int TileSize = 256;
    private const int WorkgroupSize = 8;
    private const string ShaderResource = "shaders/pathtrace.spv";
    private const string OtherDeviceShaderResource = "shaders/pathtrace_other_device.spv";

    private readonly ComputeDevice _device;
    private readonly string _shaderResource;
    private SceneAsset? _uploadedScene;
    private GpuBuffer? _materials;
    private GpuBuffer? _textures;
    private GpuBuffer? _texels;
    private EnvironmentLight? _uploadedEnvironment;
    private GpuBuffer? _environmentTexels;
    private GpuBuffer? _environmentCdf;
    private bool _disposed;

    /// <summary>Creates the path tracer's pipeline on <paramref name="device"/>; the caller keeps ownership of the device.</summary>
    public PathTracer(ComputeDevice device)
        : this(device, PathTracerArithmetic.Device)
    {
    }

    /// <summary>
    /// Creates a path tracer whose shader computes as <paramref name="arithmetic"/> says: the device's own, or that of a
    /// simulated other conforming device, which measures how far honest renders on different hardware drift apart.
    /// </summary>
    public PathTracer(ComputeDevice device, PathTracerArithmetic arithmetic)
    {
        ArgumentNullException.ThrowIfNull(device);
        string resource = arithmetic switch
        {
            PathTracerArithmetic.Device => ShaderResource,
            PathTracerArithmetic.OtherConformingDevice => OtherDeviceShaderResource,
            _ => throw new ArgumentOutOfRangeException(nameof(arithmetic), arithmetic, "Unknown arithmetic."),
        };
        _device = device;
        _shaderResource = resource;
    }

    /// <summary>The device frames are rendered on.</summary>
    public ComputeDevice Device => _device;

    /// <summary>
    /// The environment map that lights the renders that follow, in place of <see cref="RenderSettings.Background"/>;
    /// null (the default) for the uniform background.
    /// </summary>
    public EnvironmentLight? Environment { get; set; }

    /// <summary>
    /// Features to specialize the pipeline to in place of those each frame uses (null, the default): the guards must
    /// change speed only, which a render with <see cref="SceneFeatures.All"/> shows.
    /// </summary>
    internal SceneFeatures? FeaturesOverride { get; set; }

    /// <summary>Renders frame <paramref name="frame"/> of <paramref name="scene"/>.</summary>
    public FrameRender Render(
        SceneAsset scene,
        int frame,
        RenderSettings settings,
        IProgress<FrameProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scene);
        ArgumentNullException.ThrowIfNull(settings);
        ObjectDisposedException.ThrowIf(_disposed, this);
        settings.Validate();
        if (frame < 1)
        {
            throw new UserInputException($"Frame numbers start at 1; got {frame}.");
        }

        var wall = Stopwatch.StartNew();
        ImageSize size = settings.Size;
        using FrameBuffers buffers = PrepareFrame(scene, frame, settings);
        ComputePipeline pipeline = Pipeline(buffers.Features);
        var image = new HdrImage(size.Width, size.Height);
        var stats = new RenderStats(size.PixelCount * settings.SamplesPerPixel);
        int samplesPerDispatch = SamplesPerDispatch(settings);
        foreach ((int x, int y, int width, int height) in Tiles(size))
        {
            RenderRegion(
                pipeline, buffers.Buffers, frame, settings, samplesPerDispatch, x, y, width, height, image.Pixels, size.Width, x, y, stats, progress,
                cancellationToken);
        }

        return new FrameRender(frame, image, wall.Elapsed, stats.GpuTime, stats.SamplesTotal, stats.Rays, stats.Dropped);
    }

    /// <summary>
    /// Renders only the given regions of frame <paramref name="frame"/>: each region's pixels equal those pixels of a full
    /// <see cref="Render"/> with the same settings (the random stream of a sample depends on the global pixel index,
    /// never on the region), which lets a validator re-render a few tiles of a delivered frame.
    /// </summary>
    /// <returns>One linear image per region, in order, each of the region's size.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A region is empty or leaves the frame.</exception>
    public IReadOnlyList<HdrImage> RenderTiles(
        SceneAsset scene,
        int frame,
        RenderSettings settings,
        IReadOnlyList<(int X, int Y, int Width, int Height)> tiles,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return RenderTiles(scene, frame, settings, tiles, SamplesPerDispatch(settings), cancellationToken);
    }

    /// <summary>
    /// Samples one dispatch adds to each pixel for <paramref name="settings"/>: as many as keep an invocation's loop
    /// iterations well under a driver's limits at the settings' bounce limit, at least 1 and at most
    /// <see cref="MaxSamplesPerDispatch"/>. The last batch of a pixel is shorter when the samples per pixel are no
    /// multiple of it; a frame never holds more samples than asked.
    /// </summary>
    internal static int SamplesPerDispatch(RenderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int segments = settings.MaxBounces + 1;
        return Math.Clamp(LoopBudget / (segments * LoopsPerSegment), 1, MaxSamplesPerDispatch);
    }

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

    // Internal for the AOV pass, which shares the scene's buffers.
    internal FrameBuffers PrepareFrame(SceneAsset scene, int frame, RenderSettings settings)
    {
        ImageSize size = settings.Size;
        GpuSceneData data = scene.BuildFrame(settings.TimeOfFrame(frame), size.AspectRatio, scene.CameraIndex(settings.Camera));
        DeviceFit.ThrowIfTooLarge(_device, scene.Name, data, (ulong)TileSize * TileSize * 20);
        UploadSceneConstants(scene, data);

        GpuFrameParams frameParams = data.FrameParams;
        frameParams.Width = (uint)size.Width;
        frameParams.Height = (uint)size.Height;
        frameParams.Seed = settings.Seed;
        frameParams.Frame = (uint)frame;
        frameParams.MaxBounces = (uint)settings.MaxBounces;
        frameParams.EmitterCount = (uint)data.Emitters.Length;
        frameParams.LightCount = (uint)data.Lights.Length;
        frameParams.Environment = new System.Numerics.Vector4(settings.Background.R, settings.Background.G, settings.Background.B, 0);
        UploadEnvironment();
        if (Environment is { } environment)
        {
            float angle = environment.RotationDegrees * MathF.PI / 180f;
            frameParams.EnvironmentRotation = new System.Numerics.Vector4(
                MathF.Cos(angle), MathF.Sin(angle), environment.Strength, environment.CanSample ? 1 : 0);
            frameParams.EnvironmentWidth = (uint)environment.Image.Width;
            frameParams.EnvironmentHeight = (uint)environment.Image.Height;
        }

        if (settings.Bsdf == BsdfModel.Gltf)
        {
            frameParams.Flags |= GpuFrameParams.FlagGltfBsdf;
        }

        // The shader weighs BSDF-sampled hits on emitters by the light-sampling pdf, so each
        // triangle carries its emitter selection probability.
        GpuTriangle[] triangles = (GpuTriangle[])data.Triangles.Clone();
        foreach (GpuEmitter emitter in data.Emitters)
        {
            triangles[emitter.Triangle].Padding1 = BitConverter.SingleToUInt32Bits(emitter.Probability);
        }

        var owned = new List<GpuBuffer>();
        try
        {
            GpuBuffer Own(GpuBuffer buffer)
            {
                owned.Add(buffer);
                return buffer;
            }

            GpuBuffer frameBuffer = Own(CreateFilled([frameParams]));
            GpuBuffer nodes = Own(CreateFilled(data.Nodes));
            GpuBuffer triangleBuffer = Own(CreateFilled(triangles));
            GpuBuffer shading = Own(CreateFilled(data.Shading));
            GpuBuffer emitters = Own(CreateFilled(data.Emitters));
            GpuBuffer lights = Own(CreateFilled(data.Lights));
            GpuBuffer accumulation = Own(_device.CreateBuffer((ulong)TileSize * TileSize * 16));
            GpuBuffer rayCounts = Own(_device.CreateBuffer((ulong)TileSize * TileSize * 4));
            GpuBuffer instances = Own(CreateFilled(data.Instances));
            GpuBuffer[] buffers =
            [
                frameBuffer, nodes, triangleBuffer, shading, _materials!, _textures!, _texels!, emitters, lights, accumulation, rayCounts,
                _environmentTexels!, _environmentCdf!, instances,
            ];
            return new FrameBuffers(buffers, owned)
            {
                Features = FeaturesOverride ?? SceneFeatureDetection.Detect(data, settings.Bsdf, Environment is not null),
            };
        }
        catch
        {
            owned.ForEach(buffer => buffer.Dispose());
            throw;
        }
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

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _materials?.Dispose();
        _textures?.Dispose();
        _texels?.Dispose();
        _environmentTexels?.Dispose();
        _environmentCdf?.Dispose();
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

    /// <summary>
    /// The path tracer's pipeline specialized to <paramref name="features"/>, from the device's kernel cache, which owns
    /// it and shares it with every path tracer on the device; created (and compiled by the driver) on first use.
    /// </summary>
    internal ComputePipeline Pipeline(SceneFeatures features)
    {
        string resource = _shaderResource;
        var description = new KernelDescription(resource, StorageBufferCount: StorageBufferCount, PushConstantBytes: Unsafe.SizeOf<GpuTilePush>())
        {
            SpecializationConstants = [.. SceneFeatureDetection.SpecializationConstants(features)],
        };
        return _device.Kernels.Get(description, () => LoadShader(resource));
    }

    /// <summary>The SPIR-V of an embedded shader of this assembly.</summary>
    internal static byte[] LoadShader(string resource)
    {
        using Stream stream = typeof(PathTracer).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The build did not embed {resource}; run scripts/compile-shaders.sh.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

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

    private void UploadSceneConstants(SceneAsset scene, GpuSceneData data)
    {
        if (ReferenceEquals(scene, _uploadedScene))
        {
            return;
        }

        _materials?.Dispose();
        _textures?.Dispose();
        _texels?.Dispose();
        _materials = CreateFilled(data.Materials);
        _textures = CreateFilled(data.Textures);
        _texels = CreateFilled(data.Texels);
        _uploadedScene = scene;
    }

    // The map's texels and its sampling tables (marginal CDF, then the rows' conditional CDFs), kept while the map stays.
    private void UploadEnvironment()
    {
        if (_environmentTexels is not null && ReferenceEquals(Environment, _uploadedEnvironment))
        {
            return;
        }

        _environmentTexels?.Dispose();
        _environmentCdf?.Dispose();
        _environmentTexels = null;
        _environmentCdf = null;
        EnvironmentLight? environment = Environment;
        _environmentTexels = CreateFilled<float>(environment?.Image.Pixels ?? []);
        _environmentCdf = CreateFilled<float>(environment?.SamplingTables() ?? []);
        _uploadedEnvironment = environment;
    }

    // Vulkan buffers cannot be empty, so an empty array becomes one zeroed element.
    private GpuBuffer CreateFilled<T>(T[] items)
        where T : unmanaged
    {
        ReadOnlySpan<T> span = items.Length > 0 ? items : [default];
        GpuBuffer buffer = _device.CreateBuffer((ulong)(span.Length * Unsafe.SizeOf<T>()));
        _device.Upload(buffer, span);
        return buffer;
    }

    private sealed class RenderStats(long samplesTotal)
    {
        public long SamplesTotal { get; } = samplesTotal;

        public long SamplesDone { get; set; }

        public long Rays { get; set; }

        public long Dropped { get; set; }

        public TimeSpan GpuTime { get; set; }
    }

    internal sealed class FrameBuffers(GpuBuffer[] buffers, List<GpuBuffer> owned) : IDisposable
    {
        public GpuBuffer[] Buffers { get; } = buffers;

        /// <summary>The shader features the frame uses: its pipeline is specialized to them.</summary>
        public SceneFeatures Features { get; init; } = SceneFeatures.All;

        public void Dispose() => owned.ForEach(buffer => buffer.Dispose());
    }
}
