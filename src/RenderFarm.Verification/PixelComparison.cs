using System.Buffers;
using System.Numerics;
using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Verification;

/// <summary>
/// Compares a provider's frame with a validator's re-render pixel by pixel, in linear light: stored values
/// are taken as sRGB-encoded and decoded to [0, 1]. A validator re-renders a few tiles with the same settings
/// and seed, encodes them the way the provider must have (the same tone mapping and PNG bit depth), and compares
/// them with the same tiles of the delivered PNG. Renders are deterministic, so honest tiles differ only where
/// floating-point rounding across drivers moves a value across an 8-bit step (one step is at most 0.0089 in
/// linear light, at white) or, rarely, turns one path of one sample; a cheaper render, another frame or a moved
/// picture differs by Monte Carlo noise in most pixels.
/// </summary>
/// <remarks>
/// A region matches when at most <see cref="MaxShareBeyondTolerance"/> of its pixels have a channel that differs
/// by more than <see cref="Tolerance"/>.
/// </remarks>
public sealed class PixelComparison
{
    /// <summary>
    /// Default per-channel tolerance in linear light: two 8-bit steps at white, so rounding on both sides of a
    /// comparison never counts, while the noise of a cheaper or other render does (measured in the tests).
    /// </summary>
    public const float DefaultTolerance = 0.02f;

    /// <summary>
    /// Default share of a region's pixels allowed beyond the tolerance: room for a diverging path in one pixel of an
    /// 8×8 tile (1/64) with margin; cheats put most pixels beyond it.
    /// </summary>
    public const double DefaultMaxShareBeyondTolerance = 0.05;

    /// <summary>Creates a comparison with the given thresholds.</summary>
    /// <param name="tolerance">Per-channel difference in linear light, in [0, 1], above which a pixel counts as different.</param>
    /// <param name="maxShareBeyondTolerance">Share of pixels, in [0, 1], allowed to differ while a region still matches.</param>
    public PixelComparison(float tolerance = DefaultTolerance, double maxShareBeyondTolerance = DefaultMaxShareBeyondTolerance)
    {
        if (!(tolerance >= 0f && tolerance <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must lie in [0, 1].");
        }

        if (!(maxShareBeyondTolerance >= 0 && maxShareBeyondTolerance <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(maxShareBeyondTolerance), maxShareBeyondTolerance, "The share must lie in [0, 1].");
        }

        Tolerance = tolerance;
        MaxShareBeyondTolerance = maxShareBeyondTolerance;
    }

    /// <summary>Per-channel difference in linear light above which a pixel counts as different.</summary>
    public float Tolerance { get; }

    /// <summary>Share of pixels allowed to differ while a region still matches.</summary>
    public double MaxShareBeyondTolerance { get; }

    /// <summary>Compares two whole images of equal size.</summary>
    public PixelDifference Compare(Image expected, Image actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        return Compare(expected, expected.Bounds(), actual, actual.Bounds());
    }

    /// <summary>
    /// Compares a region of <paramref name="expected"/> with an equally sized region of <paramref name="actual"/>:
    /// for instance a tile rendered on its own (region at the origin) with the same tile of a delivered frame.
    /// </summary>
    public PixelDifference Compare(Image expected, Rectangle expectedRegion, Image actual, Rectangle actualRegion)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        CheckRegion(expected, expectedRegion, nameof(expectedRegion));
        CheckRegion(actual, actualRegion, nameof(actualRegion));
        if (expectedRegion.Size != actualRegion.Size)
        {
            throw new ArgumentException($"Region sizes differ: {expectedRegion.Size} and {actualRegion.Size}.", nameof(actualRegion));
        }

        int length = expectedRegion.Width * expectedRegion.Height * 3;
        float[] first = ArrayPool<float>.Shared.Rent(length);
        float[] second = ArrayPool<float>.Shared.Rent(length);
        try
        {
            ReadLinear(expected, expectedRegion, first.AsSpan(0, length));
            ReadLinear(actual, actualRegion, second.AsSpan(0, length));
            return Compare(first.AsSpan(0, length), second.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<float>.Shared.Return(first);
            ArrayPool<float>.Shared.Return(second);
        }
    }

    /// <summary>Compares the same tiles of two equally sized images, one result per tile in order.</summary>
    public IReadOnlyList<PixelDifference> CompareTiles(Image expected, Image actual, IEnumerable<Rectangle> tiles)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(tiles);
        if (expected.Size() != actual.Size())
        {
            throw new ArgumentException($"Image sizes differ: {expected.Size()} and {actual.Size()}.", nameof(actual));
        }

        var results = new List<PixelDifference>();
        foreach (Rectangle tile in tiles)
        {
            results.Add(Compare(expected, tile, actual, tile));
        }

        return results;
    }

