namespace RenderFarm.Verification;

/// <summary>The perceptual hashes of one image, as computed by <see cref="PerceptualHash"/>.</summary>
/// <param name="PHash">The 64-bit DCT hash: low spatial frequencies of the 32×32 luminance above their median.</param>
/// <param name="DHash">The 64-bit difference hash: horizontal brightness gradients of the 9×8 luminance.</param>
public readonly record struct ImageHashes(ulong PHash, ulong DHash)
{
    /// <summary>The Hamming distances between these hashes and <paramref name="other"/>'s.</summary>
    public (int PHash, int DHash) DistanceTo(ImageHashes other) =>
        (PerceptualHash.HammingDistance(PHash, other.PHash), PerceptualHash.HammingDistance(DHash, other.DHash));
}
