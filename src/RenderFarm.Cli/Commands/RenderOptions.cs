using System.CommandLine;
using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>The options every rendering command shares, and how they become <see cref="RenderSettings"/>.</summary>
internal sealed class RenderOptions
{
    /// <summary>The long side of a frame when <c>--size</c> is not given and the camera says its aspect, as Blender's 1920×1080 default.</summary>
    public const int DefaultLongSide = 1920;

    public Option<string?> Size { get; } = new("--size")
    {
        Description = $"Frame size WIDTHxHEIGHT, or WIDTH alone for the camera's aspect; default {DefaultLongSide} on the long side at the camera's aspect (512x512 when the camera does not say).",
    };

    public Option<int> Samples { get; } = new("--spp") { Description = "Samples per pixel.", DefaultValueFactory = _ => 64 };

    public Option<uint> Seed { get; } = new("--seed") { Description = "Job seed: with frame, pixel and sample index it fixes every random number." };

    public Option<int> Bounces { get; } = new("--bounces") { Description = "Most bounces after the camera ray.", DefaultValueFactory = _ => 8 };

    public Option<ToneMapping> ToneMapping { get; } = new("--tonemap") { Description = "Display transform: aces (filmic) or clamp (like Blender's Standard).", DefaultValueFactory = _ => Core.ToneMapping.Aces };

    public Option<float> Exposure { get; } = new("--exposure") { Description = "Exposure in stops before tone mapping." };

    public Option<string> Background { get; } = new("--background") { Description = "Uniform environment radiance, V or R,G,B (linear).", DefaultValueFactory = _ => "0" };

    public Option<bool> SixteenBit { get; } = new("--16bit") { Description = "Write 16-bit PNGs." };

    public Option<double> FramesPerSecond { get; } = new("--fps") { Description = "Frames per second of the animation timeline.", DefaultValueFactory = _ => 24 };

    public Option<BsdfModel> Bsdf { get; } = new("--bsdf") { Description = "Surface model: principled (like Blender's Principled BSDF) or gltf (the glTF specification's appendix).", DefaultValueFactory = _ => BsdfModel.Principled };

    public Option<int?> Device { get; } = new("--device") { Description = "Vulkan device index (see 'renderfarm devices'); default: the first discrete GPU, else lavapipe." };

    public void AddTo(Command command)
    {
        command.Options.Add(Size);
        command.Options.Add(Samples);
        command.Options.Add(Seed);
        command.Options.Add(Bounces);
        command.Options.Add(ToneMapping);
        command.Options.Add(Exposure);
        command.Options.Add(Background);
        command.Options.Add(SixteenBit);
        command.Options.Add(FramesPerSecond);
        command.Options.Add(Device);
        command.Options.Add(Bsdf);
    }

    /// <summary>
    /// The frame size asked for: <c>WIDTHxHEIGHT</c> as written; <c>WIDTH</c> alone, or nothing, at the camera's
    /// aspect (<paramref name="cameraAspect"/>; square when it is null), nothing meaning <see cref="DefaultLongSide"/>
    /// on the long side (512x512 without an aspect).
    /// </summary>
    public static ImageSize ResolveSize(string? text, float? cameraAspect)
    {
        if (text is not null && text.Contains('x', StringComparison.OrdinalIgnoreCase))
        {
            return ImageSize.Parse(text);
        }

        if (text is null)
        {
            return cameraAspect is not { } aspect ? new ImageSize(512, 512)
                : aspect >= 1 ? new ImageSize(DefaultLongSide, Side(DefaultLongSide / aspect))
                : new ImageSize(Side(DefaultLongSide * aspect), DefaultLongSide);
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int width))
        {
            return ImageSize.Parse(text);
        }

        return new ImageSize(width, cameraAspect is { } a ? Side(width / a) : width);
    }

    // A side from an aspect: rounded, at least 1 and at most the largest side (ImageSize refuses past it with one line).
    private static int Side(double value) => (int)Math.Clamp(Math.Round(value), 1, ImageSize.MaxDimension + 1);

    public RenderSettings Read(ParseResult result)
    {
        var settings = new RenderSettings
        {
            Size = ResolveSize(result.GetValue(Size), null),
            SamplesPerPixel = result.GetValue(Samples),
            Seed = result.GetValue(Seed),
            MaxBounces = result.GetValue(Bounces),
            ToneMapping = result.GetValue(ToneMapping),
            ExposureStops = result.GetValue(Exposure),
            Background = LinearColor.Parse(result.GetValue(Background)!),
            SixteenBit = result.GetValue(SixteenBit),
            FramesPerSecond = result.GetValue(FramesPerSecond),
            Bsdf = result.GetValue(Bsdf),
        };
        settings.Validate();
        return settings;
    }
}