    /// <summary>Compares two interleaved linear RGB buffers of equal length (three values per pixel, in [0, 1]).</summary>
    public PixelDifference Compare(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        if (expected.Length != actual.Length || expected.Length % 3 != 0 || expected.Length == 0)
        {
            throw new ArgumentException("Both buffers must hold the same, non-zero number of RGB pixels.");
        }

        int pixels = expected.Length / 3;
        double sum = 0, sumOfSquares = 0;
        float max = 0;
        int beyond = 0;
        for (int i = 0; i < expected.Length; i += 3)
        {
            float r = MathF.Abs(expected[i] - actual[i]);
            float g = MathF.Abs(expected[i + 1] - actual[i + 1]);
            float b = MathF.Abs(expected[i + 2] - actual[i + 2]);
            float largest = MathF.Max(r, MathF.Max(g, b));
            max = MathF.Max(max, largest);
            sum += r + g + b;
            sumOfSquares += ((double)r * r) + ((double)g * g) + ((double)b * b);
            if (largest > Tolerance)
            {
                beyond++;
            }
        }

        double meanSquare = sumOfSquares / expected.Length;
        double psnr = meanSquare > 0 ? -10 * Math.Log10(meanSquare) : double.PositiveInfinity;
        double share = (double)beyond / pixels;
        return new PixelDifference(pixels, psnr, max, sum / expected.Length, share, share <= MaxShareBeyondTolerance);
    }

    /// <summary>A copy of one region of an image, in the same pixel format.</summary>
    public static Image Crop(Image image, Rectangle region)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckRegion(image, region, nameof(region));
        return image.Clone(c => c.Crop(region));
    }

    /// <summary>
    /// Decodes a region of an image to interleaved linear RGB in [0, 1]
    /// (<c>3 * (y * region.Width + x)</c> for pixel (x, y) of the region); alpha is ignored.
    /// </summary>
    internal static void ReadLinear(Image image, Rectangle region, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckRegion(image, region, nameof(region));
        if (destination.Length != region.Width * region.Height * 3)
        {
            throw new ArgumentException($"The destination must hold {region.Width * region.Height * 3} values.", nameof(destination));
        }

        switch (image)
        {
            case Image<Rgb24> rgb24:
                ReadLinear(rgb24, region, destination);
                break;
            case Image<Rgba32> rgba32:
                ReadLinear(rgba32, region, destination);
                break;
            case Image<Rgb48> rgb48:
                ReadLinear(rgb48, region, destination);
                break;
            case Image<Rgba64> rgba64:
                ReadLinear(rgba64, region, destination);
                break;
            case Image<RgbaVector> vectors:
                ReadLinear(vectors, region, destination);
                break;
            default:
                using (Image<RgbaVector> converted = image.CloneAs<RgbaVector>())
                {
                    ReadLinear(converted, region, destination);
                }

                break;
        }
    }

    private static void ReadLinear<TPixel>(Image<TPixel> image, Rectangle region, Span<float> destination)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        Vector4[] row = ArrayPool<Vector4>.Shared.Rent(region.Width);
        try
        {
            Span<Vector4> vectors = row.AsSpan(0, region.Width);
            for (int y = 0; y < region.Height; y++)
            {
                Span<TPixel> source = image.DangerousGetPixelRowMemory(region.Y + y).Span.Slice(region.X, region.Width);
                PixelOperations<TPixel>.Instance.ToVector4(image.GetConfiguration(), source, vectors);
                Span<float> target = destination.Slice(y * region.Width * 3, region.Width * 3);
                for (int x = 0; x < vectors.Length; x++)
                {
                    Vector4 v = vectors[x];
                    target[x * 3] = ToneMapper.SrgbToLinear(v.X);
                    target[(x * 3) + 1] = ToneMapper.SrgbToLinear(v.Y);
                    target[(x * 3) + 2] = ToneMapper.SrgbToLinear(v.Z);
                }
            }
        }
        finally
        {
            ArrayPool<Vector4>.Shared.Return(row);
        }
    }

    private static void CheckRegion(Image image, Rectangle region, string name)
    {
        if (region.Width < 1 || region.Height < 1 || !image.Bounds().Contains(region))
        {
            throw new ArgumentOutOfRangeException(name, region, $"The region must be non-empty and lie inside the {image.Width}x{image.Height} image.");
        }
    }
}
