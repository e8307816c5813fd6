using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Verification.Tests;

public class PixelComparisonFacts
{
    [Fact]
    public void EqualImages_MatchWithInfinitePsnr()
    {
        using Image<Rgb24> image = TestImages.Shapes(40, 30);
        using Image<Rgb24> copy = image.Clone();

        PixelDifference difference = new PixelComparison().Compare(image, copy);

        Assert.True(difference.IsMatch);
        Assert.Equal(40 * 30, difference.Pixels);
        Assert.Equal(double.PositiveInfinity, difference.Psnr);
        Assert.Equal(0, difference.MaxAbsoluteDifference);
        Assert.Equal(0, difference.ShareBeyondTolerance);
    }

    [Fact]
    public void OneStepOf8BitQuantisation_StaysWithinTheDefaultTolerance()
    {
        // The largest linear step between neighbouring 8-bit sRGB levels is at white.
        using Image<Rgb24> image = TestImages.Gradient(256, 4);
        using Image<Rgb24> stepped = image.Clone();
        for (int y = 0; y < stepped.Height; y++)
        {
            for (int x = 0; x < stepped.Width; x++)
            {
                Rgb24 p = stepped[x, y];
                stepped[x, y] = new Rgb24((byte)Math.Max(0, p.R - 1), (byte)Math.Max(0, p.G - 1), (byte)Math.Max(0, p.B - 1));
            }
        }

        PixelDifference difference = new PixelComparison().Compare(image, stepped);

        float whiteStep = 1 - ToneMapper.SrgbToLinear(254 / 255f);
        Assert.Equal(whiteStep, difference.MaxAbsoluteDifference, 5);
        Assert.True(2 * whiteStep <= PixelComparison.DefaultTolerance);
        Assert.Equal(0, difference.ShareBeyondTolerance);
        Assert.True(difference.IsMatch);
    }

    [Fact]
    public void Compare_MeasuresInLinearLight()
    {
        // Mid-grey 128 is 0.2158 in linear light; black is 0.
        float grey = ToneMapper.SrgbToLinear(128 / 255f);
        using var black = new Image<Rgb24>(4, 4, new Rgb24(0, 0, 0));
        using var mixed = new Image<Rgb24>(4, 4, new Rgb24(0, 0, 0));
        mixed[1, 2] = new Rgb24(128, 128, 128);

        PixelDifference difference = new PixelComparison().Compare(black, mixed);

        Assert.Equal(grey, difference.MaxAbsoluteDifference, 5);
        Assert.Equal(grey / 16, difference.MeanAbsoluteDifference, 5);
        Assert.Equal(-10 * Math.Log10(grey * grey / 16), difference.Psnr, 3);
        Assert.Equal(1 / 16.0, difference.ShareBeyondTolerance);
        Assert.False(difference.IsMatch);
        Assert.True(new PixelComparison(maxShareBeyondTolerance: 1 / 16.0).Compare(black, mixed).IsMatch);
        Assert.True(new PixelComparison(tolerance: 0.25f).Compare(black, mixed).IsMatch);
    }

    [Fact]
    public void Compare_ReadsEveryPixelFormatAlike()
    {
        using Image<Rgb24> image = TestImages.Shapes(24, 16);
        using Image<Rgba32> rgba = image.CloneAs<Rgba32>();
        using Image<Rgb48> rgb48 = image.CloneAs<Rgb48>();
        using Image<RgbaVector> vectors = image.CloneAs<RgbaVector>();
        using Image<Bgr24> bgr = image.CloneAs<Bgr24>();
        var comparison = new PixelComparison(tolerance: 1e-6f, maxShareBeyondTolerance: 0);

        foreach (Image other in new Image[] { rgba, rgb48, vectors, bgr })
        {
            PixelDifference difference = comparison.Compare(image, other);
            Assert.True(difference.MaxAbsoluteDifference < 1e-6, other.GetType().Name);
        }
    }

    [Fact]
    public void Compare_OfRegions_LinesUpATileRenderedOnItsOwn()
    {
        using Image<Rgb24> frame = TestImages.Noise(64, 48, seed: 1);
        var tile = new Rectangle(20, 12, 8, 8);
        using Image tileOnly = PixelComparison.Crop(frame, tile);
        var comparison = new PixelComparison();

        Assert.Equal(new Size(8, 8), tileOnly.Size());
        Assert.Equal(double.PositiveInfinity, comparison.Compare(tileOnly, new Rectangle(0, 0, 8, 8), frame, tile).Psnr);
        Assert.NotEqual(double.PositiveInfinity, comparison.Compare(tileOnly, new Rectangle(0, 0, 8, 8), frame, new Rectangle(19, 12, 8, 8)).Psnr);
    }

    [Fact]
    public void CompareTiles_FailsOnlyTheTileBeyondTheAllowedShare()
    {
        using Image<Rgb24> frame = TestImages.Gradient(32, 32);
        using Image<Rgb24> altered = frame.Clone();
        // Three changed pixels of 64 stay within the default 5%; four do not.
        for (int x = 10; x < 14; x++)
        {
            altered[x, 21] = new Rgb24(255, 0, 255);
        }

        altered[1, 1] = new Rgb24(255, 0, 255);
        altered[2, 1] = new Rgb24(255, 0, 255);
        altered[3, 1] = new Rgb24(255, 0, 255);
        Rectangle[] tiles = [new(0, 0, 8, 8), new(8, 16, 8, 8), new(24, 24, 8, 8)];

        IReadOnlyList<PixelDifference> results = new PixelComparison().CompareTiles(frame, altered, tiles);

        Assert.Equal([true, false, true], results.Select(r => r.IsMatch));
        Assert.Equal(3 / 64.0, results[0].ShareBeyondTolerance);
        Assert.Equal(4 / 64.0, results[1].ShareBeyondTolerance);
        Assert.Equal(0, results[2].ShareBeyondTolerance);
    }

    [Fact]
    public void Compare_RejectsMismatchedOrOutsideRegions()
    {
        using Image<Rgb24> image = TestImages.Gradient(16, 16);
        using Image<Rgb24> smaller = TestImages.Gradient(8, 8);
        var comparison = new PixelComparison();

        Assert.Throws<ArgumentException>(() => comparison.Compare(image, smaller));
        Assert.Throws<ArgumentException>(() => comparison.Compare(image, new Rectangle(0, 0, 4, 4), image, new Rectangle(0, 0, 4, 5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => comparison.Compare(image, new Rectangle(14, 0, 4, 4), image, new Rectangle(0, 0, 4, 4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => PixelComparison.Crop(image, new Rectangle(0, 0, 0, 4)));
        Assert.Throws<ArgumentException>(() => comparison.CompareTiles(image, smaller, [new Rectangle(0, 0, 4, 4)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PixelComparison(tolerance: -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PixelComparison(maxShareBeyondTolerance: 1.5));
    }
}
