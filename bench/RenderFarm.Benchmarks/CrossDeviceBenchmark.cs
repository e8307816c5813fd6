using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using RenderFarm.Verification;

namespace RenderFarm.Benchmarks;

/// <summary>
/// Real cross-device divergence: <c>cross-device --out DIR</c> renders the sample scenes tile by tile on this process's
/// Vulkan device and writes each frame as linear PFM with the device's name; <c>cross-device --compare A,B</c> reads
/// two such folders (e.g. a GPU's and lavapipe's, the latter forced with VK_ICD_FILENAMES) and prints, per scene, the
/// max and mean absolute difference and the share of pixels beyond the verification tolerance.
/// </summary>
internal static class CrossDeviceBenchmark
{
    private const int Tile = 32;

    private static readonly (string Name, string Scene)[] s_scenes =
    [
        ("cornell", "samples/cornell-box/cornell-box.glb"),
        ("cube", "samples/textured-cube/textured-cube.glb"),
        ("dense", "samples/dense-spheres/dense-spheres.glb"),
    ];

    public static Task<int> RunAsync(BenchOptions options)
    {
        string compare = options.String("compare", "");
        float tolerance = float.Parse(options.String("tolerance", PixelComparison.DefaultTolerance.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        string scenes = options.String("scenes", "cornell,cube,dense");
        int size = options.Int("size", 96, min: Tile);
        int spp = options.Int("spp", 16);
        string output = options.String("out", "");
        if (compare.Length > 0)
        {
            string[] folders = compare.Split(',');
            return Task.FromResult(folders.Length == 2
                ? Compare(folders[0], folders[1], scenes.Split(','), tolerance)
                : throw new ArgumentException("--compare takes two folders: A,B."));
        }

        if (output.Length == 0)
        {
            throw new ArgumentException("cross-device needs --out DIR (render) or --compare A,B.");
        }

        Directory.CreateDirectory(output);
        using ComputeDevice device = ComputeDevice.Open();
        using var tracer = new PathTracer(device);
        File.WriteAllText(Path.Combine(output, "device.txt"), device.Info.ToString());
        var settings = new RenderSettings { Size = new ImageSize(size, size), SamplesPerPixel = spp, Seed = 1 };
        var tiles = new List<(int X, int Y, int Width, int Height)>();
        for (int y = 0; y < size; y += Tile)
        {
            for (int x = 0; x < size; x += Tile)
            {
                tiles.Add((x, y, Math.Min(Tile, size - x), Math.Min(Tile, size - y)));
            }
        }

        foreach (string name in scenes.Split(','))
        {
            SceneAsset scene = SceneAsset.Load(RepositoryPaths.Combine(ScenePath(name)));
            IReadOnlyList<HdrImage> rendered = tracer.RenderTiles(scene, 1, settings, tiles);
            var frame = new HdrImage(size, size);
            for (int t = 0; t < tiles.Count; t++)
            {
                (int x0, int y0, int width, int height) = tiles[t];
                for (int y = 0; y < height; y++)
                {
                    Array.Copy(rendered[t].Pixels, y * width * 3, frame.Pixels, (((y0 + y) * size) + x0) * 3, width * 3);
                }
            }

            PfmFile.Write(frame, Path.Combine(output, name + ".pfm"));
            Stats.Print($"cross-device: {name} {size}x{size} {spp} spp in {tiles.Count} tiles of {Tile}x{Tile} on {device.Info.Name} -> {output}");
        }

        return Task.FromResult(0);
    }

    private static int Compare(string a, string b, IReadOnlyList<string> scenes, float tolerance)
    {
        string deviceA = File.ReadAllText(Path.Combine(a, "device.txt")).Trim();
        string deviceB = File.ReadAllText(Path.Combine(b, "device.txt")).Trim();
        if (deviceA == deviceB)
        {
            Stats.Print($"cross-device: both folders come from the same device ({deviceA}); this compares it with itself, not across devices");
        }

        Console.WriteLine($"| scene | device A | device B | pixels | max abs diff | mean abs diff | beyond {tolerance} (clamped, as verified) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (string name in scenes)
        {
            HdrImage first = PfmFile.Read(Path.Combine(a, name + ".pfm"));
            HdrImage second = PfmFile.Read(Path.Combine(b, name + ".pfm"));
            if (first.Width != second.Width || first.Height != second.Height)
            {
                throw new ArgumentException($"{name}: {first.Width}x{first.Height} in {a} but {second.Width}x{second.Height} in {b}.");
            }

            double max = 0;
            double sum = 0;
            for (int i = 0; i < first.Pixels.Length; i++)
            {
                double d = Math.Abs(first.Pixels[i] - second.Pixels[i]);
                max = Math.Max(max, d);
                sum += d;
            }

            // Verification compares clamp-tone-mapped linear values in [0, 1].
            float[] Clamp(HdrImage image) => image.Pixels.Select(v => Math.Clamp(v, 0f, 1f)).ToArray();
            DifferenceStatistics stats = DifferenceStatistics.Measure([(Clamp(first), Clamp(second))], tolerance);
            Stats.Print($"| {name} | {deviceA} | {deviceB} | {stats.Pixels} | {max:G4} | {sum / first.Pixels.Length:G4} | {stats.PixelsBeyondTolerance} ({100.0 * stats.PixelsBeyondTolerance / stats.Pixels:F3} %) |");
        }

        return 0;
    }

    private static string ScenePath(string name) => s_scenes.FirstOrDefault(s => s.Name == name).Scene
        ?? throw new ArgumentException($"Unknown scene '{name}'; use {string.Join(", ", s_scenes.Select(s => s.Name))}.");
}
