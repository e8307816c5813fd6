using SixLabors.ImageSharp;

namespace RenderFarm.Verification.Tests;

public class SpotCheckPlanFacts
{
    private static readonly Guid s_job = Guid.Parse("0b7d3f6a-3c1e-4f43-8d4e-8d7f1e2a6b90");

    public static TheoryData<int, int, int, double> Frames => new()
    {
        { 1920, 1080, 8, 0.03 },
        { 64, 64, 4, 0.03 },
        { 512, 512, 8, 0.01 },
        { 333, 77, 8, 0.05 },
        { 17, 9, 8, 1.0 },
        { 40, 40, 8, 0.5 },
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void Tiles_LieInsideTheFrame_DoNotOverlap_AndKeepToTheCostShareOrTheMinimum(int width, int height, int tileSize, double share)
    {
        for (int i = 0; i < 50; i++)
        {
            SpotCheckPlan plan = SpotCheckPlan.Create(Secret(i), s_job, i + 1, width, height, tileSize, share);

            Assert.NotEmpty(plan.Tiles);
            long wholeTiles = (long)Math.Floor((share * width * height / (tileSize * tileSize)) + 1e-9);
            Assert.True(plan.TileCount >= Math.Min(SpotCheckPlan.MinTiles, plan.TileCount) && plan.TileCount <= Math.Max(wholeTiles, SpotCheckPlan.MinTiles));
            Assert.Equal(plan.Tiles.Sum(t => t.Width * t.Height) / (double)(width * height), plan.CostShare, 12);
            var frame = new Rectangle(0, 0, width, height);
            foreach (Rectangle tile in plan.Tiles)
            {
                Assert.InRange(tile.Width, 1, tileSize);
                Assert.InRange(tile.Height, 1, tileSize);
                Assert.True(frame.Contains(tile), $"{tile} outside {frame}");
            }

            for (int a = 0; a < plan.Tiles.Count; a++)
            {
                for (int b = a + 1; b < plan.Tiles.Count; b++)
                {
                    Assert.False(plan.Tiles[a].IntersectsWith(plan.Tiles[b]), $"{plan.Tiles[a]} overlaps {plan.Tiles[b]}");
                }
            }
        }
    }

    [Theory]
    [InlineData(64, 64)]
    [InlineData(96, 96)]
    [InlineData(256, 256)]
    [InlineData(33, 20)]
    public void SmallFrames_GetAtLeastEightTiles(int width, int height)
    {
        // Guards the small-frame gap: a 64x64 frame at 3 % used to get one 8x8 tile, so a cheat in part of the frame
        // mostly escaped. Now every frame with enough cells gets eight.
        for (int i = 0; i < 50; i++)
        {
            Assert.True(SpotCheckPlan.Create(Secret(i), s_job, 1, width, height, 8, 0.03).TileCount >= SpotCheckPlan.MinTiles);
        }
    }

    [Fact]
    public void TileCount_IsTheMostThatFitTheCostShare()
    {
        SpotCheckPlan plan = SpotCheckPlan.Create(Secret(1), s_job, 1, 1920, 1080, 8, 0.03);

        // ⌊0.03 · 1920 · 1080 / 64⌋ = 972 tiles, 2.9997% of the pixels.
        Assert.Equal(972, plan.TileCount);
        Assert.Equal((1920, 1080, 8), (plan.FrameWidth, plan.FrameHeight, plan.TileSize));
    }

    [Fact]
    public void Plan_IsAFunctionOfTheSecretJobAndFrame()
    {
        IReadOnlyList<Rectangle> Tiles(byte[] secret, Guid job, int frame) =>
            SpotCheckPlan.Create(secret, job, frame, 640, 360, 8, 0.02).Tiles;

        byte[] secret = Secret(42);
        Assert.Equal(Tiles(secret, s_job, 3), Tiles((byte[])secret.Clone(), s_job, 3));
        Assert.NotEqual(Tiles(secret, s_job, 3), Tiles(Secret(43), s_job, 3));
        Assert.NotEqual(Tiles(secret, s_job, 3), Tiles(secret, s_job, 4));
        Assert.NotEqual(Tiles(secret, s_job, 3), Tiles(secret, Guid.Parse("0b7d3f6a-3c1e-4f43-8d4e-8d7f1e2a6b91"), 3));
    }

    [Theory]
    [InlineData(128, 128, 0.03)]
    [InlineData(64, 48, 0.03)]
    [InlineData(100, 37, 0.05)]
    public void Tiles_CoverEdgeAndInteriorPixelsEqually_OverManySecrets(int width, int height, double share)
    {
        // Guards the border gap: tiles used to lie wholly inside a shifted grid, so a pixel within one tile of the
        // edge was checked less often than one in the middle (a corner pixel only at offset 0) and a cheat confined to
        // a 2-pixel border mostly escaped.
        const int Tile = 8, Plans = 3000;
        var coverage = new int[width * height];
        for (int i = 0; i < Plans; i++)
        {
            foreach (Rectangle tile in SpotCheckPlan.Create(Secret(i), s_job, 1, width, height, Tile, share).Tiles)
            {
                for (int y = tile.Top; y < tile.Bottom; y++)
                {
                    for (int x = tile.Left; x < tile.Right; x++)
                    {
                        coverage[(y * width) + x]++;
                    }
                }
            }
        }

        double mean = coverage.Average();
        int[] border = [.. Enumerable.Range(0, width * height).Where(p => p % width < 2 || p / width < 2 || p % width >= width - 2 || p / width >= height - 2).Select(p => coverage[p])];
        Assert.InRange(border.Average(), 0.9 * mean, 1.1 * mean);
        Assert.InRange(coverage.Min(), 0.5 * mean, mean);
        Assert.InRange(coverage.Max(), mean, 1.5 * mean);
        double Corner(int x0, int y0) => new[] { (0, 0), (1, 0), (0, 1), (1, 1) }.Average(d => coverage[((y0 + d.Item2) * width) + x0 + d.Item1]);
        foreach (double corner in new[] { Corner(0, 0), Corner(width - 2, 0), Corner(0, height - 2), Corner(width - 2, height - 2) })
        {
            Assert.InRange(corner, 0.6 * mean, 1.4 * mean);
        }
    }

    [Fact]
    public void CreateSecret_GivesFreshSecrets()
    {
        byte[] first = SpotCheckPlan.CreateSecret(), second = SpotCheckPlan.CreateSecret();

        Assert.Equal(32, first.Length);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Create_RejectsWeakSecretsAndImpossiblePlans()
    {
        Assert.Throws<ArgumentException>(() => SpotCheckPlan.Create(new byte[8], s_job, 1, 64, 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpotCheckPlan.Create(Secret(1), s_job, 1, 4, 64, 8, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpotCheckPlan.Create(Secret(1), s_job, 1, 64, 64, 8, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpotCheckPlan.Create(Secret(1), s_job, 1, 64, 64, 0, 0.03));
    }

    private static byte[] Secret(int index)
    {
        var secret = new byte[32];
        BitConverter.TryWriteBytes(secret, index);
        return secret;
    }
}
