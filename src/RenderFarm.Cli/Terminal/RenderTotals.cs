using System.Globalization;
using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Cli.Terminal;

/// <summary>Sums per-frame figures into the summary line printed after a render.</summary>
internal sealed class RenderTotals
{
    private int _frames;
    private TimeSpan _wall;
    private TimeSpan _gpu;
    private long _samples;
    private long _rays;
    private long _dropped;

    public void Add(FrameRender render)
    {
        _frames++;
        _wall += render.WallTime;
        _gpu += render.GpuTime;
        _samples += render.Samples;
        _rays += render.Rays;
        _dropped += render.DroppedSamples;
    }

    public string Summary()
    {
        string line = string.Create(
            CultureInfo.InvariantCulture,
            $"{_frames} frame(s) in {_wall.TotalSeconds:F2} s ({_wall.TotalSeconds / Math.Max(1, _frames):F2} s/frame, GPU {_gpu.TotalSeconds:F2} s): {_samples / _gpu.TotalSeconds / 1e6:F2} Msamples/s, {_rays / _gpu.TotalSeconds / 1e6:F2} Mrays/s");
        return _dropped > 0
            ? line + string.Create(CultureInfo.InvariantCulture, $", {_dropped} non-finite sample(s) dropped")
            : line;
    }
}
