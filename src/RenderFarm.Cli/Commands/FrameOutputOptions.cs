using System.CommandLine;
using RenderFarm.Core;

namespace RenderFarm.Cli.Commands;

/// <summary>What to write for each frame: its format, the EXR's precision, and whether to denoise.</summary>
/// <param name="Format">PNG or EXR.</param>
/// <param name="ExrDepth">HALF or FLOAT for the EXR's channels (Z is always FLOAT).</param>
/// <param name="Denoise">Whether the written frame is denoised.</param>
internal sealed record FrameOutput(FrameFormat Format, ExrDepth ExrDepth, bool Denoise)
{
    /// <summary>The file name of a frame: <c>frame_0001.png</c> or <c>frame_0001.exr</c>.</summary>
    public string FileName(int frame) => Client.FrameDownloader.FrameFileName(frame, Format);

    /// <summary>
    /// The settings a farm job needs for this output. An EXR is delivered as asked; a denoised PNG needs the linear
    /// frame and its AOVs too, so its job delivers a float EXR (the denoiser then reads the frame exactly as rendered)
    /// and the client writes the PNG after denoising it.
    /// </summary>
    public RenderSettings Apply(RenderSettings settings) => this switch
    {
        { Format: FrameFormat.Exr } => settings with { Format = FrameFormat.Exr, ExrDepth = ExrDepth, Denoise = Denoise },
        { Denoise: true } => settings with { Format = FrameFormat.Exr, ExrDepth = ExrDepth.Float, Denoise = true },
        _ => settings,
    };
}

/// <summary>The <c>render</c> command's output options.</summary>
internal sealed class FrameOutputOptions
{
    public Option<FrameFormat> Format { get; } = new("--format")
    {
        Description = "Frame files: png (tone-mapped) or exr (linear RGB with albedo, normal and depth AOVs); both are verified on the farm.",
        DefaultValueFactory = _ => FrameFormat.Png,
    };

    public Option<ExrDepth> ExrDepth { get; } = new("--exr-depth")
    {
        Description = "With --format exr: half or float channels (depth is always float).",
        DefaultValueFactory = _ => Core.ExrDepth.Half,
    };

    public Option<bool> Denoise { get; } = new("--denoise")
    {
        Description = "Denoise each verified frame with its AOVs (edge-aware à-trous filter) on this machine, after the farm verified the noisy frame.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Format);
        command.Options.Add(ExrDepth);
        command.Options.Add(Denoise);
    }

    public FrameOutput Read(ParseResult result)
    {
        var output = new FrameOutput(result.GetValue(Format), result.GetValue(ExrDepth), result.GetValue(Denoise));
        if (output.Format != FrameFormat.Exr && result.GetResult(ExrDepth) is { Implicit: false })
        {
            throw new UserInputException("--exr-depth needs --format exr.");
        }

        if (!Enum.IsDefined(output.ExrDepth) || !Enum.IsDefined(output.Format))
        {
            throw new UserInputException($"--format must be png or exr and --exr-depth half or float; got {output.Format} and {output.ExrDepth}.");
        }

        return output;
    }
}
