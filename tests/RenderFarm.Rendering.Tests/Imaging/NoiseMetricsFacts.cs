using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Tests.Imaging;

public class NoiseMetricsFacts
{
    [Fact]
    public void Relative_mse_weighs_each_error_by_the_reference_brightness()
    {
        var reference = new HdrImage(2, 1);
        var image = new HdrImage(2, 1);
        Array.Fill(reference.Pixels, 1f);
        Array.Fill(image.Pixels, 1f);
        image.Pixels[0] = 2f;    // (2-1)^2 / (1 + 0.01)
        image.Pixels[5] = 1.5f;  // (1.5-1)^2 / (1 + 0.01)
        double expected = ((1.0 / 1.01) + (0.25 / 1.01)) / 6;
        Assert.Equal(expected, NoiseMetrics.RelativeMse(image, reference), 12);
        Assert.Equal(0, NoiseMetrics.RelativeMse(reference, reference));
        Assert.Throws<ArgumentException>(() => NoiseMetrics.RelativeMse(new HdrImage(1, 1), reference));
    }

    [Fact]
    public void Worst_share_tells_a_firefly_from_even_noise()
    {
        var reference = new HdrImage(10, 10);
        Array.Fill(reference.Pixels, 1f);

        // One channel of 300 off by 10, the rest off by 0.1: the worst 1 % (3 channels) hold 100 / (100 + 2 * 0.01) of
        // the squared error plus their own 0.01 each.
        var firefly = new HdrImage(10, 10);
        Array.Fill(firefly.Pixels, 1.1f);
        firefly.Pixels[42] = 11f;
        double one = 0.1 * 0.1;
        double expected = (100 + (2 * one)) / (100 + (299 * one));
        Assert.Equal(expected, NoiseMetrics.WorstShare(firefly, reference, 0.01), 4);

        // Every channel off by the same amount: the worst 1 % hold 1 % of the error.
        var even = new HdrImage(10, 10);
        Array.Fill(even.Pixels, 1.1f);
        Assert.Equal(0.01, NoiseMetrics.WorstShare(even, reference, 0.01), 9);

        Assert.Equal(0, NoiseMetrics.WorstShare(reference, reference, 0.01));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseMetrics.WorstShare(even, reference, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => NoiseMetrics.WorstShare(even, reference, 1.5));
    }

    [Fact]
    public void Samples_to_error_interpolates_on_the_log_log_curve()
    {
        // error = 1 / samples: error 0.1 is reached at 10 samples, between the points 4 and 16 and off both.
        (double, double)[] points = [(1, 1), (4, 0.25), (16, 1.0 / 16)];
        Assert.Equal(10, NoiseMetrics.SamplesToError(points, 0.1), 9);
        Assert.Equal(4, NoiseMetrics.SamplesToError(points, 0.25), 9);

        // Beyond the points the nearest segment is extended.
        Assert.Equal(100, NoiseMetrics.SamplesToError(points, 0.01), 9);
        Assert.Equal(0.5, NoiseMetrics.SamplesToError(points, 2), 9);
    }

    [Fact]
    public void Samples_to_error_is_undefined_for_curves_that_do_not_fall()
    {
        Assert.True(double.IsNaN(NoiseMetrics.SamplesToError([(1, 1)], 0.5)));
        Assert.True(double.IsNaN(NoiseMetrics.SamplesToError([(1, 0.5), (2, 0.5)], 0.1)));
        Assert.True(double.IsNaN(NoiseMetrics.SamplesToError([(1, 0.5), (2, 0.25)], 0)));
    }

    [Fact]
    public void Time_at_a_sample_count_follows_a_fixed_plus_per_sample_cost()
    {
        // 0.5 s of set-up plus 0.1 s per sample, measured exactly: any sample count is on the line.
        (double, double)[] exact = [(4, 0.9), (16, 2.1), (64, 6.9)];
        Assert.Equal(1.5, NoiseMetrics.TimeAt(exact, 10), 9);
        Assert.Equal(10.5, NoiseMetrics.TimeAt(exact, 100), 9);

        // Jittered short renders whose times fall with more samples: proportional to the mean instead of negative.
        (double, double)[] jittered = [(4, 0.31), (16, 0.21)];
        Assert.Equal(0.26 * 20 / 10, NoiseMetrics.TimeAt(jittered, 20), 9);
        Assert.True(double.IsNaN(NoiseMetrics.TimeAt([(4, 1.0), (4, 2.0)], 8)));
    }
}

public class PfmFileFacts
{
    [Fact]
    public void A_written_image_reads_back_bit_for_bit_top_row_first()
    {
        var image = new HdrImage(3, 2);
        for (int i = 0; i < image.Pixels.Length; i++)
        {
            image.Pixels[i] = (i * 0.37f) - 1.1f;
        }

        image.Pixels[0] = float.Epsilon;
        string path = Path.Combine(Path.GetTempPath(), $"pfm-{Guid.NewGuid():N}.pfm");
        try
        {
            PfmFile.Write(image, path);
            HdrImage read = PfmFile.Read(path);
            Assert.Equal((3, 2), (read.Width, read.Height));
            Assert.Equal(image.Pixels, read.Pixels);

            // PFM stores the bottom row first: the file's first pixel is the image's row 1.
            byte[] bytes = File.ReadAllBytes(path);
            int header = bytes.Length - (3 * 2 * 12);
            Assert.Equal(image.Pixels[9], BitConverter.ToSingle(bytes, header));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("Pf\n1 1\n-1.0\n", 4)]
    [InlineData("PF\n0 1\n-1.0\n", 12)]
    [InlineData("PF\n99999 1\n-1.0\n", 12)]
    [InlineData("PF\n1 1\n0\n", 12)]
    [InlineData("PF\n2 2\n-1.0\n", 12)]
    public void Bad_headers_and_short_files_are_refused(string header, int pixelBytes)
    {
        // Files come from other processes and machines: a header must not make the reader allocate or read blindly.
        string path = Path.Combine(Path.GetTempPath(), $"pfm-{Guid.NewGuid():N}.pfm");
        try
        {
            File.WriteAllBytes(path, [.. System.Text.Encoding.ASCII.GetBytes(header), .. new byte[pixelBytes]]);
            Assert.Throws<InvalidDataException>(() => PfmFile.Read(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
