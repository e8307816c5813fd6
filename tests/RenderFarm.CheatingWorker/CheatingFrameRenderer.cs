using System.Diagnostics;
using RenderFarm.Core;
using RenderFarm.Worker;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.CheatingWorker;

/// <summary>
/// Wraps an honest renderer and fakes every frame in one way (<see cref="Cheat"/>). It renders no tiles, so the
/// worker agent never offers it spot checks of other providers' frames.
/// </summary>
internal sealed class CheatingFrameRenderer : IFrameRenderer
{
    /// <summary>How far <see cref="Cheat.Shifted"/> moves the picture, in pixels.</summary>
    public const int ShiftPixels = 2;

    /// <summary>
    /// The JPEG quality of <see cref="Cheat.Reencoded"/>. Measured against the coordinator's spot check (8×8 tiles,
    /// tolerance 0.02 linear, at most 5 % of a tile's pixels beyond it) on the end-to-end job (Cornell box, 32×32,
    /// 8 spp, seed 7, frames 1-24), over every tile a plan can pick: q85 fails 100 % of the tiles with at least 12.5 %
    /// of their pixels beyond the tolerance; q90 also 100 %, but its worst tile has only 6.2 % (one pixel over the
    /// limit); q95 fails 85.6 % (worst frame 78.9 %), q98 6.8 % and q100 none. So q85: the
    /// highest of those measured that is caught with a margin.
    /// </summary>
    public const int JpegQuality = 85;

    private static readonly PngEncoder s_png = new() { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 };

    private readonly IFrameRenderer _honest;
    private readonly Cheat _cheat;

    // Other-job: the first frame ever rendered (honestly) and what it was rendered for.
    private (string Scene, RenderSettings Settings, byte[] Png)? _firstFrame;

    public CheatingFrameRenderer(IFrameRenderer honest, Cheat cheat)
    {
        _honest = honest;
        _cheat = cheat;
    }

    /// <inheritdoc/>
    public string DeviceName => $"{_honest.DeviceName}, cheating: {CheatNames.NameOf(_cheat)}";

    /// <inheritdoc/>
    public async Task<RenderedFrame> RenderAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        int width = settings.Size.Width, height = settings.Size.Height;
        switch (_cheat)
        {
            case Cheat.Blank:
                Save(new Image<Rgb24>(width, height), pngPath);
                break;
            case Cheat.Noise:
                var noise = new Image<Rgb24>(width, height);
                noise.ProcessPixelRows(rows =>
                {
                    for (int y = 0; y < rows.Height; y++)
                    {
                        Random.Shared.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.GetRowSpan(y)));
                    }
                });
                Save(noise, pngPath);
                break;
            case Cheat.OtherFrame:
                await _honest.RenderAsync(scenePath, frame > 1 ? frame - 1 : frame + 1, settings, pngPath, cancellationToken);
                break;
            case Cheat.Mirrored:
                Save(Transform(await RenderHonestAsync(scenePath, frame, settings, pngPath, cancellationToken), i => i.Flip(FlipMode.Horizontal)), pngPath);
                break;
            case Cheat.Shifted:
                Save(Shift(await RenderHonestAsync(scenePath, frame, settings, pngPath, cancellationToken)), pngPath);
                break;
            case Cheat.LowSpp:
                await _honest.RenderAsync(scenePath, frame, settings with { SamplesPerPixel = Math.Max(1, settings.SamplesPerPixel / 8) }, pngPath, cancellationToken);
                break;
            case Cheat.Downscaled:
                var half = new ImageSize(Math.Max(1, width / 2), Math.Max(1, height / 2));
                await _honest.RenderAsync(scenePath, frame, settings with { Size = half }, pngPath, cancellationToken);
                Save(Transform(Load(pngPath), i => i.Resize(width, height, KnownResamplers.Triangle)), pngPath);
                break;
            case Cheat.OtherJob:
                if (_firstFrame is { } first && (first.Scene != scenePath || first.Settings != settings))
                {
                    await File.WriteAllBytesAsync(pngPath, first.Png, cancellationToken);
                }
                else
                {
                    await _honest.RenderAsync(scenePath, frame, settings, pngPath, cancellationToken);
                    _firstFrame ??= (scenePath, settings, await File.ReadAllBytesAsync(pngPath, cancellationToken));
                }

                break;
            case Cheat.Reencoded:
                Save(Reencode(await RenderHonestAsync(scenePath, frame, settings, pngPath, cancellationToken)), pngPath);
                break;
            default:
                throw new UnreachableException($"No cheat {_cheat}.");
        }

        return new RenderedFrame(clock.Elapsed, (long)width * height * settings.SamplesPerPixel);
    }

    private async Task<Image<Rgb24>> RenderHonestAsync(string scenePath, int frame, RenderSettings settings, string pngPath, CancellationToken cancellationToken)
    {
        await _honest.RenderAsync(scenePath, frame, settings, pngPath, cancellationToken);
        return Load(pngPath);
    }

    private static Image<Rgb24> Load(string path) => Image.Load<Rgb24>(path);

    private static Image<Rgb24> Transform(Image<Rgb24> image, Action<IImageProcessingContext> operation)
    {
        image.Mutate(operation);
        return image;
    }

    private static Image<Rgb24> Shift(Image<Rgb24> image)
    {
        using Image<Rgb24> source = image.Clone();
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                image[x, y] = source[Math.Max(0, x - ShiftPixels), Math.Max(0, y - ShiftPixels)];
            }
        }

        return image;
    }

    private static Image<Rgb24> Reencode(Image<Rgb24> image)
    {
        using (image)
        {
            using var jpeg = new MemoryStream();
            image.SaveAsJpeg(jpeg, new JpegEncoder { Quality = JpegQuality });
            jpeg.Position = 0;
            return Image.Load<Rgb24>(jpeg);
        }
    }

    private static void Save(Image<Rgb24> image, string pngPath)
    {
        using (image)
        {
            image.SaveAsPng(pngPath, s_png);
        }
    }
}
