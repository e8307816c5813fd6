using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// What the checks judge of a delivered frame. A PNG job's frame is judged as delivered. An EXR job's frame (linear
/// RGB with AOVs, <see cref="FarmFrame"/>) is judged through the PNG its job's view transform makes of its R, G, B:
/// the same picture a PNG job with those settings delivers (bit for bit from a float EXR), so every tile check,
/// whole-frame sample and canary works on it unchanged, and nothing but the noisy frame is ever compared.
/// </summary>
internal static class DeliveredFrames
{
    /// <summary>The PNG the checks judge for <paramref name="bytes"/>; null when the bytes are not a frame of the job.</summary>
    public static byte[]? JudgedPng(byte[] bytes, RenderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Format != FrameFormat.Exr)
        {
            return bytes;
        }

        try
        {
            return FarmFrame.ToPng(FarmFrame.Read(bytes, settings.Size, settings.ExrDepth).Image, settings);
        }
        catch (UserInputException)
        {
            return null;
        }
    }

    /// <summary>The judged picture of <paramref name="bytes"/>, decoded; null when it cannot be.</summary>
    public static Image? Load(byte[] bytes, RenderSettings settings) =>
        JudgedPng(bytes, settings) is { } png ? SpotCheckJudge.LoadImage(png) : null;
}
