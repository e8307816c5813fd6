namespace RenderFarm.Rendering.Imaging;

/// <summary>
/// Noise of a render against a converged reference of the same renderer, and the time a renderer needs to reach
/// a given noise, so renderers are compared at equal quality rather than at equal samples per pixel.
/// </summary>
public static class NoiseMetrics
{
    /// <summary>Keeps dark pixels from dominating the relative error (the usual relMSE regulariser).</summary>
    public const double Epsilon = 0.01;

    /// <summary>
    /// Relative mean squared error: the mean over pixels and channels of (x - r)² / (r² + <see cref="Epsilon"/>).
    /// Non-finite values count as an error of 1 (they are noise a renderer did not tame, not a reason to fail).
    /// </summary>
    /// <exception cref="ArgumentException">The images differ in size.</exception>
    public static double RelativeMse(HdrImage image, HdrImage reference)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(reference);
        if (image.Width != reference.Width || image.Height != reference.Height)
        {
            throw new ArgumentException(
                $"The image is {image.Width}x{image.Height} but the reference is {reference.Width}x{reference.Height}.", nameof(image));
        }

        double sum = 0;
        for (int i = 0; i < image.Pixels.Length; i++)
        {
            double r = reference.Pixels[i];
            double d = image.Pixels[i] - r;
            double term = d * d / ((r * r) + Epsilon);
            sum += double.IsFinite(term) ? term : 1;
        }

        return sum / image.Pixels.Length;
    }

    /// <summary>
    /// Share of <see cref="RelativeMse"/> carried by the worst <paramref name="fraction"/> of pixel channels (at least
    /// one): near 1 when rare outliers (fireflies) make the error, near <paramref name="fraction"/> when the noise is even.
    /// 0 when the images are equal.
    /// </summary>
    /// <exception cref="ArgumentException">The images differ in size.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is not in (0, 1].</exception>
    public static double WorstShare(HdrImage image, HdrImage reference, double fraction)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fraction);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fraction, 1);
        double total = RelativeMse(image, reference) * image.Pixels.Length;
        if (!(total > 0))
        {
            return 0;
        }

        var terms = new double[image.Pixels.Length];
        for (int i = 0; i < terms.Length; i++)
        {
            double r = reference.Pixels[i];
            double d = image.Pixels[i] - r;
            double term = d * d / ((r * r) + Epsilon);
            terms[i] = double.IsFinite(term) ? term : 1;
        }

        Array.Sort(terms);
        int count = Math.Max(1, (int)(terms.Length * fraction));
        double worst = 0;
        for (int i = terms.Length - count; i < terms.Length; i++)
        {
            worst += terms[i];
        }

        return worst / total;
    }

    /// <summary>
    /// The samples per pixel at which a renderer's error reaches <paramref name="targetError"/>, interpolated linearly
    /// on the log-log curve of its (samples, error) points, or extrapolated along the nearest segment outside them
    /// (Monte Carlo error falls as a power of the sample count, so the curve is close to a line there).
    /// </summary>
    /// <returns>The sample count, or NaN when fewer than two usable points are given or the curve does not fall.</returns>
    public static double SamplesToError(IReadOnlyList<(double Samples, double Error)> points, double targetError)
    {
        ArgumentNullException.ThrowIfNull(points);
        (double X, double Y)[] logs = points
            .Where(p => p.Samples > 0 && p.Error > 0 && double.IsFinite(p.Samples) && double.IsFinite(p.Error))
            .Select(p => (Math.Log(p.Samples), Math.Log(p.Error)))
            .OrderBy(p => p.Item1)
            .ToArray();
        if (logs.Length < 2 || !(targetError > 0) || !double.IsFinite(targetError))
        {
            return double.NaN;
        }

        double y = Math.Log(targetError);

        // The segment whose error range holds the target, else the end segment on the target's side.
        int segment = -1;
        for (int i = 0; i + 1 < logs.Length; i++)
        {
            if (y <= Math.Max(logs[i].Y, logs[i + 1].Y) && y >= Math.Min(logs[i].Y, logs[i + 1].Y))
            {
                segment = i;
                break;
            }
        }

        if (segment < 0)
        {
            segment = y > logs[0].Y ? 0 : logs.Length - 2;
        }

        (double x0, double y0) = logs[segment];
        (double x1, double y1) = logs[segment + 1];
        return y1 < y0 ? Math.Exp(x0 + ((y - y0) * (x1 - x0) / (y1 - y0))) : double.NaN;
    }

    /// <summary>
    /// The time a render of <paramref name="samples"/> samples per pixel takes, from a least-squares line through
    /// measured (samples, seconds) points: a fixed cost per frame (scene and BVH set-up) plus a cost per sample. A line
    /// fitted to all points is steadier than neighbouring points on a busy machine, where short renders jitter.
    /// </summary>
    /// <returns>The time in seconds, or NaN for fewer than two distinct sample counts.</returns>
    public static double TimeAt(IReadOnlyList<(double Samples, double Seconds)> points, double samples)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Select(p => p.Samples).Distinct().Count() < 2 || !double.IsFinite(samples))
        {
            return double.NaN;
        }

        double meanX = points.Average(p => p.Samples);
        double meanY = points.Average(p => p.Seconds);
        double covariance = points.Sum(p => (p.Samples - meanX) * (p.Seconds - meanY));
        double variance = points.Sum(p => (p.Samples - meanX) * (p.Samples - meanX));
        double slope = covariance / variance;
        if (!(slope > 0))
        {
            // Timing noise swamped the per-sample cost: scale the mean time by the sample count instead.
            return meanY * samples / meanX;
        }

        double intercept = Math.Max(meanY - (slope * meanX), 0);
        return intercept + (slope * samples);
    }
}
