using System.Diagnostics;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// Renders frames of a <see cref="SceneAsset"/> on a Vulkan compute device. The work of a frame is
/// split into tiles of at most 256×256 pixels and batches of samples whose size follows from the
/// settings alone, never from timing, so every split traces the same loops and a frame's pixels do not
/// depend on how its work was cut; progress is reported between dispatches.
/// </summary>
public sealed partial class PathTracer : IDisposable
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
}
