namespace RenderFarm.Verification;

/// <summary>How two images (or two regions of images) differ, measured in linear light on a [0, 1] scale.</summary>
/// <param name="Pixels">Pixels compared.</param>
/// <param name="Psnr">Peak signal-to-noise ratio in decibels over every channel, with a peak of 1; infinite for equal images.</param>
/// <param name="MaxAbsoluteDifference">Largest difference of any channel of any pixel.</param>
/// <param name="MeanAbsoluteDifference">Mean difference over every channel of every pixel.</param>
/// <param name="ShareBeyondTolerance">Share of pixels with a channel that differs by more than the comparison's tolerance.</param>
/// <param name="IsMatch">Whether the share stays within what the comparison allows.</param>
public sealed record PixelDifference(
    int Pixels, double Psnr, double MaxAbsoluteDifference, double MeanAbsoluteDifference, double ShareBeyondTolerance, bool IsMatch);
