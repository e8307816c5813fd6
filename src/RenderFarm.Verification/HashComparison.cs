namespace RenderFarm.Verification;

/// <summary>
/// The whole-frame check of a re-rendered frame: the two frames' perceptual hashes must lie within the given
/// Hamming distances. It catches a wrong picture (another view, a mirrored or blank frame), not cheap work.
/// </summary>
public sealed class HashComparison
{
    /// <summary>Default largest pHash distance for similar frames.</summary>
    public const int DefaultMaxPHashDistance = 10;

    /// <summary>Default largest dHash distance for similar frames.</summary>
    public const int DefaultMaxDHashDistance = 12;

    /// <summary>Creates a check with the given thresholds.</summary>
    /// <param name="maxPHashDistance">Largest pHash Hamming distance, in [0, 64], between similar frames.</param>
    /// <param name="maxDHashDistance">Largest dHash Hamming distance, in [0, 64], between similar frames.</param>
    public HashComparison(int maxPHashDistance = DefaultMaxPHashDistance, int maxDHashDistance = DefaultMaxDHashDistance)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPHashDistance);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxPHashDistance, 64);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDHashDistance);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDHashDistance, 64);
        MaxPHashDistance = maxPHashDistance;
        MaxDHashDistance = maxDHashDistance;
    }

    /// <summary>Largest pHash distance between similar frames.</summary>
    public int MaxPHashDistance { get; }

    /// <summary>Largest dHash distance between similar frames.</summary>
    public int MaxDHashDistance { get; }

    /// <summary>Whether both hash distances stay within the thresholds.</summary>
    public bool Matches(ImageHashes expected, ImageHashes actual)
    {
        (int pHash, int dHash) = expected.DistanceTo(actual);
        return pHash <= MaxPHashDistance && dHash <= MaxDHashDistance;
    }
}
