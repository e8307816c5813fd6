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

    public Option<string> ToneMapping { get; } = new("--view", "--tonemap")
    {
        Description = "View transform of the PNGs: aces (Narkowicz's ACES fit), filmic (Blender's default Filmic) or standard (a plain clamp, Blender's Standard; also 'clamp'). Frames are verified before it applies.",
        DefaultValueFactory = _ => "aces",
    };

    public Option<float> Exposure { get; } = new("--exposure") { Description = "Exposure in stops before tone mapping." };

    public Option<string> Background { get; } = new("--background") { Description = "Uniform environment radiance, V or R,G,B (linear).", DefaultValueFactory = _ => "0" };

    public Option<bool> SixteenBit { get; } = new("--16bit") { Description = "Write 16-bit PNGs." };

    public Option<double> FramesPerSecond { get; } = new("--fps") { Description = "Frames per second of the animation timeline.", DefaultValueFactory = _ => 24 };

    public Option<string?> Camera { get; } = new("--camera") { Description = "Render through the scene's camera of this name (default: its first camera)." };

    public Option<BsdfModel> Bsdf { get; } = new("--bsdf") { Description = "Surface model: principled (like Blender's Principled BSDF) or gltf (the glTF specification's appendix).", DefaultValueFactory = _ => BsdfModel.Principled };

    public Option<string?> Environment { get; } = new("--environment")
    {
        Description = "An equirectangular environment map (Radiance .hdr or OpenEXR) lighting the scene in place of --background; it travels with the job to the farm.",
    };

    public Option<float?> EnvironmentStrength { get; } = new("--environment-strength") { Description = "Scales the environment map's radiance (default 1), as Blender's Background strength." };

    public Option<float?> EnvironmentRotation { get; } = new("--environment-rotation") { Description = "Turns the environment map about the vertical axis, in degrees (default 0), as a Mapping node's Z rotation." };

    public Option<int?> Device { get; } = new("--device") { Description = "Vulkan device index (see 'renderfarm devices'); default: the first discrete GPU, else lavapipe." };

    // The names --view takes: Blender's view names, and the older 'clamp' for Standard.
    private static Core.ToneMapping ParseView(string text) => text.ToLowerInvariant() switch
    {
        "aces" => Core.ToneMapping.Aces,
        "filmic" => Core.ToneMapping.Filmic,
        "standard" or "clamp" => Core.ToneMapping.Clamp,
        _ => throw new UserInputException($"--view must be aces, filmic or standard; got '{text}'."),
    };

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
        command.Options.Add(Camera);
        command.Options.Add(Bsdf);
        command.Options.Add(Environment);
        command.Options.Add(EnvironmentStrength);
        command.Options.Add(EnvironmentRotation);
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
            ToneMapping = ParseView(result.GetValue(ToneMapping)!),
            ExposureStops = result.GetValue(Exposure),
            Background = LinearColor.Parse(result.GetValue(Background)!),
            SixteenBit = result.GetValue(SixteenBit),
            FramesPerSecond = result.GetValue(FramesPerSecond),
            Camera = result.GetValue(Camera),
            Bsdf = result.GetValue(Bsdf),
            Environment = ReadEnvironment(result),
        };
        settings.Validate();
        return settings;
    }

    /// <summary>The environment map file <c>--environment</c> names; null without one.</summary>
    public string? EnvironmentPath(ParseResult result) => result.GetValue(Environment);

    // The map is read here, by the reader every worker uses, so a file the farm would refuse is refused before anything
    // is uploaded; the job names it by the SHA-256 of its bytes.
    private EnvironmentMapSettings? ReadEnvironment(ParseResult result)
    {
        float? strength = result.GetValue(EnvironmentStrength);
        float? rotation = result.GetValue(EnvironmentRotation);
        if (result.GetValue(Environment) is not { } path)
        {
            return strength is null && rotation is null
                ? null
                : throw new UserInputException("--environment-strength and --environment-rotation need --environment FILE.");
        }

        if (LinearColor.Parse(result.GetValue(Background)!) != default)
        {
            throw new UserInputException("--environment replaces the uniform --background; give one of them.");
        }

        _ = Rendering.Lighting.EnvironmentFile.Read(path);
        string sha256;
        try
        {
            using FileStream file = File.OpenRead(path);
            sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(file));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Cannot read environment map '{path}': {exception.Message}", exception);
        }

        var environment = new EnvironmentMapSettings(sha256, strength ?? 1f, rotation ?? 0f);
        environment.Validate();
        return environment;
    }
}
