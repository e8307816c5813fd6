using System.Runtime.CompilerServices;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Scene;

namespace RenderFarm.Rendering.PathTracing;

/// <summary>
/// Renders a frame's first-hit AOVs (albedo, normal, depth, emission) with its own small compute shader
/// (<c>shaders/aovs.comp</c>) over the path tracer's scene buffers: one primary ray per position of a 4×4 grid in
/// each pixel, no path. It never changes the path-traced frame, so verification is unaffected by it.
/// </summary>
public sealed class AovPass : IDisposable
{
    /// <summary>Positions per pixel: a 4×4 grid, which also keeps each invocation far below drivers' loop limits.</summary>
    public const int PositionsPerPixel = 16;

    private const int BufferSlot = 9;
    private const string ShaderResource = "shaders/aovs.spv";

    private readonly PathTracer _tracer;
    private readonly ComputePipeline _pipeline;

    /// <summary>Creates the pass's pipeline on the device of <paramref name="tracer"/>, whose scene buffers it shares.</summary>
    public AovPass(PathTracer tracer)
    {
        ArgumentNullException.ThrowIfNull(tracer);
        _tracer = tracer;
        // The pass binds the path tracer's whole buffer set, so its layout has the same bindings.
        _pipeline = tracer.Device.CreatePipeline(
            PathTracer.LoadShader(ShaderResource), PathTracer.StorageBufferCount, Unsafe.SizeOf<GpuTilePush>());
    }

    /// <summary>Renders the AOVs of frame <paramref name="frame"/> of <paramref name="scene"/> at the settings' size and camera.</summary>
    public FrameAovs Render(SceneAsset scene, int frame, RenderSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scene);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (frame < 1)
        {
            throw new UserInputException($"Frame numbers start at 1; got {frame}.");
        }

        ComputeDevice device = _tracer.Device;
        ImageSize size = settings.Size;
        var aovs = new FrameAovs(size.Width, size.Height);
        using PathTracer.FrameBuffers frameBuffers = _tracer.PrepareFrame(scene, frame, settings);
        using GpuBuffer output = device.CreateBuffer((ulong)PathTracer.TileSize * PathTracer.TileSize * 3 * 16);
        GpuBuffer[] buffers = [.. frameBuffers.Buffers];
        buffers[BufferSlot] = output;
        var sums = new float[PathTracer.TileSize * PathTracer.TileSize * 12];
        foreach ((int x0, int y0, int width, int height) in PathTracer.Tiles(size))
        {
            cancellationToken.ThrowIfCancellationRequested();
            // A sentinel, so a dispatch that wrote nothing cannot pass for a frame that hit nothing.
            device.Fill(output, 0x7fc00000u);
            var push = new GpuTilePush
            {
                TileX = (uint)x0,
                TileY = (uint)y0,
                TileWidth = (uint)width,
                TileHeight = (uint)height,
                SampleStart = 0,
                SampleCount = PositionsPerPixel,
            };
            _tracer.DispatchTile(_pipeline, buffers, push);
            Span<float> tile = sums.AsSpan(0, width * height * 12);
            device.Download<float>(output, tile);
            Store(tile, aovs, x0, y0, width, height);
        }

        return aovs;
    }

    /// <inheritdoc/>
    public void Dispose() => _pipeline.Dispose();

    private static void Store(ReadOnlySpan<float> tile, FrameAovs aovs, int x0, int y0, int width, int height)
    {
        const float Positions = PositionsPerPixel;
        for (int i = 0; i < width * height; i++)
        {
            ReadOnlySpan<float> s = tile.Slice(i * 12, 12);
            float hits = s[3];
            if (!(hits >= 0 && hits <= Positions))
            {
                throw new InvalidOperationException($"The AOV shader left pixel {i} of tile ({x0}, {y0}) unwritten.");
            }

            int p = ((y0 + (i / width)) * aovs.Width) + x0 + (i % width);
            aovs.Coverage[p] = hits / Positions;
            for (int c = 0; c < 3; c++)
            {
                aovs.Albedo[(p * 3) + c] = s[c] / Positions;
                aovs.Emission[(p * 3) + c] = s[8 + c] / Positions;
            }

            if (hits > 0)
            {
                float length = MathF.Sqrt((s[4] * s[4]) + (s[5] * s[5]) + (s[6] * s[6]));
                for (int c = 0; c < 3; c++)
                {
                    aovs.Normal[(p * 3) + c] = length > 0 ? s[4 + c] / length : 0f;
                }

                aovs.Depth[p] = s[7] / hits;
            }
        }
    }
}
