using System.Diagnostics;
using System.Globalization;
using RenderFarm.Cli.Commands;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// The client's side of a denoised farm job: each verified frame (the provider's noisy EXR with its AOVs,
/// <see cref="FarmFrame"/>) is read, denoised with <see cref="Denoiser"/> and written as the output asks, with the
/// deterministic calls anyone holding the verified file can repeat. The denoiser runs after verification, on pixels the farm verified.
/// </summary>
internal static class DenoisedFrames
{
    /// <summary>A frame writer for <see cref="Client.FrameDownloader"/>: denoises the verified bytes into the file at the given path.</summary>
    /// <param name="settings">The job's settings (an EXR job with <see cref="RenderSettings.Denoise"/>).</param>
    /// <param name="output">What to write: the denoised EXR with the noisy frame beside it, or a PNG of the denoised frame.</param>
    /// <param name="report">Receives one line per frame.</param>
    public static Func<int, byte[], string, CancellationToken, Task> Writer(RenderSettings settings, FrameOutput output, Action<string> report) =>
        async (frame, bytes, path, cancellationToken) =>
        {
            // The denoiser is CPU work: off the caller's thread; the line is reported back on it.
            string line = await Task.Run(
                () =>
                {
                    (HdrImage noisy, FrameAovs aovs) = Read(frame, bytes, settings);
                    var clock = Stopwatch.StartNew();
                    HdrImage denoised = Denoiser.Denoise(noisy, aovs);
                    double seconds = clock.Elapsed.TotalSeconds;
                    Write(path, denoised, noisy, aovs, settings, output);
                    return string.Create(CultureInfo.InvariantCulture, $"frame {frame,5}: {seconds:F2} s denoise -> {Path.GetFileName(path)}");
                },
                cancellationToken).ConfigureAwait(false);
            report(line);
        };

    /// <summary>Writes the denoised frame: an EXR with the AOVs and the noisy frame beside it, or a tone-mapped PNG.</summary>
    public static void Write(string path, HdrImage denoised, HdrImage noisy, FrameAovs aovs, RenderSettings settings, FrameOutput output)
    {
        if (output.Format == FrameFormat.Exr)
        {
            ExrFrame.Write(path, denoised, aovs, FarmFrame.PixelType(output.ExrDepth), noisy);
        }
        else
        {
            PngFrameWriter.Write(denoised, path, settings.ToneMapping, settings.ExposureStops, settings.SixteenBit);
        }
    }

    private static (HdrImage Noisy, FrameAovs Aovs) Read(int frame, byte[] bytes, RenderSettings settings)
    {
        try
        {
            return FarmFrame.Read(bytes, settings.Size, settings.ExrDepth);
        }
        catch (UserInputException ex)
        {
            // The coordinator accepted this file, so it should never fail here; say which frame did.
            throw new UserInputException($"Verified frame {frame} cannot be denoised: {ex.Message}", ex);
        }
    }
}
