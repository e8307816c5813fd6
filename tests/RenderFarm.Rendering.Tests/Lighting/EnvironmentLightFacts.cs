using System.Numerics;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.Lighting;

public class EnvironmentLightFacts
{
    private static HdrImage Map(int width, int height, Func<int, int, float> value)
    {
        var image = new HdrImage(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                float v = value(x, y);
                int i = ((y * width) + x) * 3;
                (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]) = (v, v * 0.5f, v * 2f);
            }
        }

        return image;
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(73f)]
    public void Pdf_IntegratesToOne_OverTheSphere(float rotation)
    {
        var light = new EnvironmentLight(Map(32, 16, (x, y) => 0.1f + (x * y % 7)), 1f, rotation);

        // Over the image's unit square: each cell's density times its area.
        double square = 0;
        for (int y = 0; y < 16; y++)
        {
            for (int x = 0; x < 32; x++)
            {
                square += light.PdfOfTexel(x, y) / (32.0 * 16.0);
            }
        }

        // Over solid angle, on a grid much finer than the map: Σ pdf(ω) cos(elevation) dφ dλ.
        double sphere = 0;
        const int Rows = 512, Columns = 1024;
        for (int row = 0; row < Rows; row++)
        {
            double elevation = (0.5 - ((row + 0.5) / Rows)) * Math.PI;
            for (int column = 0; column < Columns; column++)
            {
                double azimuth = 2 * Math.PI * (column + 0.5) / Columns;
                var direction = new Vector3((float)(Math.Cos(elevation) * Math.Cos(azimuth)), (float)Math.Sin(elevation), (float)(Math.Cos(elevation) * Math.Sin(azimuth)));
                sphere += light.PdfOfDirection(direction) * Math.Cos(elevation) * (Math.PI / Rows) * (2 * Math.PI / Columns);
            }
        }

        Assert.Equal(1.0, square, 4);
        Assert.Equal(1.0, sphere, 2);
    }

    [Fact]
    public void Samples_FollowLuminanceTimesSinTheta()
    {
        // One bright texel on the horizon holds 3/4 of the weight; the rest is dim and uniform.
        const int Width = 16, Height = 8;
        var light = new EnvironmentLight(Map(Width, Height, (x, y) => x == 5 && y == 4 ? 1f : 0f));
        double dimWeight = 0, brightWeight = 0;
        for (int y = 0; y < Height; y++)
        {
            double sinTheta = Math.Sin(Math.PI * (y + 0.5) / Height);
            dimWeight += Width * sinTheta;
            brightWeight = y == 4 ? sinTheta : brightWeight;
        }

        // Bright cell (1 + dim)·s₄ = 3 × the rest, dim·(Σ sin θ − s₄).
        float dim = (float)(brightWeight / ((3 * dimWeight) - (4 * brightWeight)));
        var both = new EnvironmentLight(Map(Width, Height, (x, y) => x == 5 && y == 4 ? 1f + dim : dim));
        var random = new Random(7);
        int hits = 0;
        const int Count = 20_000;
        for (int i = 0; i < Count; i++)
        {
            (Vector2 texel, float pdf) = both.Sample(random.NextSingle(), random.NextSingle());
            Assert.Equal(both.PdfOfTexel((int)texel.X, (int)texel.Y), pdf);
            hits += (int)texel.X == 5 && (int)texel.Y == 4 ? 1 : 0;
        }

        // Binomial with p = 3/4 over 20,000 draws: σ ≈ 0.003.
        Assert.InRange(hits / (double)Count, 0.74, 0.76);
        (Vector2 only, _) = light.Sample(0.3f, 0.9f);
        Assert.Equal((5, 4), ((int)only.X, (int)only.Y));
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-120f)]
    [InlineData(400f)]
    public void TexelOf_InvertsDirectionOf(float rotation)
    {
        var light = new EnvironmentLight(Map(64, 32, (x, y) => 1f), 1f, rotation);
        for (float u = 0.5f; u < 64; u += 3.7f)
        {
            for (float v = 0.5f; v < 32; v += 2.9f)
            {
                Vector3 direction = light.DirectionOf(new Vector2(u, v));
                Vector2 back = light.TexelOf(direction);
                Assert.Equal(1f, direction.Length(), 4);
                Assert.True(Math.Abs(back.Y - v) < 1e-3f && Math.Min(Math.Abs(back.X - u), 64 - Math.Abs(back.X - u)) < 1e-2f, $"{u},{v} -> {back}");
            }
        }
    }

    /// <summary>The layout of Blender's Environment Texture: the map's centre looks along +X, its top row straight up.</summary>
    [Fact]
    public void Layout_IsBlenders()
    {
        var light = new EnvironmentLight(Map(64, 32, (x, y) => 1f));
        Assert.Equal(new Vector2(32, 0), light.TexelOf(Vector3.UnitY));
        Assert.Equal(32f, light.TexelOf(Vector3.UnitX).X, 3);
        Assert.Equal(16f, light.TexelOf(Vector3.UnitX).Y, 3);
        // Blender's +Y (towards u = 0.25) is glTF's −Z.
        Assert.Equal(16f, light.TexelOf(-Vector3.UnitZ).X, 3);

        // A Mapping node's Z rotation of 90° turns the lookup of +X towards Blender's +Y.
        var turned = new EnvironmentLight(Map(64, 32, (x, y) => 1f), 1f, 90f);
        Assert.Equal(16f, turned.TexelOf(Vector3.UnitX).X, 3);

        // Blender put the sample sky's sun at 35° elevation towards +X turned 40° towards glTF −Z.
        HdrImage sky = EnvironmentFile.Read(RepositoryPaths.Combine("samples/environment/sky.hdr"));
        int brightest = Enumerable.Range(0, sky.Width * sky.Height).MaxBy(i => sky.Pixels[(i * 3) + 1]);
        var sun = new Vector3(
            MathF.Cos(35 * MathF.PI / 180) * MathF.Cos(40 * MathF.PI / 180), MathF.Sin(35 * MathF.PI / 180), -MathF.Cos(35 * MathF.PI / 180) * MathF.Sin(40 * MathF.PI / 180));
        Vector3 seen = new EnvironmentLight(sky).DirectionOf(new Vector2((brightest % sky.Width) + 0.5f, (brightest / sky.Width) + 0.5f));
        Assert.True(Vector3.Dot(seen, sun) > MathF.Cos(8 * MathF.PI / 180), $"sun at {seen}");
    }

    [Fact]
    public void BlackMap_IsNotLightSampled()
    {
        Assert.False(new EnvironmentLight(Map(8, 4, (x, y) => 0f)).CanSample);
        Assert.False(new EnvironmentLight(Map(8, 4, (x, y) => 1f), strength: 0f).CanSample);
        Assert.True(new EnvironmentLight(Map(8, 4, (x, y) => 1f)).CanSample);
    }

    [Theory]
    [InlineData(float.NaN, 0f, "strength")]
    [InlineData(-1f, 0f, "strength")]
    [InlineData(1f, float.PositiveInfinity, "rotation")]
    public void BadSettings_AreRefusedInOneLine(float strength, float rotation, string expected)
    {
        var exception = Assert.Throws<UserInputException>(() => new EnvironmentLight(Map(8, 4, (x, y) => 1f), strength, rotation));
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NonFiniteTexels_AreRefused()
    {
        var exception = Assert.Throws<UserInputException>(() => new EnvironmentLight(Map(8, 4, (x, y) => x == 3 ? float.PositiveInfinity : 1f)));
        Assert.Contains("non-finite", exception.Message, StringComparison.Ordinal);
    }
}
