using RenderFarm.Core;

namespace RenderFarm.Worker;

/// <summary>What rendering one frame took.</summary>
/// <param name="RenderTime">Wall time of the render, not counting PNG encoding.</param>
/// <param name="Samples">Camera samples traced (pixels × samples per pixel).</param>
public sealed record RenderedFrame(TimeSpan RenderTime, long Samples)
{
    /// <summary>Millions of camera samples per second.</summary>
    public double MegasamplesPerSecond => RenderTime > TimeSpan.Zero ? Samples / RenderTime.TotalSeconds / 1e6 : 0;
}

/// <summary>
/// Turns one frame of a scene file into the file its settings ask for: a PNG, or the linear EXR with AOVs
/// (<c>FarmFrame</c>) for <see cref="FrameFormat.Exr"/>. The worker calls it for one frame at a time; keeping
/// it this narrow lets tests (and deliberately dishonest providers in verification tests) swap it.
/// </summary>
public interface IFrameRenderer
{
    /// <summary>The device, for display, e.g. "NVIDIA H100 [DiscreteGpu]".</summary>
    string DeviceName { get; }

    /// <summary>Renders frame <paramref name="frame"/> of the scene in <paramref name="scenePath"/> and writes it to <paramref name="pngPath"/> (a PNG, or an EXR when <see cref="RenderSettings.Format"/> says so).</summary>
    /// <exception cref="UserInputException">The scene or the settings cannot be rendered.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<RenderedFrame> RenderAsync(
        string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken);
}
