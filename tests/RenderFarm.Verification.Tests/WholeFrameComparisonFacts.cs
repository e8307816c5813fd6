using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace RenderFarm.Verification.Tests;

/// <summary>The whole-frame check on synthetic images: blocks cover the frame, a local change fails its block.</summary>
public sealed class WholeFrameComparisonFacts
{
    [Fact]
    public void blocks_cover_the_frame_once_and_edge_blocks_are_clipped()
    {
        var comparison = new WholeFrameComparison(blockSize: 8);

        Rectangle[] blocks = [.. comparison.Blocks(20, 9)];

        Assert.Equal(6, blocks.Length);
        Assert.Equal(20 * 9, blocks.Sum(b => b.Width * b.Height));
        Assert.Contains(new Rectangle(16, 8, 4, 1), blocks);
    }

    [Fact]
    public void an_identical_frame_matches_and_a_small_painted_patch_fails_its_blocks_but_not_the_phash()
    {
        var comparison = new WholeFrameComparison(blockSize: 8);
        using Image<Rgb24> frame = TestImages.Shapes(64, 64);
        using Image<Rgb24> patched = frame.Clone();
        for (int y = 40; y < 44; y++)
        {
            for (int x = 40; x < 44; x++)
            {
                patched[x, y] = new Rgb24(255, 0, 255);
            }
        }

        WholeFrameDifference same = comparison.Compare(frame, frame.Clone());
        WholeFrameDifference local = comparison.Compare(frame, patched);

        Assert.True(same.IsMatch);
        Assert.Equal((64, 0, 0), (same.Blocks, same.BlocksFailed, same.PHashDistance));
        Assert.True(double.IsPositiveInfinity(same.MinPsnr));
        // 16 pixels in one block: a quarter of it, far beyond the 5 % a block may differ; the frame's look is the same.
        Assert.False(local.IsMatch);
        Assert.Equal(1, local.BlocksFailed);
        Assert.InRange(local.PHashDistance, 0, comparison.MaxPHashDistance);
    }

    [Fact]
    public void a_mirrored_frame_fails_on_both_pixels_and_phash()
    {
        var comparison = new WholeFrameComparison();
        using Image<Rgb24> frame = TestImages.Shapes(64, 64);
        using Image<Rgb24> mirrored = TestImages.Mirrored(frame);

        WholeFrameDifference difference = comparison.Compare(frame, mirrored);

        Assert.False(difference.IsMatch);
        Assert.True(difference.BlocksFailed > 0);
        Assert.True(difference.PHashDistance > comparison.MaxPHashDistance, $"pHash distance {difference.PHashDistance}");
    }

