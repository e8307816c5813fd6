using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// Structural comparison of two renders of the same view: both are reduced to small linear-luminance
/// images (which averages away sampling noise) and compared by SSIM and by mean brightness.
/// </summary>
public static class ImageSimilarity
{
    /// <summary>Side of the reduced images.</summary>
    public const int ReducedSize = 64;

    /// <summary>Loads an 8- or 16-bit sRGB image as linear luminance resized to <paramref name="size"/>².</summary>
    public static float[] LoadLuminance(string path, int size = ReducedSize)
    {
        using Image<RgbaVector> image = Image.Load<RgbaVector>(path);
        image.Mutate(c => c.Resize(size, size, KnownResamplers.Box));
        var luminance = new float[size * size];
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<RgbaVector> row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    RgbaVector p = row[x];
                    luminance[(y * size) + x] =
                        (0.2126f * ToneMapper.SrgbToLinear(p.R)) + (0.7152f * ToneMapper.SrgbToLinear(p.G)) + (0.0722f * ToneMapper.SrgbToLinear(p.B));
                }
            }
        });
        return luminance;
    }

    /// <summary>Mean SSIM (Wang et al. 2004) over 8×8 windows with stride 4, for values in [0, 1].</summary>
    public static double Ssim(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int width)
    {
        if (a.Length != b.Length || a.Length % width != 0)
        {
            throw new ArgumentException("Images must have the same size.");
        }

        const int Window = 8, Stride = 4;
        const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
        int height = a.Length / width;
        double total = 0;
        int windows = 0;
        for (int y0 = 0; y0 + Window <= height; y0 += Stride)
        {
            for (int x0 = 0; x0 + Window <= width; x0 += Stride)
            {
                double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
                for (int y = y0; y < y0 + Window; y++)
                {
                    for (int x = x0; x < x0 + Window; x++)
                    {
                        double va = a[(y * width) + x], vb = b[(y * width) + x];
                        sa += va;
                        sb += vb;
                        saa += va * va;
                        sbb += vb * vb;
                        sab += va * vb;
                    }
                }

                const double N = Window * Window;
                double ma = sa / N, mb = sb / N;
                double va2 = (saa / N) - (ma * ma), vb2 = (sbb / N) - (mb * mb), cov = (sab / N) - (ma * mb);
                total += ((2 * ma * mb) + C1) * ((2 * cov) + C2) / (((ma * ma) + (mb * mb) + C1) * (va2 + vb2 + C2));
                windows++;
            }
        }

        return total / windows;
    }

    /// <summary>
    /// Compares two renders of one view: SSIM of their reduced luminance after scaling the first to
    /// the second's mean brightness, and the ratio of the mean brightnesses (first / second).
    /// </summary>
    public static (double Ssim, double BrightnessRatio) CompareRenders(string firstPath, string secondPath, int size = ReducedSize)
    {
        float[] first = LoadLuminance(firstPath, size);
        float[] second = LoadLuminance(secondPath, size);
        double ratio = Mean(first) / Mean(second);
        var scaled = new float[first.Length];
        for (int i = 0; i < first.Length; i++)
        {
            scaled[i] = (float)(first[i] / ratio);
        }

        return (Ssim(scaled, second, size), ratio);
    }

    /// <summary>Mean of the values.</summary>
    public static double Mean(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float value in values)
        {
            sum += value;
        }

        return sum / values.Length;
    }
}
