using System.Globalization;
using System.Text;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Scene;

/// <summary>Which files besides the scene file itself a load may read.</summary>
public enum SceneFileAccess
{
    /// <summary>
    /// Files the scene names by relative URIs inside its own folder and its subfolders, as a glTF "Separate"
    /// export writes them (.gltf + .bin + textures). For scenes on the artist's own machine.
    /// </summary>
    Folder,

    /// <summary>
    /// None: every buffer and image must be inside the file (a .glb, or a .gltf with data: URIs). For uploaded
    /// scenes, on the coordinator and on workers, whose folders hold other files.
    /// </summary>
    SelfContained,
}

/// <summary>
/// The one rule for what a scene's buffer and image URIs may name (DESIGN.md, decision 9): a scene is a closed
/// bundle. A URI is a <c>data:</c> URI, or a relative path of plain names below the scene's folder; anything
/// else (absolute paths, <c>..</c>, other schemes, drive letters, backslashes, percent-encoded escapes of any
/// of these, symbolic links, device files) is refused in one line that names the URI and no local path. The
/// glTF reader gets its files only through <see cref="Read"/>, so nothing outside the bundle is ever opened.
/// </summary>
internal sealed class SceneBundle
{
    private const int MaxUriLength = 1024;

    private readonly string _displayName;
    private readonly string _root;
    private readonly SceneFileAccess _access;
    private long _bytesRead;

    /// <summary>Creates the rule for the scene file <paramref name="scenePath"/>.</summary>
    public SceneBundle(string scenePath, SceneFileAccess access)
    {
        _displayName = Path.GetFileName(scenePath);
        _root = Path.GetDirectoryName(Path.GetFullPath(scenePath)) ?? Directory.GetCurrentDirectory();
        _access = access;
    }

    /// <summary>Whether <paramref name="uri"/> is embedded data rather than a file name.</summary>
    public static bool IsDataUri(string uri) => uri.StartsWith("data:", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Checks a buffer's or image's URI without reading anything.
    /// </summary>
    /// <returns>The relative path it names, with '/' separators; null for a data: URI.</returns>
    /// <exception cref="UserInputException">The URI names something outside the bundle.</exception>
    public string? Check(string uri)
    {
        if (IsDataUri(uri))
        {
            return null;
        }

        string name = RelativeName(uri);
        if (_access == SceneFileAccess.SelfContained)
        {
            throw Refuse(uri, "the scene must carry its buffers and images inside it (a .glb, or a .gltf with data: URIs; `renderfarm render` packs a .gltf and its files into a .glb)");
        }

        return name;
    }

    /// <summary>The glTF reader's file callback: the bytes of a file inside the bundle.</summary>
    /// <exception cref="UserInputException">The URI names something outside the bundle, or the file is missing, empty, not a plain file, or past the size budget.</exception>
    public ArraySegment<byte> Read(string? uri)
    {
        if (string.IsNullOrEmpty(uri))
        {
            throw new UserInputException($"'{_displayName}' has a buffer without a uri outside a .glb's binary chunk.");
        }

        if (IsDataUri(uri))
        {
            // The reader decodes the data: URIs it knows; any other reaches here.
            throw new UserInputException($"'{_displayName}' has a data: URI of a type it cannot read ('{Shorten(uri, 48)}').");
        }

        string name = Check(uri)!;
        string path = _root;
        foreach (string segment in name.Split('/'))
        {
            path = Path.Combine(path, segment);

            // A link may point anywhere; a bundle holds plain files and folders only.
            if (new FileInfo(path).LinkTarget is not null)
            {
                throw Refuse(uri, "it goes through a symbolic link");
            }
        }

        var file = new FileInfo(path);
        if (!file.Exists)
        {
            throw new UserInputException($"'{_displayName}' names the file '{Shorten(uri, 120)}', which is not in the scene's folder.");
        }

        // Devices, FIFOs and /proc entries report a size of 0; opening one could block or never end.
        long length = file.Length;
        if (length == 0)
        {
            throw new UserInputException($"'{_displayName}' names the file '{Shorten(uri, 120)}', which is empty or not a plain file.");
        }

        long total = checked(_bytesRead + length);
        if (total > SceneLimits.MaxBundleBytes)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{_displayName}' and its files come to more than {SceneLimits.MaxBundleBytes} bytes (the scene size limit) at '{Shorten(uri, 120)}'."));
        }

        byte[] bytes = new byte[length];
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            stream.ReadExactly(bytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"'{_displayName}' names the file '{Shorten(uri, 120)}', which could not be read.", ex);
        }

        _bytesRead = total;
        return new ArraySegment<byte>(bytes);
    }

    // The relative path a URI names once percent-decoded, or a refusal saying why it leaves the bundle.
    private string RelativeName(string uri)
    {
        if (uri.Length == 0)
        {
            throw new UserInputException($"'{_displayName}' has a buffer or image with an empty uri.");
        }

        if (uri.Length > MaxUriLength)
        {
            throw Refuse(uri, string.Create(CultureInfo.InvariantCulture, $"it is longer than {MaxUriLength} characters"));
        }

        // Checked before and after decoding, so "%2e%2e%2f" and "%5c" are caught like their plain forms.
        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(uri);
        }
        catch (UriFormatException)
        {
            throw Refuse(uri, "it is not a valid URI");
        }

        foreach (string form in (string[])[uri, decoded])
        {
            if (form.Contains(':', StringComparison.Ordinal))
            {
                throw Refuse(uri, "only data: URIs and relative file names are allowed (no schemes, no drive letters)");
            }

            if (form.Contains('\\', StringComparison.Ordinal))
            {
                throw Refuse(uri, "it contains a backslash");
            }

            if (form.Any(char.IsControl))
            {
                throw Refuse(uri, "it contains control characters");
            }

            if (form.StartsWith('/'))
            {
                throw Refuse(uri, "it is an absolute path");
            }
        }

        if (uri.Contains('?', StringComparison.Ordinal) || uri.Contains('#', StringComparison.Ordinal))
        {
            throw Refuse(uri, "it has a query or fragment");
        }

        // "./textures/a.png" is harmless and some exporters write it; any ".." is refused, even one that stays inside.
        if (decoded.Split('/').Contains(".."))
        {
            throw Refuse(uri, "it must be a path of plain names below the scene's folder, without '..'");
        }

        string full = Path.GetFullPath(Path.Combine(_root, decoded));
        if (!full.StartsWith(_root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw Refuse(uri, "it leaves the scene's folder");
        }

        return decoded;
    }

    private UserInputException Refuse(string uri, string why) =>
        new($"'{_displayName}' refers to '{Shorten(uri, 120)}', outside the scene: {why}.");

    // The URI as the client wrote it, bounded and with control characters escaped, so a message stays one line.
    private static string Shorten(string text, int max)
    {
        var builder = new StringBuilder(Math.Min(text.Length, max) + 3);
        foreach (char c in text.Length > max ? text.AsSpan(0, max) : text.AsSpan())
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return text.Length > max ? builder.Append("...").ToString() : builder.ToString();
    }
}
