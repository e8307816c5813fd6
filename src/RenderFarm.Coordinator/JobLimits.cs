using RenderFarm.Core;

namespace RenderFarm.Coordinator;

/// <summary>
/// The most one job may ask for, checked when it is submitted (a 400 naming the limit), bound from the configuration
/// section <see cref="SectionName"/>. The defaults allow what artists choose (8K frames, 4096 samples per pixel,
/// a thousand 1080p frames at 4096 spp) and refuse what only an attacker would.
/// </summary>
public sealed class JobLimits
{
    /// <summary>The configuration section the limits are read from.</summary>
    public const string SectionName = "Coordinator:Limits";

    /// <summary>The largest frame number a job may name; at most <see cref="FrameRange.MaxFrameNumber"/>.</summary>
    public int MaxFrameNumber { get; set; } = 1_000_000;

    /// <summary>The widest frame in pixels; at most <see cref="ImageSize.MaxDimension"/>.</summary>
    public int MaxWidth { get; set; } = ImageSize.MaxDimension;

    /// <summary>The tallest frame in pixels; at most <see cref="ImageSize.MaxDimension"/>.</summary>
    public int MaxHeight { get; set; } = ImageSize.MaxDimension;

    /// <summary>The most pixels in one frame (8192 × 8192 by default; 8K UHD is 7680 × 4320).</summary>
    public long MaxPixels { get; set; } = 8192L * 8192;

    /// <summary>The most samples per pixel; at most <see cref="RenderSettings.MaxSamplesPerPixel"/>.</summary>
    public int MaxSamplesPerPixel { get; set; } = 65_536;

    /// <summary>
    /// The most work one render job may ask for, in samples: pixels × samples per pixel × frames. The default, 10^15,
    /// is about 120 times a thousand 1080p frames at 4096 spp (8.5 × 10^12).
    /// </summary>
    public long MaxSamplesPerJob { get; set; } = 1_000_000_000_000_000;

    /// <summary>
    /// The most render work one client account may have open at once (queued, waiting for escrow or running), in
    /// samples; a new job past it is refused until earlier ones end. The default is four jobs at
    /// <see cref="MaxSamplesPerJob"/>'s default.
    /// </summary>
    public long MaxOpenSamplesPerAccount { get; set; } = 4_000_000_000_000_000;

    /// <summary>The most jobs one client account may have open at once (render and inference together).</summary>
    public int MaxOpenJobsPerAccount { get; set; } = 100;

    /// <summary>Throws when a limit is out of range, naming it.</summary>
    internal void Validate()
    {
        if (MaxFrameNumber is < 1 or > FrameRange.MaxFrameNumber)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxFrameNumber)} must lie in [1, {FrameRange.MaxFrameNumber}]; got {MaxFrameNumber}.");
        }

        if (MaxWidth is < 1 or > ImageSize.MaxDimension || MaxHeight is < 1 or > ImageSize.MaxDimension || MaxPixels < 1)
        {
            throw new InvalidOperationException($"{SectionName}: {nameof(MaxWidth)} and {nameof(MaxHeight)} must lie in [1, {ImageSize.MaxDimension}] and {nameof(MaxPixels)} must be at least 1.");
        }

        if (MaxOpenSamplesPerAccount < 1 || MaxOpenJobsPerAccount < 1)
        {
            throw new InvalidOperationException($"{SectionName}: {nameof(MaxOpenSamplesPerAccount)} and {nameof(MaxOpenJobsPerAccount)} must be at least 1.");
        }

        if (MaxSamplesPerPixel is < 1 or > RenderSettings.MaxSamplesPerPixel || MaxSamplesPerJob < 1)
        {
            throw new InvalidOperationException($"{SectionName}: {nameof(MaxSamplesPerPixel)} must lie in [1, {RenderSettings.MaxSamplesPerPixel}] and {nameof(MaxSamplesPerJob)} must be at least 1.");
        }
    }
}
