using System.Numerics;
using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Verification;

/// <summary>
/// Perceptual hashes of whole frames. Both hashes start from the same reduction: the image is box-filtered
/// to 32×32 by ImageSharp and each pixel becomes its linear-light luminance (Rec. 709 weights after the
/// sRGB transfer function is undone).
/// <list type="bullet">
/// <item><description>pHash: the orthonormal 2-D DCT-II of the 32×32 luminance; the 8×8 coefficients of
/// frequencies 1…8 in both directions (the lowest block, leaving out the DC row and column) are compared with
/// their median; bit <c>(v - 1) * 8 + (u - 1)</c> is set when coefficient (v, u) lies above it.</description></item>
/// <item><description>dHash: the 32×32 luminance box-filtered further to 9×8; bit <c>y * 8 + x</c> is set when
/// pixel (x + 1, y) is brighter than pixel (x, y).</description></item>
/// </list>
/// Similar images have hashes a small <see cref="HammingDistance"/> apart. A whole-frame hash deliberately
/// ignores noise, so it cannot tell an honest render from a cheaper or neighbouring one; pixel spot checks
/// (<see cref="PixelComparison"/>) do that.
/// </summary>
public static class PerceptualHash
{
    private const int ReducedSize = Dct.Size;
    private const int HashSide = 8;
    private const int DHashWidth = HashSide + 1;

    /// <summary>The number of bits in which two hashes differ.</summary>
    public static int HammingDistance(ulong first, ulong second) => BitOperations.PopCount(first ^ second);

    /// <summary>Hashes an image of any pixel format; the image is left unchanged.</summary>
    public static ImageHashes Compute(Image image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using Image reduced = image.Clone(Reduce);
        return ComputeReduced(reduced);
    }

    /// <summary>Decodes an image (PNG or any format ImageSharp reads) from <paramref name="stream"/> and hashes it.</summary>
    public static ImageHashes Compute(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using Image image = Image.Load(stream);
        image.Mutate(Reduce);
        return ComputeReduced(image);
    }

    /// <summary>Decodes the image file at <paramref name="path"/> and hashes it.</summary>
    public static ImageHashes Compute(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using FileStream stream = File.OpenRead(path);
        return Compute(stream);
    }

    /// <summary>The pHash of a row-major 32×32 luminance block.</summary>
    internal static ulong PHashOfLuminance(ReadOnlySpan<float> luminance)
    {
        const int Kept = HashSide + 1;
        Span<double> coefficients = stackalloc double[Kept * Kept];
        Dct.ForwardTopLeft(luminance, Kept, coefficients);

        Span<double> block = stackalloc double[HashSide * HashSide];
        for (int v = 1; v < Kept; v++)
        {
            coefficients.Slice((v * Kept) + 1, HashSide).CopyTo(block.Slice((v - 1) * HashSide, HashSide));
        }

        Span<double> sorted = stackalloc double[HashSide * HashSide];
        block.CopyTo(sorted);
        sorted.Sort();
        double median = (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;

        ulong hash = 0;
        for (int i = 0; i < block.Length; i++)
        {
            if (block[i] > median)
            {
                hash |= 1UL << i;
            }
        }

        return hash;
    }

    /// <summary>The dHash of a row-major 9×8 luminance block.</summary>
    internal static ulong DHashOfLuminance(ReadOnlySpan<float> luminance)
    {
        if (luminance.Length != DHashWidth * HashSide)
        {
            throw new ArgumentException($"The block must hold {DHashWidth}×{HashSide} values.", nameof(luminance));
        }

        ulong hash = 0;
        for (int y = 0; y < HashSide; y++)
        {
            ReadOnlySpan<float> row = luminance.Slice(y * DHashWidth, DHashWidth);
            for (int x = 0; x < HashSide; x++)
            {
                if (row[x + 1] > row[x])
                {
                    hash |= 1UL << ((y * HashSide) + x);
                }
            }
        }

        return hash;
    }

    private static void Reduce(IImageProcessingContext context) =>
        context.Resize(ReducedSize, ReducedSize, KnownResamplers.Box);

    private static ImageHashes ComputeReduced(Image reduced)
    {
        // Working in RgbaVector keeps the second reduction free of 8-bit rounding.
        using Image<RgbaVector> vectors = reduced.CloneAs<RgbaVector>();
        Span<float> luminance = stackalloc float[ReducedSize * ReducedSize];
        ReadLuminance(vectors, luminance);
        ulong pHash = PHashOfLuminance(luminance);

        vectors.Mutate(c => c.Resize(DHashWidth, HashSide, KnownResamplers.Box));
        Span<float> small = stackalloc float[DHashWidth * HashSide];
        ReadLuminance(vectors, small);
        return new ImageHashes(pHash, DHashOfLuminance(small));
    }

    private static void ReadLuminance(Image<RgbaVector> image, Span<float> destination)
    {
        int width = image.Width;
        for (int y = 0; y < image.Height; y++)
        {
            Span<RgbaVector> row = image.DangerousGetPixelRowMemory(y).Span;
            Span<float> target = destination.Slice(y * width, width);
            for (int x = 0; x < width; x++)
            {
                RgbaVector p = row[x];
                target[x] = (0.2126f * ToneMapper.SrgbToLinear(p.R))
                    + (0.7152f * ToneMapper.SrgbToLinear(p.G))
                    + (0.0722f * ToneMapper.SrgbToLinear(p.B));
            }
        }
    }
}
