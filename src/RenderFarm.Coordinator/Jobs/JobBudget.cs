using System.Globalization;
using RenderFarm.Core;

namespace RenderFarm.Coordinator.Jobs;

/// <summary>
/// Decides whether a render job fits the farm's <see cref="JobLimits"/> and can be delivered at all. Pure: the
/// caller turns a refusal into a 400. Every product is computed with checked arithmetic; one that overflows a
/// 64-bit integer is past any limit.
/// </summary>
internal static class JobBudget
{
    // Bytes a PNG spends besides its pixel rows: signature, IHDR, IEND and the few ancillary chunks an encoder adds.
    private const long PngFixedOverhead = 1024;

    // IDAT chunk size assumed for the per-chunk overhead (12 bytes each); encoders write chunks of 8 KiB or more.
    private const long IdatChunkBytes = 8192;

    /// <summary>Why the job exceeds a limit or cannot be delivered, or null when it fits.</summary>
    /// <param name="frames">The frames asked for.</param>
    /// <param name="settings">Validated render settings.</param>
    /// <param name="limits">The farm's job limits.</param>
    /// <param name="maxObjectBytes">The largest output a provider may upload.</param>
    public static string? Refusal(FrameRange frames, RenderSettings settings, JobLimits limits, long maxObjectBytes)
    {
        ImageSize size = settings.Size;
        if (frames.Last > limits.MaxFrameNumber)
        {
            return Invariant($"Frame {frames.Last} is past this farm's largest frame number, {limits.MaxFrameNumber}.");
        }

        if (size.Width > limits.MaxWidth || size.Height > limits.MaxHeight)
        {
            return Invariant($"Frames of {size} are larger than this farm allows ({limits.MaxWidth} wide, {limits.MaxHeight} high at most).");
        }

        if (size.PixelCount > limits.MaxPixels)
        {
            return Invariant($"Frames of {size} hold {size.PixelCount} pixels; this farm allows {limits.MaxPixels} per frame.");
        }

        if (settings.SamplesPerPixel > limits.MaxSamplesPerPixel)
        {
            return Invariant($"{settings.SamplesPerPixel} samples per pixel is more than this farm allows ({limits.MaxSamplesPerPixel}).");
        }

        long? work = TotalSamples(frames, settings);
        if (work is null || work > limits.MaxSamplesPerJob)
        {
            return Invariant($"Frames {frames} at {size} and {settings.SamplesPerPixel} spp are {(work is null ? "more than 2^63" : work.Value.ToString(CultureInfo.InvariantCulture))} samples; this farm allows {limits.MaxSamplesPerJob} per job. Render fewer frames, fewer samples or smaller frames.");
        }

        long? png = WorstCasePngBytes(size, settings.SixteenBit);
        if (png is null || png > maxObjectBytes)
        {
            return Invariant($"A {(settings.SixteenBit ? 16 : 8)}-bit frame of {size} may take up to {(png is null ? "more than 2^63" : png.Value.ToString(CultureInfo.InvariantCulture))} bytes as PNG; providers may upload at most {maxObjectBytes} bytes per frame, so the job could not be delivered. Render smaller frames{(settings.SixteenBit ? " or 8-bit" : "")}.");
        }

        long? exr = settings.Format == FrameFormat.Exr ? Rendering.Imaging.FarmFrame.WorstCaseBytes(size, settings.ExrDepth) : 0;
        if (exr is null || exr > maxObjectBytes)
        {
            return Invariant($"A {settings.ExrDepth.ToString().ToLowerInvariant()} EXR frame of {size} with its AOVs may take up to {(exr is null ? "more than 2^63" : exr.Value.ToString(CultureInfo.InvariantCulture))} bytes; providers may upload at most {maxObjectBytes} bytes per frame, so the job could not be delivered. Render smaller frames{(settings.ExrDepth == ExrDepth.Float ? " or half floats" : "")}.");
        }

        return null;
    }

    /// <summary>
    /// Why one more job would take an account past its open-work limits, or null when it fits: the open jobs'
    /// render work (<paramref name="openSamples"/>, one entry per open job, 0 for inference) plus the new job's.
    /// </summary>
    /// <param name="newSamples">The new job's render work in samples (0 for inference).</param>
    /// <param name="openSamples">The account's open jobs, each with its render work in samples.</param>
    /// <param name="limits">The farm's job limits.</param>
    public static string? AccountRefusal(long newSamples, IReadOnlyCollection<long> openSamples, JobLimits limits)
    {
        if (openSamples.Count >= limits.MaxOpenJobsPerAccount)
        {
            return Invariant($"This account has {openSamples.Count} jobs open; this farm allows {limits.MaxOpenJobsPerAccount} at once. Wait for some to end or cancel them.");
        }

        long total = newSamples;
        foreach (long samples in openSamples)
        {
            // Saturates instead of overflowing: past 2^63 is past any limit.
            total = samples > long.MaxValue - total ? long.MaxValue : total + samples;
        }

        return total > limits.MaxOpenSamplesPerAccount
            ? Invariant($"This account's open jobs and this one come to {total} samples; this farm allows {limits.MaxOpenSamplesPerAccount} open per account. Wait for earlier jobs to end or cancel them.")
            : null;
    }

    /// <summary>Pixels × samples per pixel × frames, or null when it does not fit in 64 bits.</summary>
    public static long? TotalSamples(FrameRange frames, RenderSettings settings)
    {
        try
        {
            return checked(settings.Size.PixelCount * settings.SamplesPerPixel * frames.Count);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    /// <summary>
    /// The most bytes an RGB PNG of <paramref name="size"/> can take, whatever its pixels (noise does not compress): its
    /// filtered rows, zlib's worst-case expansion (zlib's <c>compressBound</c>), the IDAT chunk headers and a fixed
    /// allowance for the other chunks. Null when it does not fit in 64 bits.
    /// </summary>
    public static long? WorstCasePngBytes(ImageSize size, bool sixteenBit)
    {
        try
        {
            long bytesPerPixel = sixteenBit ? 6 : 3;
            long rows = checked(size.Height * checked(1 + (size.Width * bytesPerPixel)));
            long deflated = checked(rows + (rows >> 12) + (rows >> 14) + (rows >> 25) + 13);
            long chunks = (deflated / IdatChunkBytes) + 1;
            return checked(deflated + (chunks * 12) + PngFixedOverhead);
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
