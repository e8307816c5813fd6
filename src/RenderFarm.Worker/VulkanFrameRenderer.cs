using RenderFarm.Core;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Worker;

/// <summary>Renders frames with the <see cref="PathTracer"/> on one Vulkan device, kept open for the renderer's life.</summary>
public sealed class VulkanFrameRenderer : IFrameRenderer, ITileRenderer, IDisposable
{
    private readonly ComputeDevice _device;
    private readonly PathTracer _tracer;

    // Made on the first EXR frame: a PNG-only worker never builds the AOV pipeline.
    private AovPass? _aovPass;

    // Chunks of one job arrive back to back, so keeping the last scene saves re-importing it per task.
    private string? _scenePath;
    private SceneAsset? _scene;

    // Likewise the last environment map, by its cached path (content-addressed), strength and rotation.
    private (string Path, float Strength, float Rotation)? _environmentKey;

    /// <summary>Opens the device and creates the path tracer, which builds a pipeline per scene's features on first use.</summary>
    /// <param name="deviceIndex">An index from <see cref="ComputeDevice.EnumerateDevices"/>, or null to choose automatically.</param>
    /// <exception cref="GpuUnavailableException">Vulkan or the device is not available.</exception>
    public VulkanFrameRenderer(int? deviceIndex = null)
    {
        _device = ComputeDevice.Open(deviceIndex);
        try
        {
            _tracer = new PathTracer(_device);
        }
        catch
        {
            _device.Dispose();
            throw;
        }

        DeviceName = $"{_device.Info.Name} [{_device.Info.Kind}]";
    }

    /// <inheritdoc/>
    public string DeviceName { get; }

    /// <summary>The device's limits as advertised with lease requests (capped at <see cref="LeaseDevice.MaxBytes"/>).</summary>
    public LeaseDevice LeaseLimits => new(
        (long)Math.Min(_device.Limits.MaxStorageBufferRange, (ulong)LeaseDevice.MaxBytes),
        (long)Math.Min(_device.Limits.DeviceLocalMemoryBytes, (ulong)LeaseDevice.MaxBytes));

    /// <inheritdoc/>
    public Task<RenderedFrame> RenderAsync(
        string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenePath);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(pngPath);

        // The path tracer blocks while the GPU works; keep that off the caller's thread.
        return Task.Run(
            () =>
            {
                SceneAsset scene = LoadScene(scenePath);
                _tracer.Environment = LoadEnvironment(scenePath, settings);
                FrameRender render = _tracer.Render(scene, frame, settings, progress: null, cancellationToken);
                if (settings.Format == FrameFormat.Exr)
                {
                    // The AOVs come from a pass of their own after the frame, which leaves the frame's pixels unchanged.
                    _aovPass ??= new AovPass(_tracer);
                    FarmFrame.Write(pngPath, render.Image, _aovPass.Render(scene, frame, settings, cancellationToken), settings.ExrDepth);
                }
                else
                {
                    PngFrameWriter.Write(render.Image, pngPath, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
                }

                return new RenderedFrame(render.WallTime, render.Samples);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<byte[]> RenderTilesAsync(
        string scenePath, int frame, RenderSettings settings, IReadOnlyList<PixelTile> tiles, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenePath);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(tiles);
        return Task.Run(
            () =>
            {
                SceneAsset scene = LoadScene(scenePath);
                _tracer.Environment = LoadEnvironment(scenePath, settings);
                (int, int, int, int)[] regions = [.. tiles.Select(t => (t.X, t.Y, t.Width, t.Height))];
                IReadOnlyList<int> counts = Verification.SampleCountTest.SnapshotCounts(settings.SamplesPerPixel);
                if (counts.Count == 0)
                {
                    return TileStrip.Encode(_tracer.RenderTiles(scene, frame, settings, regions, cancellationToken), settings);
                }

                // The tiles read back at earlier sample counts on the way, which lets the coordinator tell a frame with
                // fewer samples from an honest one.
                return TileStrip.EncodeWithSnapshots(
                    _tracer.RenderTileSnapshots(scene, frame, settings, regions, [.. counts, settings.SamplesPerPixel], cancellationToken), settings);
            },
            cancellationToken);
    }

    /// <summary>Releases the pipeline and the device.</summary>
    public void Dispose()
    {
        _scene = null;
        _aovPass?.Dispose();
        _tracer.Dispose();
        _device.Dispose();
    }

    // The map the settings name, from the worker's cache beside the scene (EnvironmentCache); null for the uniform background.
    private EnvironmentLight? LoadEnvironment(string scenePath, RenderSettings settings)
    {
        if (settings.Environment is not { } environment)
        {
            return null;
        }

        environment.Validate();
        string path = EnvironmentCache.PathBeside(scenePath, environment.Sha256);
        var key = (path, environment.Strength, environment.RotationDegrees);
        if (_tracer.Environment is null || _environmentKey != key)
        {
            _tracer.Environment = null; // let the old map go before the new one loads
            _tracer.Environment = new EnvironmentLight(EnvironmentFile.Read(path), environment.Strength, environment.RotationDegrees);
            _environmentKey = key;
        }

        return _tracer.Environment;
    }

    private SceneAsset LoadScene(string path)
    {
        if (_scene is null || !string.Equals(_scenePath, path, StringComparison.Ordinal))
        {
            _scene = null; // let the old scene go before the new one loads
            // A farm's scene is one self-contained file: the worker opens nothing else, whatever its URIs say.
            _scene = SceneAsset.Load(path, SceneFileAccess.SelfContained);
            _scenePath = path;
        }

        return _scene;
    }
}
