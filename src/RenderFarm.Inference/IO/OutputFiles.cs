using System.Text;
using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>Names and writes per-item output files: <c>DIR/&lt;input-stem&gt;.&lt;output-name&gt;.npy</c> (and <c>.png</c>).</summary>
public static class OutputFiles
{
    /// <summary>
    /// The file name for output <paramref name="outputName"/> of the item <paramref name="stem"/>; characters
    /// other than letters, digits, '-', '_' and '.' in the output name become '_' (ONNX names may hold '/' or ':').
    /// </summary>
    public static string FileName(string stem, string outputName, string extension)
    {
        ArgumentNullException.ThrowIfNull(stem);
        ArgumentNullException.ThrowIfNull(outputName);
        ArgumentNullException.ThrowIfNull(extension);
        var safe = new StringBuilder(outputName.Length);
        foreach (char c in outputName)
        {
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        }

        return $"{stem}.{(safe.Length == 0 ? "output" : safe.ToString())}{extension}";
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> atomically: to a temporary file in the
    /// same folder, then renamed over the target, so a reader never sees a half-written file.
    /// </summary>
    /// <exception cref="UserInputException">The folder cannot be written.</exception>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temporary = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new UserInputException($"Cannot write {path}: {exception.Message}", exception);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Best effort: the temporary file is hidden and named as such.
        }
    }
}
