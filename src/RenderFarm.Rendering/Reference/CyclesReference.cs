using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Reference;

/// <summary>The outcome of one Cycles render.</summary>
/// <param name="ImagePath">The PNG written (Standard view transform: a plain sRGB clamp).</param>
/// <param name="RenderTime">Time of the render call alone, as Blender's script measured it.</param>
/// <param name="ProcessTime">Time of the whole Blender process, start-up and scene import included.</param>
/// <param name="RenderCpuTime">
/// CPU time of Blender's process (all its threads) over the render call alone, as the script measured it; null when the
/// script did not print it. On a machine shared with other work it counts the render's work, not the waiting.
/// </param>
public sealed record CyclesRender(string ImagePath, TimeSpan RenderTime, TimeSpan ProcessTime, TimeSpan? RenderCpuTime = null);

/// <summary>
/// Renders a glTF scene with Blender's Cycles on the CPU through <c>samples/tools/cycles_render.py</c>,
/// the peer renderer our images and speed are compared with.
/// </summary>
public static partial class CyclesReference
{
    /// <summary>The script, relative to the repository root.</summary>
    public const string ScriptPath = "samples/tools/cycles_render.py";

    /// <summary>
    /// Renders <paramref name="frame"/> of <paramref name="scenePath"/> to <paramref name="outputPath"/>.
    /// </summary>
    /// <exception cref="UserInputException">Blender is missing or the render failed.</exception>
    public static Task<CyclesRender> RenderAsync(
        string blender,
        string scriptPath,
        string scenePath,
        int frame,
        ImageSize size,
        int samplesPerPixel,
        int? threads,
        string outputPath,
        CancellationToken cancellationToken = default) =>
        RenderAsync(blender, scriptPath, scenePath, frame, size, samplesPerPixel, threads, outputPath, [], cancellationToken);

    /// <summary>
    /// Renders as the overload above, passing <paramref name="scriptArguments"/> (such as <c>--environment</c>) on to
    /// the script, and writes the linear image to <paramref name="linearOutputPath"/> (a PFM, see
    /// <see cref="Imaging.PfmFile"/>) when one is given; <paramref name="seed"/> is Cycles' sampling seed.
    /// </summary>
    /// <exception cref="UserInputException">Blender is missing or the render failed.</exception>
    public static async Task<CyclesRender> RenderAsync(
        string blender,
        string scriptPath,
        string scenePath,
        int frame,
        ImageSize size,
        int samplesPerPixel,
        int? threads,
        string outputPath,
        IReadOnlyList<string> scriptArguments,
        CancellationToken cancellationToken = default,
        string? linearOutputPath = null,
        int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(scriptArguments);
        var start = new ProcessStartInfo(blender)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-b", "--factory-startup", "--python-exit-code", "1", "-P", scriptPath, "--" })
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--scene");
        start.ArgumentList.Add(scenePath);
        start.ArgumentList.Add("--frame");
        start.ArgumentList.Add(frame.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--size");
        start.ArgumentList.Add(size.ToString());
        start.ArgumentList.Add("--spp");
        start.ArgumentList.Add(samplesPerPixel.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--out");
        start.ArgumentList.Add(outputPath);
        if (seed != 0)
        {
            start.ArgumentList.Add("--seed");
            start.ArgumentList.Add(seed.ToString(CultureInfo.InvariantCulture));
        }

        if (linearOutputPath is not null)
        {
            start.ArgumentList.Add("--pfm");
            start.ArgumentList.Add(linearOutputPath);
        }

        if (threads is int count)
        {
            start.ArgumentList.Add("--threads");
            start.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
        }

        foreach (string argument in scriptArguments)
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new UserInputException($"Could not start '{blender}'.");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new UserInputException(
                $"Blender was not found ('{blender}'): install it (sudo apt-get install blender python3-numpy) or pass its path.", exception);
        }

        using (process)
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> errors = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            string stdout = await output.ConfigureAwait(false);
            string stderr = await errors.ConfigureAwait(false);
            clock.Stop();
            Match match = TimingLine().Match(stdout);
            if (process.ExitCode != 0 || !match.Success || !File.Exists(outputPath))
            {
                string tail = string.Join('\n', (stdout + stderr).Split('\n').TakeLast(15));
                throw new UserInputException($"Blender failed to render {scenePath} (exit code {process.ExitCode}):\n{tail}");
            }

            double seconds = double.Parse(match.Groups["seconds"].Value, CultureInfo.InvariantCulture);
            TimeSpan? cpu = match.Groups["cpu"].Success
                ? TimeSpan.FromSeconds(double.Parse(match.Groups["cpu"].Value, CultureInfo.InvariantCulture))
                : null;
            return new CyclesRender(outputPath, TimeSpan.FromSeconds(seconds), clock.Elapsed, cpu);
        }
    }

    [GeneratedRegex(@"^cycles: .* wall (?<seconds>[0-9.]+)s(?: cpu (?<cpu>[0-9.]+)s)?", RegexOptions.Multiline)]
    private static partial Regex TimingLine();
}
