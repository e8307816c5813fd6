using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using Xunit.Abstractions;

namespace RenderFarm.Verification.Tests;

[Trait("Category", "Gpu")]
public class FewerSamplesSpotCheckFacts(ITestOutputHelper output)
{
    private const int Size = 32;
    private static readonly RenderSettings s_settings = new() { Size = new ImageSize(Size, Size), SamplesPerPixel = 64, Seed = 1 };

    [Fact]
    public void AFrameWithSixPercentFewerSamples_FailsTheSpotCheck_WhileHonestFramesOnEitherDevicePass()
    {
        // Guards the gap of the count and bias rules: 60 of 64 samples leaves every pixel within the tolerance and the
        // mean unbiased, and passed the spot check before the validator kept its tiles at earlier sample counts.
        using ComputeDevice device = ComputeDevice.Open();
        using var tracer = new PathTracer(device);
        using var other = new PathTracer(device, PathTracerArithmetic.OtherConformingDevice);
        SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));
        var secret = new byte[32];
        secret[0] = 9;
        SpotCheckPlan plan = SpotCheckPlan.Create(secret, Guid.Parse("0b7f3f8e-2c55-4d3c-9a0e-6f1d2b3c4a51"), 1, Size, Size, SpotCheckPlan.DefaultTileSize, 0.03);
        IReadOnlyList<int> counts = SampleCountTest.SnapshotCounts(s_settings.SamplesPerPixel);

        // The validator renders only the plan's tiles, read back at the snapshot counts on the way.
        IReadOnlyList<IReadOnlyList<HdrImage>> validator = tracer.RenderTileSnapshots(
            scene, 1, s_settings, [.. plan.Tiles.Select(t => (t.X, t.Y, t.Width, t.Height))], [.. counts, s_settings.SamplesPerPixel]);
        var strip = new List<Rectangle>();
        int left = 0;
        foreach (Rectangle tile in plan.Tiles)
        {
            strip.Add(new Rectangle(left, 0, tile.Width, tile.Height));
            left += tile.Width;
        }

        using Image expected = Encode(Strip(validator[^1], strip), sixteenBit: false);
        Image[] deep = [.. validator.Select(tiles => Encode(Strip(tiles, strip), sixteenBit: true))];
        IReadOnlyList<IReadOnlyList<HdrImage>> provider = tracer.RenderTileSnapshots(scene, 1, s_settings, [(0, 0, Size, Size)], [60, 64]);
        var decision = new SpotCheckDecision();
        try
        {
            foreach ((string name, HdrImage frame, bool honest) in new[]
            {
                ("honest", provider[1][0], true),
                ("honest on the simulated other device", other.Render(scene, 1, s_settings).Image, true),
                ("60 of 64 samples", provider[0][0], false),
            })
            {
                using Image delivered = Encode(frame, sixteenBit: false);
                SampleCountStatistic samples = SampleCountTest.Measure(delivered, plan.Tiles, deep[^1], deep[..^1], strip, counts);
                SpotCheckOutcome outcome = decision.Judge(DifferenceStatistics.Measure(expected, strip, delivered, plan.Tiles, decision.Tolerance), samples);
                output.WriteLine($"{name}: |sample z| {samples.MaxAbsZ:0.0} at {samples.WorstCount}, tiles failed {outcome.TilesFailed}, bias z {outcome.Statistics.BiasZ:0.0}");

                Assert.Equal(honest, outcome.Pass);
                Assert.Equal(!honest, outcome.SamplesExceeded);
            }
        }
        finally
        {
            Array.ForEach(deep, image => image.Dispose());
        }
    }

    // The tiles side by side, as a validator's strip holds them.
    private static HdrImage Strip(IReadOnlyList<HdrImage> tiles, IReadOnlyList<Rectangle> strip)
    {
        var image = new HdrImage(strip[^1].Right, strip.Max(r => r.Height));
        for (int t = 0; t < tiles.Count; t++)
        {
            for (int y = 0; y < tiles[t].Height; y++)
            {
                tiles[t].Pixels.AsSpan(y * tiles[t].Width * 3, tiles[t].Width * 3)
                    .CopyTo(image.Pixels.AsSpan(((y * image.Width) + strip[t].X) * 3));
            }
        }

        return image;
    }

    private static Image Encode(HdrImage image, bool sixteenBit)
    {
        using var png = new MemoryStream();
        PngFrameWriter.Write(image, png, s_settings.ToneMapping, s_settings.ExposureStops, sixteenBit);
        png.Position = 0;
        return Image.Load(png);
    }
}
