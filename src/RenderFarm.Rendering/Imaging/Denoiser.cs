namespace RenderFarm.Rendering.Imaging;

/// <summary>How strongly the <see cref="Denoiser"/> smooths, and which differences stop it.</summary>
/// <param name="Iterations">À-trous passes; pass i reaches 2^(i+1) pixels, so 5 passes cover a 61-pixel footprint.</param>
/// <param name="SigmaLuminance">Luminance differences stop the filter beyond this many standard deviations of the local noise.</param>
/// <param name="SigmaNormal">Exponent on the cosine between two shading normals.</param>
/// <param name="SigmaDepth">Depth differences stop the filter beyond this many times what the local depth slope explains.</param>
public sealed record DenoiseOptions(int Iterations = 5, float SigmaLuminance = 4f, float SigmaNormal = 128f, float SigmaDepth = 1f)
{
    /// <summary>Refuses settings outside what the filter is built for.</summary>
    public void Validate()
    {
        if (Iterations is < 1 or > 8 || !(SigmaLuminance > 0 && SigmaLuminance <= 1e3f) || !(SigmaNormal >= 0 && SigmaNormal <= 1e4f)
            || !(SigmaDepth > 0 && SigmaDepth <= 1e3f))
        {
            throw new ArgumentOutOfRangeException(nameof(Iterations), "Denoise options out of range: 1-8 iterations and positive, bounded sigmas.");
        }
    }
}

/// <summary>
/// An edge-aware denoiser for a single path-traced frame, guided by its first-hit AOVs: the spatial part of SVGF
/// (Schied et al., "Spatiotemporal Variance-Guided Filtering", HPG 2017) without the temporal part. The colour is split
/// into first-hit emission (noise-free, from the AOVs) and the rest, which is demodulated by the albedo so texture
/// detail is not blurred; the resulting irradiance is filtered by an edge-avoiding à-trous wavelet (Dammertz et
/// al. 2010) whose weights fall with normal, depth and luminance differences, the last scaled by the local noise
/// estimated from the frame itself; then albedo and emission are put back.
/// </summary>
/// <remarks>
/// Runs on the client after the farm has verified the noisy frame: the denoised frame is never compared or stored.
/// Its cost is linear in the pixels: 25 taps per pass, in parallel over rows.
/// </remarks>
public static class Denoiser
{
    private const float AlbedoFloor = 0.01f;
    private static readonly float[] s_kernel = [1f / 16, 1f / 4, 3f / 8, 1f / 4, 1f / 16];

    /// <summary>Denoises <paramref name="noisy"/> guided by <paramref name="aovs"/> of the same frame.</summary>
    /// <exception cref="ArgumentException">The AOVs are of another size.</exception>
    public static HdrImage Denoise(HdrImage noisy, FrameAovs aovs, DenoiseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(noisy);
        ArgumentNullException.ThrowIfNull(aovs);
        options ??= new DenoiseOptions();
        options.Validate();
        if (aovs.Width != noisy.Width || aovs.Height != noisy.Height)
        {
            throw new ArgumentException($"AOVs of {aovs.Width}x{aovs.Height} do not match the {noisy.Width}x{noisy.Height} frame.", nameof(aovs));
        }

        int width = noisy.Width, height = noisy.Height, pixels = width * height;
        var guide = new Guide(aovs, options);

        // Demodulate: irradiance = (colour - emission) / albedo, channel by channel.
        var irradiance = new float[pixels * 3];
        var divisor = new float[pixels * 3];
        for (int i = 0; i < pixels * 3; i++)
        {
            float albedo = aovs.Albedo[i];
            divisor[i] = albedo > AlbedoFloor ? albedo : 1f;
            irradiance[i] = Finite(noisy.Pixels[i] - aovs.Emission[i]) / divisor[i];
        }

        float[] variance = EstimateVariance(irradiance, guide, width, height);
        var nextIrradiance = new float[pixels * 3];
        var nextVariance = new float[pixels];
        var blurred = new float[pixels];
        for (int pass = 0; pass < options.Iterations; pass++)
        {
            BlurVariance(variance, blurred, width, height);
            Pass(irradiance, variance, blurred, nextIrradiance, nextVariance, guide, width, height, 1 << pass);
            (irradiance, nextIrradiance) = (nextIrradiance, irradiance);
            (variance, nextVariance) = (nextVariance, variance);
        }

        var result = new HdrImage(width, height);
        for (int i = 0; i < pixels * 3; i++)
        {
            result.Pixels[i] = (irradiance[i] * divisor[i]) + aovs.Emission[i];
        }

        return result;
    }

    // Linear luminance (Rec. 709).
    private static float Luminance(float[] rgb, int pixel) =>
        (0.2126f * rgb[pixel * 3]) + (0.7152f * rgb[(pixel * 3) + 1]) + (0.0722f * rgb[(pixel * 3) + 2]);

    private static float Finite(float value) => float.IsFinite(value) ? value : 0f;

    // The luminance variance of each pixel's irradiance over a 7×7 neighbourhood of the same surface: a single frame
    // has no history to estimate it from, so SVGF's spatial estimate stands in for it.
    private static float[] EstimateVariance(float[] irradiance, Guide guide, int width, int height)
    {
        var variance = new float[width * height];
        Parallel.For(0, height, y =>
        {
            for (int x = 0; x < width; x++)
            {
                int p = (y * width) + x;
                double sum = 0, squares = 0, weights = 0;
                for (int dy = -3; dy <= 3; dy++)
                {
                    int qy = y + dy;
                    if (qy < 0 || qy >= height)
                    {
                        continue;
                    }

                    for (int dx = -3; dx <= 3; dx++)
                    {
                        int qx = x + dx;
                        if (qx < 0 || qx >= width)
                        {
                            continue;
                        }

                        int q = (qy * width) + qx;
                        float w = guide.Weight(p, q, dx, dy);
                        float l = Luminance(irradiance, q);
                        sum += w * l;
                        squares += w * l * l;
                        weights += w;
                    }
                }

                double mean = sum / weights;
                variance[p] = (float)Math.Max(0, (squares / weights) - (mean * mean));
            }
        });
        return variance;
    }

