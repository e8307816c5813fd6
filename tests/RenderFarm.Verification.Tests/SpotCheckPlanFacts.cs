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
    public void Tiles_LieInsideTheFrame_DoNotOverlap_AndKeepToTheCostShare(int width, int height, int tileSize, double share)
    {
        for (int i = 0; i < 50; i++)
        {
            SpotCheckPlan plan = SpotCheckPlan.Create(Secret(i), s_job, i + 1, width, height, tileSize, share);

            Assert.NotEmpty(plan.Tiles);
            Assert.InRange(plan.CostShare, double.Epsilon, share);
            Assert.Equal(plan.TileCount * tileSize * tileSize / (double)(width * height), plan.CostShare, 12);
            var frame = new Rectangle(0, 0, width, height);
            foreach (Rectangle tile in plan.Tiles)
            {
                Assert.Equal(new Size(tileSize, tileSize), tile.Size);
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

    [Fact]
    public void Tiles_CoverTheFrameEvenly_OverManySecrets()
    {
        // Where tiles fall should not favour any part of the frame away from its edges.
        const int Width = 128, Height = 128, Tile = 8, Plans = 2000;
        var coverage = new int[Width * Height];
        for (int i = 0; i < Plans; i++)
        {
            SpotCheckPlan plan = SpotCheckPlan.Create(Secret(i), s_job, 1, Width, Height, Tile, 0.03);
            foreach (Rectangle tile in plan.Tiles)
            {
                for (int y = tile.Top; y < tile.Bottom; y++)
                {
                    for (int x = tile.Left; x < tile.Right; x++)
                    {
                        coverage[(y * Width) + x]++;
                    }
                }
            }
        }

        // Each pixel away from the edge is covered with probability about 3%: 60 of 2000 plans.
        var interior = new List<int>();
        for (int y = Tile; y < Height - Tile; y++)
        {
            for (int x = Tile; x < Width - Tile; x++)
            {
                interior.Add(coverage[(y * Width) + x]);
            }
        }

        double mean = interior.Average();
        Assert.InRange(mean, 50, 70);
        Assert.InRange(interior.Min(), 25, 60);
        Assert.InRange(interior.Max(), 60, 100);
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
        Assert.Throws<ArgumentException>(() => SpotCheckPlan.Create(Secret(1), s_job, 1, 16, 16, 8, 0.03));
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
