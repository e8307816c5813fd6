using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace RenderFarm.Verification.Tests;

[Collection(CornellBoxCollection.Name)]
[Trait("Category", "Gpu")]
public class CornellBoxVerificationFacts(CornellBoxRenders renders, ITestOutputHelper output)
{
    // 4×4 tiles: a 64×64 frame holds seven of them within 3% of its pixels.
    private const int TileSize = 4;
    private const double CostShare = 0.03;
    private const int Plans = 25;

    private static IEnumerable<SpotCheckPlan> SpotCheckPlans()
    {
        var jobId = Guid.Parse("5f0c6c1e-0d6b-4a47-9b7e-1e1f6f2f9a10");
        for (int i = 0; i < Plans; i++)
        {
            byte[] secret = new byte[32];
            secret[0] = (byte)i;
            yield return SpotCheckPlan.Create(secret, jobId, 1, CornellBoxRenders.Size, CornellBoxRenders.Size, TileSize, CostShare);
        }
    }

    [Fact]
    public void HonestRerenders_PassHashAndPixelChecks()
    {
        var comparison = new PixelComparison();
        var decision = new SpotCheckDecision();
        var hashes = new HashComparison();
        ImageHashes reference = PerceptualHash.Compute(renders.Honest);
        foreach ((string name, Image<Rgb24> image) in new[] { ("same seed again", renders.HonestAgain), ("perturbed 1e-5", renders.HonestPerturbed) })
        {
            ImageHashes candidate = PerceptualHash.Compute(image);
            PixelDifference whole = comparison.Compare(renders.Honest, image);
            output.WriteLine($"{name}: pHash {reference.DistanceTo(candidate).PHash}, dHash {reference.DistanceTo(candidate).DHash}, " +
                $"PSNR {whole.Psnr:F1} dB, max {whole.MaxAbsoluteDifference:F4}, beyond {whole.ShareBeyondTolerance:P2}");

            Assert.True(hashes.Matches(reference, candidate), name);
            Assert.True(whole.IsMatch, name);
            foreach (SpotCheckPlan plan in SpotCheckPlans())
            {
                Assert.All(comparison.CompareTiles(renders.Honest, image, plan.Tiles), tile => Assert.True(tile.IsMatch, name));
            }
        }

        Assert.Equal(0, comparison.Compare(renders.Honest, renders.HonestAgain).MaxAbsoluteDifference);
    }

    [Fact]
    public void EveryCheat_FailsAPixelSpotCheckOfEveryPlan()
    {
        var comparison = new PixelComparison();
        var decision = new SpotCheckDecision();
        var hashes = new HashComparison();
        ImageHashes reference = PerceptualHash.Compute(renders.Honest);
        output.WriteLine("cheat | pHash | dHash | frame PSNR dB | frame max | frame beyond tol | tile PSNR dB (closest, median) | tile max (closest, median) | tiles failed");
        foreach ((string name, Image<Rgb24> cheat, bool subtle) in renders.Cheats())
        {
            (int pHash, int dHash) = reference.DistanceTo(PerceptualHash.Compute(cheat));
            PixelDifference whole = comparison.Compare(renders.Honest, cheat);
            int failedTiles = 0, tiles = 0;
            var tilePsnrs = new List<double>();
            var tileMaxima = new List<double>();
            foreach (SpotCheckPlan plan in SpotCheckPlans())
            {
                Assert.True(plan.CostShare <= CostShare || plan.TileCount == SpotCheckPlan.MinTiles);
                IReadOnlyList<PixelDifference> results = comparison.CompareTiles(renders.Honest, cheat, plan.Tiles);
                if (!subtle)
                {
                    Assert.Contains(results, tile => !tile.IsMatch);
                    Assert.False(decision.Judge(renders.Honest, plan.Tiles, cheat, plan.Tiles).Pass, name);
                }

                tiles += results.Count;
                failedTiles += results.Count(tile => !tile.IsMatch);
                tilePsnrs.AddRange(results.Select(tile => tile.Psnr));
                tileMaxima.AddRange(results.Select(tile => tile.MaxAbsoluteDifference));
            }

            output.WriteLine($"{name} | {pHash} | {dHash} | {whole.Psnr:F1} | {whole.MaxAbsoluteDifference:F3} | {whole.ShareBeyondTolerance:P0} | " +
                $"{tilePsnrs.Max():F1}, {Median(tilePsnrs):F1} | {tileMaxima.Min():F3}, {Median(tileMaxima):F3} | {failedTiles}/{tiles} (hash check {(hashes.Matches(reference, PerceptualHash.Compute(cheat)) ? "passes" : "fails")})");
            Assert.False(whole.IsMatch, name);
            // Plans include the narrower cells along the frame's edges, whose few pixels fail less often on a subtle cheat.
            Assert.True(failedTiles > (subtle ? tiles / 3 : tiles / 2), $"{name}: {failedTiles} of {tiles} tiles failed");
            cheat.Dispose();
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    [Fact]
    public void WholeFrameHash_IsBlindToCheapCheats()
    {
        // DESIGN.md, decision 6: the pixel checks carry the weight because a whole-frame hash cannot see noise.
        var hashes = new HashComparison();
        ImageHashes reference = PerceptualHash.Compute(renders.Honest);

        Assert.True(hashes.Matches(reference, PerceptualHash.Compute(renders.FourSamples)));
        Assert.True(hashes.Matches(reference, PerceptualHash.Compute(renders.NextFrame)));
        using Image<Rgb24> mirrored = TestImages.Mirrored(renders.Honest);
        using Image<Rgb24> noise = TestImages.Noise(CornellBoxRenders.Size, CornellBoxRenders.Size, 7);
        Assert.False(hashes.Matches(reference, PerceptualHash.Compute(mirrored)));
        Assert.False(hashes.Matches(reference, PerceptualHash.Compute(noise)));
    }
}
