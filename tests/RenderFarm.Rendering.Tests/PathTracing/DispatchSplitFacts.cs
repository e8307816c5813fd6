using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// A frame's pixels must not depend on how its work is cut into tiles and dispatches, at the sample counts artists
/// use: a validator re-renders small tiles of a provider's frame and compares them bit for bit. These guard against
/// batches that grow with the dispatch time until a shader invocation runs into a driver's loop limit (llvmpipe
/// stops every loop after 65,535 iterations per invocation), which made small tiles differ from the full frame from
/// 64 samples per dispatch on.
/// </summary>
[Collection(PathTracerCollection.Name)]
[Trait("Category", "Gpu")]
public class DispatchSplitFacts(PathTracerFixture fixture)
{
    private const int Side = 24;

    private static readonly string s_cornellBox = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");

    // Tiles of a validator's kinds: 8×8 blocks, odd shapes, a border column and a single pixel.
    private static readonly (int X, int Y, int Width, int Height)[] s_tiles =
        [(0, 0, 8, 8), (8, 16, 8, 8), (5, 3, 11, 7), (23, 0, 1, 24), (12, 12, 1, 1)];

    [Theory]
    [InlineData(256)]
    [InlineData(1024)]
    public void RenderTiles_MatchTheFullFrameBitForBit_AtHighSampleCounts(int samplesPerPixel)
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(Side, Side), SamplesPerPixel = samplesPerPixel, Seed = 11 };

        HdrImage full = fixture.Tracer.Render(scene, 2, settings).Image;
        IReadOnlyList<HdrImage> tiles = fixture.Tracer.RenderTiles(scene, 2, settings, s_tiles);

        for (int t = 0; t < s_tiles.Length; t++)
        {
            AssertTileEquals(full, s_tiles[t], tiles[t], $"tile {t} at {samplesPerPixel} spp");
        }
    }

    [Fact]
    public void FullFrame_DoesNotDependOnSamplesPerDispatch()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(16, 16), SamplesPerPixel = 256, Seed = 5 };
        (int, int, int, int)[] whole = [(0, 0, 16, 16)];

        HdrImage reference = fixture.Tracer.Render(scene, 1, settings).Image;
        // One sample per dispatch, odd batches whose last one is short, and the largest batch the tracer allows.
        foreach (int samplesPerDispatch in new[] { 1, 7, PathTracer.MaxSamplesPerDispatch })
        {
            HdrImage split = fixture.Tracer.RenderTiles(scene, 1, settings, whole, samplesPerDispatch, CancellationToken.None)[0];
            AssertTileEquals(reference, (0, 0, 16, 16), split, $"{samplesPerDispatch} samples per dispatch");
        }
    }

    [Fact]
    public void TilesWithOtherBatchSplits_MatchTheFullFrame_At1024Spp()
    {
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(16, 16), SamplesPerPixel = 1024, Seed = 3 };
        (int X, int Y, int Width, int Height)[] tiles = [(0, 0, 8, 8), (9, 4, 7, 12)];

        HdrImage full = fixture.Tracer.Render(scene, 4, settings).Image;
        // Batches of 2 and 5 against the full frame's 3: every batch boundary falls elsewhere.
        foreach (int samplesPerDispatch in new[] { 2, 5 })
        {
            IReadOnlyList<HdrImage> rendered = fixture.Tracer.RenderTiles(scene, 4, settings, tiles, samplesPerDispatch, CancellationToken.None);
            for (int t = 0; t < tiles.Length; t++)
            {
                AssertTileEquals(full, tiles[t], rendered[t], $"tile {t} at {samplesPerDispatch} samples per dispatch");
            }
        }
    }

    [Theory]
    [InlineData(0, 16)]
    [InlineData(8, 3)]
    [InlineData(64, 1)]
    public void SamplesPerDispatch_FollowsTheBounceLimitOnly(int maxBounces, int expected)
    {
        var settings = new RenderSettings { MaxBounces = maxBounces, SamplesPerPixel = 4096 };

        Assert.Equal(expected, PathTracer.SamplesPerDispatch(settings));
    }

    [Fact]
    public void Render_TracesExactlyTheAskedSamples_WhenTheyAreNoMultipleOfTheBatch()
    {
        // Guards against rounding a frame's samples up to whole batches: 13 is no multiple of the 3 samples per
        // dispatch at 8 bounces, and the frame must hold exactly 13 samples per pixel, no more, no fewer.
        SceneAsset scene = SceneAsset.Load(s_cornellBox);
        var settings = new RenderSettings { Size = new ImageSize(16, 16), SamplesPerPixel = 13, Seed = 9 };
        Assert.NotEqual(0, settings.SamplesPerPixel % PathTracer.SamplesPerDispatch(settings));

        FrameRender render = fixture.Tracer.Render(scene, 1, settings);
        HdrImage oneByOne = fixture.Tracer.RenderTiles(scene, 1, settings, [(0, 0, 16, 16)], 1, CancellationToken.None)[0];
        HdrImage more = fixture.Tracer.Render(scene, 1, settings with { SamplesPerPixel = 15 }).Image;

        Assert.Equal(16L * 16 * 13, render.Samples);
        AssertTileEquals(render.Image, (0, 0, 16, 16), oneByOne, "13 samples traced one per dispatch");
        Assert.NotEqual(render.Image.Pixels, more.Pixels);
    }

    private static void AssertTileEquals(HdrImage full, (int X, int Y, int Width, int Height) region, HdrImage tile, string what)
    {
        (int x0, int y0, int width, int height) = region;
        Assert.Equal((width, height), (tile.Width, tile.Height));
        int differing = 0;
        string first = string.Empty;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    float expected = full.Pixels[((((y0 + y) * full.Width) + x0 + x) * 3) + c];
                    float actual = tile.Pixels[(((y * width) + x) * 3) + c];
                    if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual))
                    {
                        if (differing++ == 0)
                        {
                            first = $"pixel ({x0 + x}, {y0 + y}) channel {c}: {actual} instead of {expected}";
                        }
                    }
                }
            }
        }

        Assert.True(differing == 0, $"{what}: {differing} channel values differ from the full frame, first {first}.");
    }
}
