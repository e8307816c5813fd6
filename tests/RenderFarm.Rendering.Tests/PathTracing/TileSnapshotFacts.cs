using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// A validator's snapshots must be exactly the frames a provider with fewer samples delivers: the sample-count check
/// compares the delivered pixels with them, so a snapshot that differed from a render at its count would blur it.
/// </summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class TileSnapshotFacts(PathTracerFixture fixture)
{
    [Fact]
    public void Snapshots_EqualRendersAtTheirSampleCounts_BitForBit()
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));
        var settings = new RenderSettings { Size = new ImageSize(16, 16), SamplesPerPixel = 12, Seed = 5 };
        (int, int, int, int)[] tiles = [(0, 0, 8, 8), (3, 9, 11, 7)];

        IReadOnlyList<IReadOnlyList<HdrImage>> snapshots = fixture.Tracer.RenderTileSnapshots(scene, 1, settings, tiles, [1, 5, 11, 12]);

        Assert.Equal(4, snapshots.Count);
        int[] counts = [1, 5, 11, 12];
        for (int k = 0; k < counts.Length; k++)
        {
            IReadOnlyList<HdrImage> rendered = fixture.Tracer.RenderTiles(scene, 1, settings with { SamplesPerPixel = counts[k] }, tiles);
            for (int t = 0; t < tiles.Length; t++)
            {
                Assert.Equal(rendered[t].Pixels, snapshots[k][t].Pixels);
            }
        }
    }

    [Fact]
    public void SnapshotCounts_MustIncreaseWithinTheSampleCount()
    {
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));
        var settings = new RenderSettings { Size = new ImageSize(8, 8), SamplesPerPixel = 4, Seed = 1 };
        (int, int, int, int)[] tiles = [(0, 0, 4, 4)];

        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Tracer.RenderTileSnapshots(scene, 1, settings, tiles, [2, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Tracer.RenderTileSnapshots(scene, 1, settings, tiles, [5]));
        Assert.Throws<ArgumentException>(() => fixture.Tracer.RenderTileSnapshots(scene, 1, settings, tiles, []));
    }
}
