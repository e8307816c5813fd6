using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Worker.Tests;

public class TileStripFacts
{
    private static readonly RenderSettings s_settings = new() { Size = new ImageSize(32, 32), SamplesPerPixel = 64, Seed = 1 };

    [Fact]
    public void EncodeWithSnapshots_StacksTheFramesDepthFirstThenEachCountAtSixteenBits()
    {
        var random = new Random(4);
        HdrImage[][] bands = [.. Enumerable.Range(0, 3).Select(_ => new[] { Tile(random, 8, 8), Tile(random, 5, 8) })];

        byte[] png = TileStrip.EncodeWithSnapshots(bands, s_settings);

        using Image<Rgb48> deep = Image.Load<Rgb48>(png);
        Assert.Equal((13, 8 * 4), (deep.Width, deep.Height));
        using Image<Rgb24> plain = Image.Load<Rgb24>(TileStrip.Encode(bands[^1], s_settings));
        using Image<Rgb48> final = Image.Load<Rgb48>(TileStrip.Encode(bands[^1], s_settings with { SixteenBit = true }));
        using Image<Rgb48> first = Image.Load<Rgb48>(TileStrip.Encode(bands[0], s_settings with { SixteenBit = true }));
        for (int y = 0; y < 8; y++)
        {
            for (int x = 0; x < 13; x++)
            {
                // Band 0 holds the 8-bit strip exactly, so the count and bias rules see what they saw before.
                Rgb24 p = plain[x, y];
                Assert.Equal(new Rgb48((ushort)(p.R * 257), (ushort)(p.G * 257), (ushort)(p.B * 257)), deep[x, y]);
                Assert.Equal(first[x, y], deep[x, 8 + y]);
                Assert.Equal(final[x, y], deep[x, 24 + y]);
            }
        }
    }

    [Fact]
    public void EncodeWithSnapshots_NeedsAnEarlierCount()
    {
        var random = new Random(1);
        Assert.Throws<ArgumentException>(() => TileStrip.EncodeWithSnapshots([[Tile(random, 4, 4)]], s_settings));
    }

    private static HdrImage Tile(Random random, int width, int height)
    {
        var tile = new HdrImage(width, height);
        for (int i = 0; i < tile.Pixels.Length; i++)
        {
            tile.Pixels[i] = random.NextSingle();
        }

        return tile;
    }
}
