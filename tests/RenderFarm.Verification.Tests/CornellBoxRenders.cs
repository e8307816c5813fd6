using RenderFarm.Core;
using RenderFarm.Gpu;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.PathTracing;
using RenderFarm.Rendering.Scene;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Verification.Tests;

/// <summary>
/// Tiny renders of the animated Cornell box on the local Vulkan device (lavapipe in CI), encoded as the
/// worker encodes frames: the honest frame twice, and the renders a cheating provider could deliver instead.
/// </summary>
public sealed class CornellBoxRenders : IDisposable
{
    public const int Size = 64;

    public static readonly RenderSettings Settings = new() { Size = new ImageSize(Size, Size), SamplesPerPixel = 64, Seed = 1 };

    public CornellBoxRenders()
    {
        // No skipping: a machine without a Vulkan device fails these tests, loudly.
        using ComputeDevice device = ComputeDevice.Open();
        using var tracer = new PathTracer(device);
        string path = RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb");
        SceneAsset scene = SceneAsset.Load(path);

        HdrImage honest = tracer.Render(scene, 1, Settings).Image;
        Honest = Encode(honest);
        HonestAgain = Encode(tracer.Render(SceneAsset.Load(path), 1, Settings).Image);
        HonestPerturbed = Encode(Perturbed(honest, 1e-5f));
        OtherSeed = Encode(tracer.Render(scene, 1, Settings with { Seed = 2 }).Image);
        FourSamples = Encode(tracer.Render(scene, 1, Settings with { SamplesPerPixel = 4 }).Image);
        NextFrame = Encode(tracer.Render(scene, 2, Settings).Image);
    }

    /// <summary>Frame 1 at 64 spp, seed 1: what the validator's re-render yields.</summary>
    public Image<Rgb24> Honest { get; }

    /// <summary>The same frame and settings rendered again from a freshly loaded scene.</summary>
    public Image<Rgb24> HonestAgain { get; }

    /// <summary>
    /// The honest radiance with every value scaled by a random factor within 1 ± 1e-5 before encoding: a model
    /// of float rounding on another driver (only lavapipe is at hand).
    /// </summary>
    public Image<Rgb24> HonestPerturbed { get; }

    /// <summary>Same frame and samples with seed 2: honest work, but not the job's random streams.</summary>
    public Image<Rgb24> OtherSeed { get; }

    /// <summary>The cheap cheat: 4 samples per pixel instead of 64.</summary>
    public Image<Rgb24> FourSamples { get; }

    /// <summary>The neighbouring animation frame delivered for frame 1.</summary>
    public Image<Rgb24> NextFrame { get; }

    /// <summary>
    /// Every cheat, named, derived from the renders above. A subtle one changes few pixels by much: it fails most
    /// tiles, not necessarily some tile of every small plan. The caller disposes the images.
    /// </summary>
    public IReadOnlyList<(string Name, Image<Rgb24> Image, bool Subtle)> Cheats() =>
    [
        ("4 spp instead of 64", FourSamples.Clone(), false),
        ("frame 2 instead of 1", NextFrame.Clone(), false),
        ("seed 2 instead of 1", OtherSeed.Clone(), false),
        ("mirrored", TestImages.Mirrored(Honest), false),
        ("shifted 2 px right", TestImages.ShiftedRight(Honest, 2), false),
        ("blank", TestImages.Blank(Size, Size), false),
        ("noise", TestImages.Noise(Size, Size, seed: 7), false),
        ("downscaled 2x, upscaled", TestImages.DownscaledThenUpscaled(Honest, 2), false),
        ("JPEG q75 re-encode", TestImages.ReencodedAsJpeg(Honest, 75), false),
        ("JPEG q95 re-encode", TestImages.ReencodedAsJpeg(Honest, 95), true),
    ];

    public void Dispose()
    {
        Honest.Dispose();
        HonestAgain.Dispose();
        HonestPerturbed.Dispose();
        OtherSeed.Dispose();
        FourSamples.Dispose();
        NextFrame.Dispose();
    }

    private static Image<Rgb24> Encode(HdrImage image)
    {
        using var png = new MemoryStream();
        PngFrameWriter.Write(image, png, Settings.ToneMapping, Settings.ExposureStops, Settings.SixteenBit);
        png.Position = 0;
        return Image.Load<Rgb24>(png);
    }

    private static HdrImage Perturbed(HdrImage image, float relative)
    {
        var random = new Random(3);
        var perturbed = new HdrImage(image.Width, image.Height);
        for (int i = 0; i < image.Pixels.Length; i++)
        {
            perturbed.Pixels[i] = image.Pixels[i] * (1 + (relative * ((2 * random.NextSingle()) - 1)));
        }

        return perturbed;
    }
}

[CollectionDefinition(Name)]
public sealed class CornellBoxCollection : ICollectionFixture<CornellBoxRenders>
{
    public const string Name = "Cornell box renders";
}
