using RenderFarm.Coordinator.Jobs;
using RenderFarm.Core;

namespace RenderFarm.Coordinator.Tests;

/// <summary>The pure budget and split arithmetic behind job submission.</summary>
public sealed class JobBudgetFacts
{
    private const long MaxObjectBytes = 512L * 1024 * 1024;

    [Fact]
    public void What_artists_choose_fits_the_default_limits()
    {
        var limits = new JobLimits();

        // A thousand 1080p frames at 4096 spp; one 8K UHD frame at 4096 spp in 16 bits.
        Assert.Null(JobBudget.Refusal(new FrameRange(1, 1000), Settings(1920, 1080, 4096), limits, MaxObjectBytes));
        Assert.Null(JobBudget.Refusal(new FrameRange(1001, 1240), Settings(7680, 4320, 4096, sixteenBit: true), limits, MaxObjectBytes));
    }

    [Theory]
    [InlineData(1_000_001, 1_000_001, 64, 64, 1, "largest frame number")]
    [InlineData(1, 1, 16384, 16384, 1, "pixels")]
    [InlineData(1, 1, 64, 64, 65_537, "samples per pixel")]
    [InlineData(1, 100_000, 8192, 8192, 65_536, "samples; this farm allows")]
    public void Each_limit_is_refused_with_a_line_naming_it(int first, int last, int width, int height, int spp, string expected)
    {
        string? refusal = JobBudget.Refusal(new FrameRange(first, last), Settings(width, height, spp), new JobLimits(), MaxObjectBytes);

        Assert.NotNull(refusal);
        Assert.Contains(expected, refusal, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refusal);
    }

    [Fact]
    public void Work_that_overflows_64_bits_is_refused_not_wrapped()
    {
        // 2^28 pixels × 2^20 spp × 10^5 frames is about 2^65: wrapped, it would look small.
        var limits = new JobLimits { MaxPixels = long.MaxValue, MaxSamplesPerPixel = RenderSettings.MaxSamplesPerPixel, MaxSamplesPerJob = long.MaxValue };
        RenderSettings settings = Settings(ImageSize.MaxDimension, ImageSize.MaxDimension, RenderSettings.MaxSamplesPerPixel);

        Assert.Null(JobBudget.TotalSamples(new FrameRange(1, FrameRange.MaxFrameCount), settings));
        Assert.Contains("more than 2^63", JobBudget.Refusal(new FrameRange(1, FrameRange.MaxFrameCount), settings, limits, long.MaxValue), StringComparison.Ordinal);
    }

    [Fact]
    public void A_frame_larger_than_the_upload_limit_is_refused_up_front()
    {
        // 16-bit RGB at 8192x8192 is 6 bytes a pixel, 403 MB before compression: deliverable under 512 MiB, not under 256.
        var limits = new JobLimits();
        RenderSettings sixteenBit = Settings(8192, 8192, 16, sixteenBit: true);
        Assert.Null(JobBudget.Refusal(new FrameRange(1, 1), sixteenBit, limits, MaxObjectBytes));

        string? refusal = JobBudget.Refusal(new FrameRange(1, 1), sixteenBit, limits, 256L * 1024 * 1024);

        Assert.NotNull(refusal);
        Assert.Contains("could not be delivered", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(640, 480, false)]
    [InlineData(333, 77, true)]
    public void The_worst_case_png_size_bounds_an_encoded_noise_frame(int width, int height, bool sixteenBit)
    {
        // Noise does not compress, so it is the largest an honest encoder writes.
        byte[] png = TestFarm.NoisePng(width, height, sixteenBit, seed: width);
        long? bound = JobBudget.WorstCasePngBytes(new ImageSize(width, height), sixteenBit);

        Assert.NotNull(bound);
        Assert.InRange(png.Length, 1, bound.Value);
    }

    [Fact]
    public void Chunks_cover_the_range_once_in_order()
    {
        IReadOnlyList<(int First, int Last)> chunks = JobSplitter.Chunks(new FrameRange(3, 12), 4);

        Assert.Equal([(3, 6), (7, 10), (11, 12)], chunks);
        Assert.Equal(3, JobSplitter.TaskCount(new FrameRange(3, 12), 4));
    }

    [Fact]
    public void Chunks_at_the_largest_frame_number_end_there()
    {
        // Before the checked split, 2147483000-2147483647 in chunks of 1000 gave a task whose last frame was negative.
        IReadOnlyList<(int First, int Last)> chunks = JobSplitter.Chunks(new FrameRange(FrameRange.MaxFrameNumber - 647, FrameRange.MaxFrameNumber), 1000);

        (int first, int last) = Assert.Single(chunks);
        Assert.Equal(FrameRange.MaxFrameNumber - 647, first);
        Assert.Equal(FrameRange.MaxFrameNumber, last);
    }

    [Fact]
    public void Limits_out_of_range_stop_the_coordinator_from_starting()
    {
        Assert.Throws<InvalidOperationException>(() => new JobLimits { MaxFrameNumber = int.MaxValue }.Validate());
        Assert.Throws<InvalidOperationException>(() => new JobLimits { MaxWidth = 0 }.Validate());
        Assert.Throws<InvalidOperationException>(() => new JobLimits { MaxSamplesPerJob = 0 }.Validate());
        new JobLimits().Validate();
    }

    private static RenderSettings Settings(int width, int height, int spp, bool sixteenBit = false) =>
        new() { Size = new ImageSize(width, height), SamplesPerPixel = spp, SixteenBit = sixteenBit };
    [Fact]
    public void An_accounts_open_work_is_summed_without_overflow()
    {
        var limits = new JobLimits { MaxOpenJobsPerAccount = 10, MaxOpenSamplesPerAccount = 1_000 };

        Assert.Null(JobBudget.AccountRefusal(400, [300, 300], limits));
        Assert.Contains("1001 samples", JobBudget.AccountRefusal(401, [300, 300], limits), StringComparison.Ordinal);
        Assert.NotNull(JobBudget.AccountRefusal(1, [long.MaxValue, long.MaxValue], limits));
        Assert.Contains("10 at once", JobBudget.AccountRefusal(0, new long[10], limits), StringComparison.Ordinal);
    }
}
