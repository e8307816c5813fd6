using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Tests.Imaging;

/// <summary>The denoiser on synthetic frames whose true values are known: it removes noise, and stops at edges.</summary>
public class DenoiserFacts
{
    private const int Width = 64, Height = 32;

    [Fact]
    public void GeometricEdge_StaysSharp_WhileNoiseGoes()
    {
        // Left: a dim wall facing the camera at depth 2; right: a bright wall at depth 6 facing sideways.
        (HdrImage truth, FrameAovs aovs) = Scene((x, _) => x < Width / 2 ? 0.2f : 1.0f, (x, _) => 0.8f, x => x < Width / 2);
        HdrImage noisy = AddNoise(truth, 0.5f, seed: 3);

        HdrImage denoised = Denoiser.Denoise(noisy, aovs);

        double before = DenoiseMetrics.RelativeMse(noisy, truth), after = DenoiseMetrics.RelativeMse(denoised, truth);
        Assert.True(after < before / 8, $"relative MSE {before:F5} -> {after:F5}");
        // The two columns beside the edge keep their own side's value: no bleeding of 1.0 into 0.2 or back.
        foreach (int x in (int[])[(Width / 2) - 1, Width / 2])
        {
            double mean = Enumerable.Range(0, Height).Average(y => denoised.Pixels[((y * Width) + x) * 3]);
            double expected = truth.Pixels[x * 3];
            Assert.True(Math.Abs(mean - expected) < 0.1 * expected, $"column {x}: mean {mean:F3}, true {expected:F3}");
        }

        // A plain blur of the same footprint would bleed: the edge-stopping weights are what keeps it.
        double blurredEdge = Enumerable.Range(0, Height).Average(y => BoxBlur(noisy, (Width / 2) - 1, y, 4));
        Assert.True(blurredEdge > 0.3, $"a box blur gives {blurredEdge:F3} beside the edge");
    }

    [Fact]
    public void AlbedoTexture_IsKept_ByDemodulation()
    {
        // One flat wall under even light with a checkerboard texture: irradiance 0.5 everywhere.
        (HdrImage truth, FrameAovs aovs) = Scene((_, _) => 0.5f, (x, y) => ((x / 2) + (y / 2)) % 2 == 0 ? 0.9f : 0.1f, _ => true);
        HdrImage noisy = AddNoise(truth, 0.5f, seed: 5);

        HdrImage denoised = Denoiser.Denoise(noisy, aovs);

        double before = DenoiseMetrics.RelativeMse(noisy, truth), after = DenoiseMetrics.RelativeMse(denoised, truth);
        Assert.True(after < before / 8, $"relative MSE {before:F5} -> {after:F5}");
        double contrast = Enumerable.Range(0, Width * Height).Average(p => Math.Abs(denoised.Pixels[p * 3] - truth.Pixels[p * 3]) / truth.Pixels[p * 3]);
        Assert.True(contrast < 0.1, $"mean relative error on the checkerboard {contrast:F3}");
    }

    [Fact]
    public void Emission_PassesThroughUnfiltered()
    {
        (HdrImage truth, FrameAovs aovs) = Scene((_, _) => 0.3f, (_, _) => 0.5f, _ => true);
        // As in a render, the first hit's emission carries no noise; the light reflected there does.
        HdrImage noisy = AddNoise(truth, 0.3f, seed: 9);
        int light = (5 * Width) + 7;
        for (int c = 0; c < 3; c++)
        {
            aovs.Emission[(light * 3) + c] = 50f;
            noisy.Pixels[(light * 3) + c] += 50f;
        }

        HdrImage denoised = Denoiser.Denoise(noisy, aovs);

        Assert.InRange(denoised.Pixels[light * 3], 50.1f, 50.2f); // 50 + 0.15
        Assert.InRange(denoised.Pixels[(light + 1) * 3], 0.12f, 0.18f); // 0.3 × 0.5: the neighbour gets none of the light
    }

    [Fact]
    public void MismatchedAovsOrOptions_AreRefused()
    {
        (HdrImage truth, _) = Scene((_, _) => 0.3f, (_, _) => 0.5f, _ => true);
        Assert.Throws<ArgumentException>(() => Denoiser.Denoise(truth, new FrameAovs(Width, Height + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Denoiser.Denoise(truth, new FrameAovs(Width, Height), new DenoiseOptions(Iterations: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Denoiser.Denoise(truth, new FrameAovs(Width, Height), new DenoiseOptions(SigmaLuminance: float.NaN)));
    }

    // A frame of two walls split at `left`: radiance and albedo per pixel, normals and depths per wall.
    private static (HdrImage Truth, FrameAovs Aovs) Scene(Func<int, int, float> irradiance, Func<int, int, float> albedo, Func<int, bool> left)
    {
        var truth = new HdrImage(Width, Height);
        var aovs = new FrameAovs(Width, Height);
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                int p = (y * Width) + x;
                float a = albedo(x, y);
                for (int c = 0; c < 3; c++)
                {
                    truth.Pixels[(p * 3) + c] = irradiance(x, y) * a;
                    aovs.Albedo[(p * 3) + c] = a;
                }

                aovs.Normal[(p * 3) + (left(x) ? 2 : 0)] = 1f;
                aovs.Depth[p] = left(x) ? 2f : 6f;
                aovs.Coverage[p] = 1f;
            }
        }

        return (truth, aovs);
    }

    // Multiplicative Gaussian noise of relative deviation `deviation`, seeded.
    private static HdrImage AddNoise(HdrImage truth, float deviation, int seed)
    {
        var random = new Random(seed);
        var noisy = new HdrImage(truth.Width, truth.Height);
        for (int i = 0; i < truth.Pixels.Length; i++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            noisy.Pixels[i] = (float)Math.Max(0, truth.Pixels[i] * (1 + (deviation * gaussian)));
        }

        return noisy;
    }

    private static double BoxBlur(HdrImage image, int x, int y, int radius)
    {
        double sum = 0;
        int count = 0;
        for (int qx = Math.Max(0, x - radius); qx <= Math.Min(image.Width - 1, x + radius); qx++)
        {
            sum += image.Pixels[((y * image.Width) + qx) * 3];
            count++;
        }

        return sum / count;
    }
}
