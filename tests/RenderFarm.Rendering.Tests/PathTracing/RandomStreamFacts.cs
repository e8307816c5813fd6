using RenderFarm.Rendering.PathTracing;

namespace RenderFarm.Rendering.Tests.PathTracing;

public class RandomStreamFacts
{
    [Fact]
    public void Hash_MatchesThePublishedPcgHash()
    {
        // Values from an independent implementation of Jarzynski & Olano's pcg_hash.
        Assert.Equal(129708002u, RandomStream.Hash(0));
        Assert.Equal(2831084092u, RandomStream.Hash(1));
        Assert.Equal(4272394698u, RandomStream.Hash(123456789));
    }

    [Theory]
    [InlineData(0u, 1u, 0u, 0u, 0.8947438597679138f, 0.8084303140640259f, 0.7812252044677734f)]
    [InlineData(42u, 7u, 1000u, 63u, 0.9090851545333862f, 0.41463184356689453f, 0.6734249591827393f)]
    public void Stream_IsAFunctionOfSeedFramePixelAndSample(uint seed, uint frame, uint pixel, uint sample, float first, float second, float third)
    {
        var stream = new RandomStream(seed, frame, pixel, sample);

        Assert.Equal(first, stream.NextFloat());
        Assert.Equal(second, stream.NextFloat());
        Assert.Equal(third, stream.NextFloat());
    }

    [Fact]
    public void Stream_ChangesWithEveryInput()
    {
        float reference = new RandomStream(1, 2, 3, 4).NextFloat();

        Assert.NotEqual(reference, new RandomStream(9, 2, 3, 4).NextFloat());
        Assert.NotEqual(reference, new RandomStream(1, 9, 3, 4).NextFloat());
        Assert.NotEqual(reference, new RandomStream(1, 2, 9, 4).NextFloat());
        Assert.NotEqual(reference, new RandomStream(1, 2, 3, 9).NextFloat());
    }

    [Fact]
    public void FirstNumbersOfNeighbouringPixels_AreUniform()
    {
        const int Draws = 100_000, Bins = 20;
        var counts = new int[Bins];
        for (uint pixel = 0; pixel < Draws; pixel++)
        {
            float value = new RandomStream(7, 1, pixel, 0).NextFloat();
            Assert.InRange(value, 0f, 0.99999994f);
            counts[(int)(value * Bins)]++;
        }

        // Chi-square with 19 degrees of freedom: 43.8 is the 0.999 quantile.
        double expected = (double)Draws / Bins;
        double chiSquare = counts.Sum(c => (c - expected) * (c - expected) / expected);
        Assert.True(chiSquare < 43.8, $"chi-square {chiSquare:F1} over {Bins} bins");
    }

    [Fact]
    public void SuccessiveNumbers_AreUncorrelated()
    {
        const int Pairs = 50_000;
        double sumXy = 0, sumX = 0, sumY = 0, sumXx = 0, sumYy = 0;
        for (uint sample = 0; sample < Pairs; sample++)
        {
            var stream = new RandomStream(3, 5, 11, sample);
            double x = stream.NextFloat(), y = stream.NextFloat();
            sumX += x;
            sumY += y;
            sumXy += x * y;
            sumXx += x * x;
            sumYy += y * y;
        }

        double covariance = (sumXy / Pairs) - (sumX / Pairs * (sumY / Pairs));
        double correlation = covariance / Math.Sqrt(((sumXx / Pairs) - Math.Pow(sumX / Pairs, 2)) * ((sumYy / Pairs) - Math.Pow(sumY / Pairs, 2)));
        Assert.InRange(correlation, -0.02, 0.02);
    }
}
