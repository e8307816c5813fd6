using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RenderFarm.Core;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// A .blend exported to a GLB through Blender, by the same script as the Blender add-on (<c>export.py</c>): the
/// scene's frame range and fps, Blender frame F as farm frame F − frame_start + 1, modifiers applied, images embedded,
/// and what glTF cannot carry listed as warnings. The GLB lives in a temporary folder removed on dispose.
/// </summary>
internal sealed class BlenderExport : IAsyncDisposable
{
    /// <summary>The variable that names the Blender program when it is not <c>blender</c> on the PATH.</summary>
    public const string BlenderVariable = "RENDERFARM_BLENDER";

    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(10);
    private readonly string _folder;

    private BlenderExport(string folder, string glbPath, Manifest manifest, FrameRange frames)
    {
        _folder = folder;
        GlbPath = glbPath;
        BlenderVersion = manifest.BlenderVersion;
        FramesPerSecond = manifest.FramesPerSecond;
        Warnings = manifest.Warnings;
        Frames = frames;
        SizeText = manifest.Width > 0 && manifest.Height > 0 ? string.Create(CultureInfo.InvariantCulture, $"{manifest.Width}x{manifest.Height}") : null;
        int start = manifest.FrameStart;
        FarmToBlender = farm => farm + start - 1;
    }

    /// <summary>The exported scene.</summary>
    public string GlbPath { get; }

    /// <summary>The Blender that exported it.</summary>
    public string BlenderVersion { get; }

    /// <summary>The scene's frames per second.</summary>
    public double FramesPerSecond { get; }

    /// <summary>What the GLB does not carry, one line each.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The farm frames to render (frame 1 is the scene's frame_start).</summary>
    public FrameRange Frames { get; }

    /// <summary>The scene's render size (resolution × percentage) as WIDTHxHEIGHT, or null when it does not say.</summary>
    public string? SizeText { get; }

    /// <summary>The scene's own number of a farm frame.</summary>
    public Func<int, int> FarmToBlender { get; }

    /// <summary>Whether <paramref name="path"/> names a .blend file.</summary>
    public static bool IsBlendFile(string path) => string.Equals(Path.GetExtension(path), ".blend", StringComparison.OrdinalIgnoreCase);

    /// <summary>Exports <paramref name="blendPath"/>; <paramref name="framesText"/> names Blender frames (default: the scene's range and step).</summary>
    /// <exception cref="UserInputException">Blender is missing, the file cannot be exported, or the frames are outside the scene.</exception>
    public static async Task<BlenderExport> RunAsync(string blendPath, string? framesText, CancellationToken cancellationToken)
    {
        if (!File.Exists(blendPath))
        {
            throw new UserInputException($"Cannot read scene '{blendPath}': the file does not exist.");
        }

        string blender = FindBlender() ?? throw new UserInputException(
            $"Rendering a .blend needs Blender to export it, and none was found: install it (Debian/Ubuntu: sudo apt install blender; or https://www.blender.org/download/ and set {BlenderVariable}=/path/to/blender), or export the scene from Blender with File > Export > glTF 2.0 (.glb) and render that.");
        string folder = Directory.CreateTempSubdirectory("renderfarm-blend-").FullName;
        try
        {
            string script = Path.Combine(folder, "export.py");
            await using (Stream source = typeof(BlenderExport).Assembly.GetManifestResourceStream("export.py")!)
            await using (FileStream target = File.Create(script))
            {
                await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
            }

            string glb = Path.Combine(folder, Path.ChangeExtension(Path.GetFileName(blendPath), ".glb"));
            string manifestPath = Path.Combine(folder, "manifest.json");
            var start = new ProcessStartInfo(blender)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in (string[])["--factory-startup", "-b", Path.GetFullPath(blendPath), "--python-exit-code", "3", "--python", script, "--", "--out", glb, "--manifest", manifestPath])
            {
                start.ArgumentList.Add(argument);
            }

            using Process process = Process.Start(start) ?? throw new UserInputException($"Cannot start Blender at '{blender}'.");
            Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_timeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                throw new UserInputException($"Blender did not export '{blendPath}' within {s_timeout.TotalMinutes} minutes.");
            }

            string log = await output.ConfigureAwait(false) + await error.ConfigureAwait(false);
            if (process.ExitCode != 0 || !File.Exists(manifestPath) || !File.Exists(glb))
            {
                throw new UserInputException($"Blender could not export '{blendPath}' (exit code {process.ExitCode}): {LastError(log)}");
            }

            Manifest manifest = JsonSerializer.Deserialize<Manifest>(await File.ReadAllTextAsync(manifestPath, cancellationToken).ConfigureAwait(false), new JsonSerializerOptions(JsonSerializerDefaults.Web))
                ?? throw new UserInputException($"Blender's export of '{blendPath}' wrote no manifest.");
            return new BlenderExport(folder, glb, manifest, FarmFrames(manifest, framesText));
        }
        catch
        {
            Directory.Delete(folder, recursive: true);
            throw;
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A temporary folder left behind is harmless.
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The farm frames for Blender frames <paramref name="framesText"/> (default: the scene's range and step).</summary>
    internal static FrameRange FarmFrames(Manifest manifest, string? framesText)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        FrameRange blenderFrames;
        if (framesText is not null)
        {
            blenderFrames = FrameRange.Parse(framesText);
        }
        else if (manifest.FrameEnd < manifest.FrameStart || manifest.FrameStep < 1 || manifest.FrameStart < 0)
        {
            throw new UserInputException($"The scene's frame range {manifest.FrameStart}-{manifest.FrameEnd} (step {manifest.FrameStep}) cannot be rendered; give --frames.");
        }
        else
        {
            blenderFrames = FrameRange.Parse(manifest.FrameStep == 1
                ? string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, manifest.FrameStart)}-{manifest.FrameEnd}")
                : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, manifest.FrameStart)}-{manifest.FrameEnd}x{manifest.FrameStep}"));
        }

        if (blenderFrames.First < manifest.FrameStart)
        {
            throw new UserInputException($"Frame {blenderFrames.First} is before the scene's first frame, {manifest.FrameStart}.");
        }

        return blenderFrames.Offset(1 - manifest.FrameStart);
    }

    private static string? FindBlender()
    {
        if (Environment.GetEnvironmentVariable(BlenderVariable) is { Length: > 0 } named)
        {
            return File.Exists(named) ? named : throw new UserInputException($"{BlenderVariable} names '{named}', which does not exist.");
        }

        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder, OperatingSystem.IsWindows() ? "blender.exe" : "blender");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string LastError(string log)
    {
        string[] lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string? error = lines.LastOrDefault(l => l.Contains("Error", StringComparison.Ordinal) && !l.Contains("Draco", StringComparison.Ordinal));
        return error ?? (lines.Length > 0 ? lines[^1] : "no output");
    }

    /// <summary>What the export script reports.</summary>
    internal sealed record Manifest(
        string BlenderVersion, int FrameStart, int FrameEnd, int FrameStep, double FramesPerSecond, bool Animated, IReadOnlyList<string> Warnings, int Width = 0, int Height = 0);
}
