using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Verification.Tests;

public class PerceptualHashFacts
{
    [Fact]
    public void HammingDistance_IsAMetricOnBits()
    {
        var random = new Random(17);
        for (int i = 0; i < 1000; i++)
        {
            ulong a = NextUInt64(random), b = NextUInt64(random), c = NextUInt64(random);
            int bit = random.Next(64);

            Assert.Equal(0, PerceptualHash.HammingDistance(a, a));
            Assert.Equal(64, PerceptualHash.HammingDistance(a, ~a));
            Assert.Equal(1, PerceptualHash.HammingDistance(a, a ^ (1UL << bit)));
            Assert.Equal(PerceptualHash.HammingDistance(a, b), PerceptualHash.HammingDistance(b, a));
            Assert.InRange(PerceptualHash.HammingDistance(a, b), 0, 64);
            Assert.True(PerceptualHash.HammingDistance(a, c) <= PerceptualHash.HammingDistance(a, b) + PerceptualHash.HammingDistance(b, c));
            Assert.Equal(CountBits(a ^ b), PerceptualHash.HammingDistance(a, b));
        }
    }

    [Fact]
    public void Dct_OfAConstant_IsOnlyItsDcTerm()
    {
        double[] input = Enumerable.Repeat(0.25, Dct.Size).ToArray();
        var output = new double[Dct.Size];

        Dct.Forward(input, output);

        // Orthonormal: X[0] = √(1/N) Σ x = 0.25 √32.
        Assert.Equal(0.25 * Math.Sqrt(32), output[0], 12);
        Assert.All(output.Skip(1), value => Assert.Equal(0, value, 12));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(31)]
    public void Dct_OfABasisCosine_IsOneCoefficient(int frequency)
    {
        double[] input = Enumerable.Range(0, Dct.Size).Select(n => Math.Cos(Math.PI * ((2 * n) + 1) * frequency / 64.0)).ToArray();
        var output = new double[Dct.Size];

        Dct.Forward(input, output);

        for (int u = 0; u < Dct.Size; u++)
        {
            // Σ cos² over the 32 points is 16, times √(2/32).
            Assert.Equal(u == frequency ? 4.0 : 0.0, output[u], 12);
        }
    }

    [Fact]
    public void Dct2D_MatchesTheDefinition()
    {
        var random = new Random(5);
        float[] block = Enumerable.Range(0, Dct.Size * Dct.Size).Select(_ => random.NextSingle()).ToArray();
        const int Count = 9;
        var output = new double[Count * Count];

        Dct.ForwardTopLeft(block, Count, output);

        for (int v = 0; v < Count; v++)
        {
            for (int u = 0; u < Count; u++)
            {
                double sum = 0;
                for (int y = 0; y < Dct.Size; y++)
                {
                    for (int x = 0; x < Dct.Size; x++)
                    {
                        sum += block[(y * Dct.Size) + x]
                            * Math.Cos(Math.PI * ((2 * x) + 1) * u / 64.0)
                            * Math.Cos(Math.PI * ((2 * y) + 1) * v / 64.0);
                    }
                }

                double expected = Alpha(u) * Alpha(v) * sum;
                Assert.Equal(expected, output[(v * Count) + u], 9);
            }
        }

        static double Alpha(int k) => Math.Sqrt((k == 0 ? 1.0 : 2.0) / Dct.Size);
    }

    [Fact]
    public void PHash_SetsHalfTheBits_AndIgnoresTheDcTerm()
    {
        var random = new Random(9);
        float[] luminance = Enumerable.Range(0, 32 * 32).Select(_ => random.NextSingle()).ToArray();
        ulong hash = PerceptualHash.PHashOfLuminance(luminance);

        // The median splits 64 distinct coefficients in two halves.
        Assert.Equal(32, PerceptualHash.HammingDistance(hash, 0));

        // Brightening every pixel moves only the DC coefficient.
        float[] brighter = luminance.Select(v => v + 0.5f).ToArray();
        Assert.Equal(hash, PerceptualHash.PHashOfLuminance(brighter));
    }

