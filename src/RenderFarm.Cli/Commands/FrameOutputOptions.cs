using System.CommandLine;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Cli.Commands;

/// <summary>The file format of written frames.</summary>
internal enum FrameFormat
{
    /// <summary>Tone-mapped sRGB PNG, as the farm stores and verifies it.</summary>
    Png,

    /// <summary>Linear multi-channel OpenEXR with the AOVs, for compositing.</summary>
    Exr,
}

/// <summary>What to write for each frame: its format, the EXR's precision, and whether to denoise.</summary>
/// <param name="Format">PNG or EXR.</param>
/// <param name="ExrDepth">HALF or FLOAT for the EXR's channels (Z is always FLOAT).</param>
/// <param name="Denoise">Whether the written frame is denoised.</param>
internal sealed record FrameOutput(FrameFormat Format, ExrPixelType ExrDepth, bool Denoise)
{
    /// <summary>
    /// Whether the frames are rendered on this machine rather than through a farm: an EXR holds the linear frame and
    /// its AOVs, and the denoiser needs both, but a farm delivers verified, tone-mapped PNG frames only.
    /// </summary>
    public bool RendersHere => Format == FrameFormat.Exr || Denoise;

    /// <summary>The file name of a frame: <c>frame_0001.png</c> or <c>frame_0001.exr</c>.</summary>
    public string FileName(int frame) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture, $"frame_{frame:D4}.{(Format == FrameFormat.Exr ? "exr" : "png")}");
}

/// <summary>The <c>render</c> command's output options.</summary>
internal sealed class FrameOutputOptions
{
    public Option<FrameFormat> Format { get; } = new("--format")
    {
        Description = "Frame files: png (tone-mapped, through the farm) or exr (linear RGB with albedo, normal and depth AOVs, rendered on this machine).",
        DefaultValueFactory = _ => FrameFormat.Png,
    };

    public Option<ExrPixelType> ExrDepth { get; } = new("--exr-depth")
    {
        Description = "With --format exr: half or float channels (depth is always float).",
        DefaultValueFactory = _ => ExrPixelType.Half,
    };

    public Option<bool> Denoise { get; } = new("--denoise")
    {
        Description = "Denoise each frame with its AOVs (edge-aware à-trous filter) before writing it; rendered on this machine.",
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

        if (output.ExrDepth is not (ExrPixelType.Half or ExrPixelType.Float))
        {
            throw new UserInputException($"--exr-depth must be half or float; got {output.ExrDepth}.");
        }

        return output;
    }
}
