using System.CommandLine;
using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>The options every rendering command shares, and how they become <see cref="RenderSettings"/>.</summary>
internal sealed class RenderOptions
{
    public Option<string> Size { get; } = new("--size") { Description = "Frame size WIDTHxHEIGHT.", DefaultValueFactory = _ => "512x512" };

    public Option<int> Samples { get; } = new("--spp") { Description = "Samples per pixel.", DefaultValueFactory = _ => 64 };

    public Option<uint> Seed { get; } = new("--seed") { Description = "Job seed: with frame, pixel and sample index it fixes every random number." };

    public Option<int> Bounces { get; } = new("--bounces") { Description = "Most bounces after the camera ray.", DefaultValueFactory = _ => 8 };

    public Option<ToneMapping> ToneMapping { get; } = new("--tonemap") { Description = "Display transform: aces (filmic) or clamp (like Blender's Standard).", DefaultValueFactory = _ => Core.ToneMapping.Aces };

    public Option<float> Exposure { get; } = new("--exposure") { Description = "Exposure in stops before tone mapping." };

    public Option<string> Background { get; } = new("--background") { Description = "Uniform environment radiance, V or R,G,B (linear).", DefaultValueFactory = _ => "0" };

    public Option<bool> SixteenBit { get; } = new("--16bit") { Description = "Write 16-bit PNGs." };

    public Option<double> FramesPerSecond { get; } = new("--fps") { Description = "Frames per second of the animation timeline.", DefaultValueFactory = _ => 24 };

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
    }

    public RenderSettings Read(ParseResult result)
    {
        var settings = new RenderSettings
        {
            Size = ImageSize.Parse(result.GetValue(Size)!),
            SamplesPerPixel = result.GetValue(Samples),
            Seed = result.GetValue(Seed),
            MaxBounces = result.GetValue(Bounces),
            ToneMapping = result.GetValue(ToneMapping),
            ExposureStops = result.GetValue(Exposure),
            Background = LinearColor.Parse(result.GetValue(Background)!),
            SixteenBit = result.GetValue(SixteenBit),
            FramesPerSecond = result.GetValue(FramesPerSecond),
        };
        settings.Validate();
        return settings;
    }
}
