namespace RenderFarm.Rendering.Imaging;

/// <summary>How far an image is from a reference, as denoising papers measure it.</summary>
public static class DenoiseMetrics
{
    /// <summary>
    /// Relative mean squared error: the mean over pixels and channels of (a − r)² / (r² + 0.01), which weighs errors
    /// in dark regions as much as in bright ones (Rousselle et al. 2011, and most denoising papers since).
    /// </summary>
    public static double RelativeMse(HdrImage image, HdrImage reference)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(reference);
        if (image.Width != reference.Width || image.Height != reference.Height)
        {
            throw new ArgumentException("Images must have the same size.", nameof(reference));
        }

        double sum = 0;
        for (int i = 0; i < image.Pixels.Length; i++)
        {
            double r = reference.Pixels[i], d = image.Pixels[i] - r;
            sum += d * d / ((r * r) + 0.01);
        }

        return sum / image.Pixels.Length;
    }
}
