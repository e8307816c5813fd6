using RenderFarm.Rendering.Imaging;

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
