using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class RenderTilesFacts(PathTracerFixture fixture)
{
    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");

    [Fact]
    public void RenderTiles_GivesExactlyThePixelsOfTheFullFrame()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(48, 40), SamplesPerPixel = 5, Seed = 7 };
        (int X, int Y, int Width, int Height)[] tiles = [(0, 0, 8, 8), (13, 5, 8, 8), (40, 32, 8, 8), (3, 29, 5, 11), (20, 20, 1, 1)];

        HdrImage full = fixture.Tracer.Render(scene, 3, settings).Image;
        IReadOnlyList<HdrImage> rendered = fixture.Tracer.RenderTiles(scene, 3, settings, tiles);

        Assert.Equal(tiles.Length, rendered.Count);
        for (int t = 0; t < tiles.Length; t++)
        {
            (int x0, int y0, int width, int height) = tiles[t];
            HdrImage tile = rendered[t];
            Assert.Equal((width, height), (tile.Width, tile.Height));
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    for (int c = 0; c < 3; c++)
                    {
                        float expected = full.Pixels[((((y0 + y) * 48) + x0 + x) * 3) + c];
                        float actual = tile.Pixels[(((y * width) + x) * 3) + c];
                        Assert.True(expected == actual, $"Tile {t} pixel ({x}, {y}) channel {c}: {actual} instead of {expected}.");
                    }
                }
            }
        }
    }

    [Fact]
    public void RenderTiles_OfAnotherFrame_Differs()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(32, 32), SamplesPerPixel = 4, Seed = 7 };

        HdrImage first = fixture.Tracer.RenderTiles(scene, 1, settings, [(8, 8, 8, 8)])[0];
        HdrImage second = fixture.Tracer.RenderTiles(scene, 2, settings, [(8, 8, 8, 8)])[0];

        Assert.NotEqual(first.Pixels, second.Pixels);
    }

    [Fact]
    public void RenderTiles_RejectsTilesOutsideTheFrame()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(16, 16), SamplesPerPixel = 1 };

        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.Tracer.RenderTiles(scene, 1, settings, [(10, 10, 8, 8)]));
    }
}