    [Fact]
    public void a_frame_brightened_within_the_tolerance_fails_on_bias_alone()
    {
        // Guards the under-the-tolerance gap of whole frames: every pixel one 8-bit step brighter keeps every block within
        // the 0.02 tolerance, which the any-block rule passed; the signed mean over all pixels shows the bias.
        var comparison = new WholeFrameComparison();
        using Image<Rgb24> frame = TestImages.Shapes(64, 64);
        using Image<Rgb24> brighter = frame.Clone();
        brighter.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                foreach (ref Rgb24 pixel in rows.GetRowSpan(y))
                {
                    pixel = new Rgb24((byte)Math.Min(255, pixel.R + 1), (byte)Math.Min(255, pixel.G + 1), (byte)Math.Min(255, pixel.B + 1));
                }
            }
        });

        WholeFrameDifference difference = comparison.Compare(frame, brighter);

        Assert.Equal(0, difference.BlocksFailed);
        Assert.True(difference.Pixels.BiasExceeded, $"bias z {difference.Pixels.Statistics.BiasZ}");
        Assert.False(difference.IsMatch);
    }

    [Fact]
    public void an_honest_1080p_rerender_at_1024_spp_matches_under_its_sample_counts_decision()
    {
        // Guards honest rejections of whole frames: 32,400 blocks, 3.9 % of the pixels beyond 0.02 (scattered, some in
        // pairs, either sign: what the simulated other device gave on the Cornell box at 1,024 spp). The decision for
        // that sample count passes it; the former fixed 1 % rate failed it on the share, and its per-block limit set for
        // one block at a time let an honest block fail somewhere in a frame this large.
        var comparison = new WholeFrameComparison();
        var random = new Random(31);
        using var frame = new Image<Rgb24>(1920, 1080);
        using var delivered = new Image<Rgb24>(1920, 1080);
        bool carry = false;
        for (int y = 0; y < frame.Height; y++)
        {
            for (int x = 0; x < frame.Width; x++)
            {
                byte value = (byte)random.Next(96, 160);
                bool beyond = carry || random.NextDouble() < 0.039 * 0.77;
                carry = beyond && !carry && random.NextDouble() < 0.3;
                int step = beyond ? ((random.Next(2) * 2) - 1) * random.Next(12, 24) : random.Next(3) - 1;
                frame[x, y] = new Rgb24(value, value, value);
                delivered[x, y] = new Rgb24((byte)(value + step), (byte)(value + step), (byte)(value + step));
            }
        }

        WholeFrameDifference honest = comparison.Compare(frame, delivered, SpotCheckDecision.ForSamples(1024));
        WholeFrameDifference former = comparison.Compare(frame, delivered, new SpotCheckDecision(honestBeyondRate: 0.01));

        Assert.Equal(32_400, honest.Blocks);
        Assert.InRange(honest.Pixels.Statistics.PixelsBeyondTolerance, 0.035 * 1920 * 1080, 0.043 * 1920 * 1080);
        Assert.True(honest.IsMatch, honest.Pixels.ToString());
        Assert.False(former.IsMatch);
        Assert.True(former.Pixels.ShareExceeded);
    }

    [Fact]
    public void frames_of_different_sizes_are_refused()
    {
        using Image<Rgb24> small = TestImages.Gradient(32, 32);
        using Image<Rgb24> large = TestImages.Gradient(64, 32);

        Assert.Throws<ArgumentException>(() => new WholeFrameComparison().Compare(small, large));
    }
}

/// <summary>
/// The whole-frame check on real renders of the Cornell box (lavapipe): the measured pHash distances behind the
/// coordinator's threshold, and the blocks that catch what the pHash cannot.
/// </summary>
[Collection(CornellBoxCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class CornellBoxWholeFrameFacts(CornellBoxRenders renders, ITestOutputHelper output)
{
    [Fact]
    public void honest_rerenders_match_with_phash_distance_zero()
    {
        var comparison = new WholeFrameComparison(blockSize: 8);
        foreach ((string name, Image<Rgb24> image) in new[] { ("same seed again", renders.HonestAgain), ("perturbed 1e-5", renders.HonestPerturbed) })
        {
            WholeFrameDifference difference = comparison.Compare(renders.Honest, image);
            output.WriteLine($"{name}: pHash {difference.PHashDistance}, blocks failed {difference.BlocksFailed}/{difference.Blocks}, max {difference.MaxAbsoluteDifference:F4}");

            Assert.True(difference.IsMatch, name);
            Assert.Equal(0, difference.PHashDistance);
        }
    }

    [Fact]
    public void every_cheat_fails_the_whole_frame_check_and_wrong_pictures_fail_its_phash_too()
    {
        var comparison = new WholeFrameComparison(blockSize: 8);
        output.WriteLine("cheat | pHash | blocks failed | min block PSNR dB");
        foreach ((string name, Image<Rgb24> cheat, _) in renders.Cheats())
        {
            using (cheat)
            {
                WholeFrameDifference difference = comparison.Compare(renders.Honest, cheat);
                output.WriteLine($"{name} | {difference.PHashDistance} | {difference.BlocksFailed}/{difference.Blocks} | {difference.MinPsnr:F1}");

                Assert.False(difference.IsMatch, name);
                Assert.True(difference.BlocksFailed > 0, name);
                if (name is "mirrored" or "blank" or "noise")
                {
                    Assert.True(difference.PHashDistance > comparison.MaxPHashDistance, $"{name}: pHash distance {difference.PHashDistance}");
                }
            }
        }
    }
}