    // A 3×3 Gaussian of the variance steadies the luminance weight, as SVGF does before each pass.
    private static void BlurVariance(float[] variance, float[] blurred, int width, int height)
    {
        Parallel.For(0, height, y =>
        {
            for (int x = 0; x < width; x++)
            {
                float sum = 0, weights = 0;
                for (int dy = -1; dy <= 1; dy++)
                {
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int qx = x + dx, qy = y + dy;
                        if (qx >= 0 && qx < width && qy >= 0 && qy < height)
                        {
                            float w = (dx == 0 ? 0.5f : 0.25f) * (dy == 0 ? 0.5f : 0.25f);
                            sum += w * variance[(qy * width) + qx];
                            weights += w;
                        }
                    }
                }

                blurred[(y * width) + x] = sum / weights;
            }
        });
    }

    private static void Pass(
        float[] irradiance, float[] variance, float[] blurred, float[] outIrradiance, float[] outVariance, Guide guide, int width, int height, int step)
    {
        float sigmaLuminance = guide.Options.SigmaLuminance;
        Parallel.For(0, height, y =>
        {
            for (int x = 0; x < width; x++)
            {
                int p = (y * width) + x;
                float lp = Luminance(irradiance, p);
                float scale = 1f / ((sigmaLuminance * MathF.Sqrt(blurred[p])) + 1e-6f);
                float r = 0, g = 0, b = 0, v = 0, weights = 0;
                for (int ky = 0; ky < 5; ky++)
                {
                    int dy = (ky - 2) * step, qy = y + dy;
                    if (qy < 0 || qy >= height)
                    {
                        continue;
                    }

                    for (int kx = 0; kx < 5; kx++)
                    {
                        int dx = (kx - 2) * step, qx = x + dx;
                        if (qx < 0 || qx >= width)
                        {
                            continue;
                        }

                        int q = (qy * width) + qx;
                        float w = s_kernel[kx] * s_kernel[ky] * guide.Weight(p, q, dx, dy);
                        if (q != p)
                        {
                            w *= MathF.Exp(-MathF.Abs(lp - Luminance(irradiance, q)) * scale);
                        }

                        r += w * irradiance[q * 3];
                        g += w * irradiance[(q * 3) + 1];
                        b += w * irradiance[(q * 3) + 2];
                        v += w * w * variance[q];
                        weights += w;
                    }
                }

                // The centre tap always has weight, so weights > 0.
                outIrradiance[p * 3] = r / weights;
                outIrradiance[(p * 3) + 1] = g / weights;
                outIrradiance[(p * 3) + 2] = b / weights;
                outVariance[p] = v / (weights * weights);
            }
        });
    }

    // The geometric edge-stopping weights between two pixels: normals, depth and surface versus background.
    private sealed class Guide
    {
        private readonly FrameAovs _aovs;
        private readonly float[] _slopeX;
        private readonly float[] _slopeY;

        public Guide(FrameAovs aovs, DenoiseOptions options)
        {
            _aovs = aovs;
            Options = options;
            int width = aovs.Width, height = aovs.Height;
            _slopeX = new float[width * height];
            _slopeY = new float[width * height];
            float[] z = aovs.Depth;
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    int p = (y * width) + x;
                    // The smaller one-sided difference: a depth edge next to a pixel does not widen its slope.
                    _slopeX[p] = Slope(z, p, x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1);
                    _slopeY[p] = Slope(z, p, y > 0 ? p - width : -1, y < height - 1 ? p + width : -1);
                }
            }
        }

        public DenoiseOptions Options { get; }

        public float Weight(int p, int q, int dx, int dy)
        {
            if (p == q)
            {
                return 1f;
            }

            bool surfaceP = _aovs.Coverage[p] > 0, surfaceQ = _aovs.Coverage[q] > 0;
            if (surfaceP != surfaceQ)
            {
                return 0f;
            }

            if (!surfaceP)
            {
                return 1f;
            }

            float[] n = _aovs.Normal;
            float cosine = (n[p * 3] * n[q * 3]) + (n[(p * 3) + 1] * n[(q * 3) + 1]) + (n[(p * 3) + 2] * n[(q * 3) + 2]);
            float normalWeight = cosine > 0 ? MathF.Pow(MathF.Min(cosine, 1f), Options.SigmaNormal) : 0f;
            float zp = _aovs.Depth[p];
            float expected = (Options.SigmaDepth * ((MathF.Abs(dx) * _slopeX[p]) + (MathF.Abs(dy) * _slopeY[p]))) + (1e-3f * zp);
            float depthWeight = MathF.Exp(-MathF.Abs(zp - _aovs.Depth[q]) / expected);
            return normalWeight * depthWeight;
        }

        private static float Slope(float[] z, int p, int before, int after)
        {
            float a = before >= 0 ? MathF.Abs(z[p] - z[before]) : float.MaxValue;
            float b = after >= 0 ? MathF.Abs(z[p] - z[after]) : float.MaxValue;
            float slope = MathF.Min(a, b);
            return slope == float.MaxValue ? 0f : slope;
        }
    }
}
