using System.Diagnostics;
using System.Globalization;
using RenderFarm.Verification;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Benchmarks;

/// <summary>
/// The coordinator's CPU cost of verifying one delivered frame: decoding the PNG, its perceptual
/// hashes, and comparing a spot-check plan's tiles pixel by pixel. The frame is a synthetic
/// 1920×1080 image with render-like noise (hashing and comparison costs do not depend on content).
/// </summary>
internal static class VerificationBenchmark
{
    public static Task<int> RunAsync(BenchOptions options)
    {
        int width = options.Int("--width", 1920);
        int height = options.Int("--height", 1080);
        int runs = options.Int("--runs", 20);

        byte[] png = MakeFrame(width, height);
        using Image<Rgba32> decoded = Image.Load<Rgba32>(png);
        using Image<Rgba32> copy = decoded.Clone();
        SpotCheckPlan plan = SpotCheckPlan.Create(SpotCheckPlan.CreateSecret(), Guid.NewGuid(), 1, width, height);
        var comparison = new PixelComparison();

        double decode = Median(runs, () => Image.Load<Rgba32>(png).Dispose());
        double hashPng = Median(runs, () => PerceptualHash.Compute(new MemoryStream(png)));
        double hashDecoded = Median(runs, () => PerceptualHash.Compute(decoded));
        double tiles = Median(runs, () => comparison.CompareTiles(decoded, copy, plan.Tiles));

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"frame {width}x{height}, PNG {png.Length / 1024.0:F0} KiB, median of {runs} runs"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PNG decode                 {decode,8:F2} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pHash + dHash from PNG     {hashPng,8:F2} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pHash + dHash from pixels  {hashDecoded,8:F2} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"spot-check tiles compared  {tiles,8:F2} ms ({plan.TileCount} tiles of {plan.TileSize}x{plan.TileSize}, {plan.CostShare:P1} of the pixels)"));
        return Task.FromResult(0);
    }

    private static byte[] MakeFrame(int width, int height)
    {
        var random = new Random(1);
        using var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<Rgba32> row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    int noise = random.Next(-12, 13);
                    row[x] = new Rgba32(
                        (byte)Math.Clamp((x * 255 / width) + noise, 0, 255),
                        (byte)Math.Clamp((y * 255 / height) + noise, 0, 255),
                        (byte)Math.Clamp(128 + noise, 0, 255));
                }
            }
        });
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    private static double Median(int runs, Action action)
    {
        action();
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[runs / 2];
    }
}
