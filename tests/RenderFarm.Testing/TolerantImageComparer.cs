using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Testing;

/// <summary>The differences between two images of equal size.</summary>
/// <param name="MeanAbsoluteDifference">Mean over all channels of |a - b|, in 8-bit levels.</param>
/// <param name="BlurredMaxDifference">Largest channel difference after a 5×5 box blur of both images, in 8-bit levels.</param>
public sealed record ImageDifference(double MeanAbsoluteDifference, double BlurredMaxDifference);

/// <summary>
/// Compares a render with a reference image while allowing Monte Carlo noise and floating-point
/// rounding across drivers: the mean difference must stay small, and after a blur (which averages
/// noise away) no region may differ by much. Golden images are never regenerated to make a failing
/// comparison pass.
/// </summary>
public sealed class TolerantImageComparer(double maxMeanDifference, double maxBlurredDifference)
{
    /// <summary>Measures the differences between two images.</summary>
    public static ImageDifference Measure(Image<Rgb24> actual, Image<Rgb24> expected)
    {
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(expected);
        if (actual.Width != expected.Width || actual.Height != expected.Height)
        {
            throw new ArgumentException($"Size {actual.Width}x{actual.Height} differs from the reference's {expected.Width}x{expected.Height}.");
        }

        int width = actual.Width, height = actual.Height;
        var a = new float[width * height * 3];
        var b = new float[width * height * 3];
        Copy(actual, a);
        Copy(expected, b);
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        float[] blurredA = Blur(a, width, height), blurredB = Blur(b, width, height);
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(blurredA[i] - blurredB[i]));
        }

        return new ImageDifference(sum / a.Length, max);
    }

    /// <summary>Throws when the images differ beyond the tolerances, with the figures in the message.</summary>
    public ImageDifference Verify(Image<Rgb24> actual, Image<Rgb24> expected)
    {
        ImageDifference difference = Measure(actual, expected);
        if (difference.MeanAbsoluteDifference > maxMeanDifference || difference.BlurredMaxDifference > maxBlurredDifference)
        {
            throw new ImageMismatchException(
                $"Images differ: mean {difference.MeanAbsoluteDifference:F2} levels (allowed {maxMeanDifference}), blurred max {difference.BlurredMaxDifference:F2} levels (allowed {maxBlurredDifference}).");
        }

        return difference;
    }

    private static void Copy(Image<Rgb24> image, float[] target)
    {
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<Rgb24> row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    int i = ((y * row.Length) + x) * 3;
                    target[i] = row[x].R;
                    target[i + 1] = row[x].G;
                    target[i + 2] = row[x].B;
                }
            }
        });
    }

    private static float[] Blur(float[] source, int width, int height)
    {
        const int Radius = 2;
        var result = new float[source.Length];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    float sum = 0;
                    int count = 0;
                    for (int dy = -Radius; dy <= Radius; dy++)
                    {
                        for (int dx = -Radius; dx <= Radius; dx++)
                        {
                            int sx = x + dx, sy = y + dy;
                            if (sx >= 0 && sy >= 0 && sx < width && sy < height)
                            {
                                sum += source[(((sy * width) + sx) * 3) + c];
                                count++;
                            }
                        }
                    }

                    result[(((y * width) + x) * 3) + c] = sum / count;
                }
            }
        }

        return result;
    }
}

/// <summary>Thrown when a render differs from its reference beyond the tolerances.</summary>
public sealed class ImageMismatchException(string message) : Exception(message);
