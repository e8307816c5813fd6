using SixLabors.ImageSharp;

namespace RenderFarm.Verification;

/// <summary>The result of comparing a whole re-rendered frame with a delivered one.</summary>
/// <param name="Blocks">Blocks compared.</param>
/// <param name="BlocksFailed">Blocks with more pixels beyond the tolerance than honest divergence produces.</param>
/// <param name="MinPsnr">Lowest PSNR of any block in dB; positive infinity when the frames are identical.</param>
/// <param name="MaxAbsoluteDifference">Largest difference of any channel of any pixel, linear light.</param>
/// <param name="MaxShareBeyondTolerance">Largest share of a block's pixels beyond the tolerance.</param>
/// <param name="PHashDistance">Hamming distance between the frames' pHashes.</param>
/// <param name="MaxPHashDistance">The largest pHash distance that still matched.</param>
/// <param name="Pixels">The pixel decision over all blocks (<see cref="SpotCheckDecision"/>): blocks, share beyond the tolerance and bias.</param>
public sealed record WholeFrameDifference(
    int Blocks,
    int BlocksFailed,
    double MinPsnr,
    double MaxAbsoluteDifference,
    double MaxShareBeyondTolerance,
    int PHashDistance,
    int MaxPHashDistance,
    SpotCheckOutcome Pixels)
{
    /// <summary>Whether the pixels match (no block failed, no excess share, no bias) and the pHashes lie within the threshold.</summary>
    public bool IsMatch => Pixels.Pass && PHashDistance <= MaxPHashDistance;
}

/// <summary>
/// The check of a whole-frame re-render: the frame is cut into square blocks of the spot-check tile size, judged by the
/// statistical decision used for spot-check tiles (<see cref="SpotCheckDecision"/>: no block beyond what honest divergence
/// produces, nor all blocks together, and no bias of the signed mean over every pixel), and the two frames' pHashes must
/// lie within a Hamming distance. The pixel blocks carry the weight: a pHash is blind to cheap renders and to the neighbouring
/// frame (distances 0–6, as honest noise), and catches only a wrong picture (mirrored, blank: 20 and more).
/// </summary>
public sealed class WholeFrameComparison
{
    /// <summary>Default block side in pixels, as the default spot-check tile.</summary>
    public const int DefaultBlockSize = SpotCheckPlan.DefaultTileSize;

    /// <summary>Default largest pHash distance between a re-render and the delivered frame.</summary>
    public const int DefaultMaxPHashDistance = HashComparison.DefaultMaxPHashDistance;

    /// <summary>Creates a check.</summary>
    /// <param name="pixels">The per-block pixel comparison.</param>
    /// <param name="blockSize">Block side in pixels; blocks at the right and bottom edges may be smaller.</param>
    /// <param name="maxPHashDistance">Largest pHash distance, in [0, 64], that still matches.</param>
    /// <param name="decision">The statistical decision; by default one at <paramref name="pixels"/>' tolerance.</param>
    public WholeFrameComparison(
        PixelComparison? pixels = null, int blockSize = DefaultBlockSize, int maxPHashDistance = DefaultMaxPHashDistance, SpotCheckDecision? decision = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPHashDistance);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxPHashDistance, 64);
        Pixels = pixels ?? new PixelComparison();
        Decision = decision ?? new SpotCheckDecision(Pixels.Tolerance);
        BlockSize = blockSize;
        MaxPHashDistance = maxPHashDistance;
    }

    /// <summary>The per-block pixel comparison.</summary>
    public PixelComparison Pixels { get; }

    /// <summary>The statistical decision over the blocks.</summary>
    public SpotCheckDecision Decision { get; }

    /// <summary>Block side in pixels.</summary>
    public int BlockSize { get; }

    /// <summary>Largest pHash distance that still matches.</summary>
    public int MaxPHashDistance { get; }

    /// <summary>The blocks of a frame, row by row; edge blocks are clipped to the frame.</summary>
    public IEnumerable<Rectangle> Blocks(int width, int height)
    {
        for (int y = 0; y < height; y += BlockSize)
        {
            for (int x = 0; x < width; x += BlockSize)
            {
                yield return new Rectangle(x, y, Math.Min(BlockSize, width - x), Math.Min(BlockSize, height - y));
            }
        }
    }

    /// <summary>Compares two frames of equal size.</summary>
    /// <param name="expected">The re-render.</param>
    /// <param name="actual">The delivered frame.</param>
    /// <param name="decision">The decision for the frame's sample count (<see cref="SpotCheckDecision.ForSamples"/>); <see cref="Decision"/> when null.</param>
    /// <exception cref="ArgumentException">The frames differ in size.</exception>
    public WholeFrameDifference Compare(Image expected, Image actual, SpotCheckDecision? decision = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (expected.Size() != actual.Size())
        {
            throw new ArgumentException($"Image sizes differ: {expected.Size()} and {actual.Size()}.", nameof(actual));
        }

        Rectangle[] blocks = [.. Blocks(expected.Width, expected.Height)];
        SpotCheckOutcome outcome = (decision ?? Decision).Judge(expected, blocks, actual, blocks);
        DifferenceStatistics statistics = outcome.Statistics;
        int distance = PerceptualHash.HammingDistance(PerceptualHash.Compute(expected).PHash, PerceptualHash.Compute(actual).PHash);
        return new WholeFrameDifference(
            statistics.Regions,
            outcome.TilesFailed,
            statistics.MinPsnr,
            statistics.MaxAbsoluteDifference,
            statistics.MaxRegionShareBeyond,
            distance,
            MaxPHashDistance,
            outcome);
    }
}