    [Fact]
    public void DHash_ComparesHorizontalNeighbours()
    {
        // Brightness rising to the right everywhere sets every bit; falling sets none.
        float[] rising = Enumerable.Range(0, 9 * 8).Select(i => (float)(i % 9)).ToArray();
        float[] falling = rising.Select(v => -v).ToArray();

        Assert.Equal(ulong.MaxValue, PerceptualHash.DHashOfLuminance(rising));
        Assert.Equal(0UL, PerceptualHash.DHashOfLuminance(falling));
    }

    [Fact]
    public void SimilarImages_HaveCloseHashes_AndDifferentOnesDistantHashes()
    {
        using Image<Rgb24> shapes = TestImages.Shapes(256, 192);
        using Image<Rgb24> resized = shapes.Clone(c => c.Resize(200, 150));
        using Image<Rgb24> brighter = shapes.Clone(c => c.Brightness(1.1f));
        using Image<Rgb24> jpeg = TestImages.ReencodedAsJpeg(shapes, 75);
        using Image<Rgb24> checkerboard = TestImages.Checkerboard(256, 192, 16);
        using Image<Rgb24> gradient = TestImages.Gradient(256, 192);
        ImageHashes reference = PerceptualHash.Compute(shapes);

        foreach (Image<Rgb24> similar in new[] { resized, brighter, jpeg })
        {
            (int pHash, int dHash) = reference.DistanceTo(PerceptualHash.Compute(similar));
            Assert.InRange(pHash, 0, HashComparison.DefaultMaxPHashDistance);
            Assert.InRange(dHash, 0, HashComparison.DefaultMaxDHashDistance);
        }

        foreach (Image<Rgb24> different in new[] { checkerboard, gradient, TestImages.Mirrored(shapes) })
        {
            (int pHash, _) = reference.DistanceTo(PerceptualHash.Compute(different));
            Assert.True(pHash > HashComparison.DefaultMaxPHashDistance, $"pHash distance {pHash}");
            Assert.False(new HashComparison().Matches(reference, PerceptualHash.Compute(different)));
        }
    }

    [Fact]
    public void Compute_GivesTheSameHashesFromAnImageAStreamAndAFile()
    {
        using Image<Rgb24> shapes = TestImages.Shapes(120, 90);
        using var png = new MemoryStream();
        shapes.SaveAsPng(png, new PngEncoder { ColorType = PngColorType.Rgb });
        string path = Path.Combine(Path.GetTempPath(), $"phash-{Guid.NewGuid():N}.png");
        File.WriteAllBytes(path, png.ToArray());
        try
        {
            ImageHashes fromImage = PerceptualHash.Compute(shapes);
            png.Position = 0;

            Assert.Equal(fromImage, PerceptualHash.Compute(png));
            Assert.Equal(fromImage, PerceptualHash.Compute(path));
            Assert.Equal(fromImage, PerceptualHash.Compute(TestImages.PngRoundTrip(shapes)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Compute_LeavesTheImageUnchanged()
    {
        using Image<Rgb24> shapes = TestImages.Shapes(64, 48);
        PerceptualHash.Compute(shapes);

        Assert.Equal(64, shapes.Width);
        Assert.Equal(48, shapes.Height);
    }

    [Fact]
    public void HashComparison_RejectsThresholdsOutsideTheHash()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HashComparison(-1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HashComparison(0, 65));
        Assert.True(new HashComparison(0, 0).Matches(new ImageHashes(5, 6), new ImageHashes(5, 6)));
        Assert.False(new HashComparison(0, 64).Matches(new ImageHashes(5, 6), new ImageHashes(4, 6)));
    }

    private static ulong NextUInt64(Random random) => (ulong)random.NextInt64() ^ ((ulong)random.Next(2) << 63);

    private static int CountBits(ulong value)
    {
        int count = 0;
        for (; value != 0; value >>= 1)
        {
            count += (int)(value & 1);
        }

        return count;
    }
}
