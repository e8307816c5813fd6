using System.IO.Compression;
using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>
/// NumPy's <c>.npz</c> archives (<c>np.savez</c>, <c>np.savez_compressed</c>): a zip of <c>NAME.npy</c> arrays. One
/// archive is one batch item of a model with several inputs, its arrays named after the inputs.
/// </summary>
/// <remarks>Archives are hostile input: at most <see cref="MaxArrays"/> arrays of at most <see cref="MaxArrayBytes"/> each.</remarks>
public static class NpzFile
{
    /// <summary>The file extension, with its dot.</summary>
    public const string Extension = ".npz";

    /// <summary>The most arrays an archive may hold.</summary>
    public const int MaxArrays = 256;

    /// <summary>The largest array, uncompressed, in bytes.</summary>
    public const long MaxArrayBytes = 1L << 30;

    /// <summary>The header of every array in the archive, by array name (the entry name without <c>.npy</c>).</summary>
    /// <exception cref="UserInputException">The file is missing, unreadable, not a zip of .npy arrays, or too large.</exception>
    public static IReadOnlyDictionary<string, NpyHeader> ReadHeaders(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var headers = new Dictionary<string, NpyHeader>(StringComparer.Ordinal);
        Visit(path, null, (name, bytes) => headers[name] = NpyFile.ParseHeader(bytes, $"{path}:{name}"));
        return headers;
    }

    /// <summary>Reads the array <paramref name="name"/> of the archive.</summary>
    /// <exception cref="UserInputException">The file is unreadable, malformed, or has no such array.</exception>
    public static Tensor ReadArray(string path, string name)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(name);
        Tensor? found = null;
        Visit(path, name, (_, bytes) => found = NpyFile.Parse(bytes, $"{path}:{name}"));
        return found ?? throw new UserInputException($"{path}: has no array '{name}'.");
    }

    /// <summary>
    /// Reads every array of an archive held in memory, in the archive's order: a farm item's tensors as they travel
    /// between client, coordinator and providers.
    /// </summary>
    /// <param name="bytes">The archive's bytes.</param>
    /// <param name="sourceName">Names the archive in error messages.</param>
    /// <exception cref="UserInputException">The bytes are not a zip of .npy arrays, or an array is malformed or too large.</exception>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> Parse(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(sourceName);
        var arrays = new List<KeyValuePair<string, Tensor>>();
        Visit(() => new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read), sourceName, null, bytes.Length, (name, array) =>
        {
            if (arrays.Any(pair => pair.Key == name))
            {
                throw new UserInputException($"{sourceName}: holds array '{name}' twice.");
            }

            arrays.Add(new(name, NpyFile.Parse(array, $"{sourceName}:{name}")));
        });
        return arrays;
    }

    /// <summary>The header of every array of an archive held in memory, by array name.</summary>
    /// <exception cref="UserInputException">The bytes are not a zip of .npy arrays, or an array is malformed or too large.</exception>
    public static IReadOnlyDictionary<string, NpyHeader> ParseHeaders(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(sourceName);
        var headers = new Dictionary<string, NpyHeader>(StringComparer.Ordinal);
        Visit(() => new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read), sourceName, null, bytes.Length, (name, array) =>
        {
            if (!headers.TryAdd(name, NpyFile.ParseHeader(array, $"{sourceName}:{name}")))
            {
                throw new UserInputException($"{sourceName}: holds array '{name}' twice.");
            }
        });
        return headers;
    }

    /// <summary>The bytes of an uncompressed archive (as <c>np.savez</c> writes) of <paramref name="arrays"/>, in order, each as <c>NAME.npy</c>.</summary>
    public static byte[] Format(IEnumerable<KeyValuePair<string, Tensor>> arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        using var buffer = new MemoryStream();
        using (var archive = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, Tensor tensor) in arrays)
            {
                // A fixed time stamp: the same tensors always give the same bytes, so their SHA-256 names them.
                ZipArchiveEntry entry = archive.CreateEntry(name + NpyFile.Extension, CompressionLevel.NoCompression);
                entry.LastWriteTime = s_epoch;
                using Stream stream = entry.Open();
                stream.Write(NpyFile.Format(tensor));
            }
        }

        return buffer.ToArray();
    }

    private static readonly DateTimeOffset s_epoch = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static void Visit(string path, string? only, Action<string, byte[]> read) => Visit(() => ZipFile.OpenRead(path), path, only, null, read);

    // An archive held in memory passes its own size as the budget: its arrays together may not declare more bytes than
    // it holds (np.savez stores them uncompressed), so a small upload never makes its reader allocate much more.
    private static void Visit(Func<ZipArchive> open, string path, string? only, long? budget, Action<string, byte[]> read)
    {
        long declared = 0;
        try
        {
            using ZipArchive archive = open();
            if (archive.Entries.Count > MaxArrays)
            {
                throw new UserInputException($"{path}: holds {archive.Entries.Count} entries; at most {MaxArrays} are read.");
            }

            foreach (ZipArchiveEntry entry in archive.Entries)
            {
                if (!entry.FullName.EndsWith(NpyFile.Extension, StringComparison.Ordinal))
                {
                    throw new UserInputException($"{path}: entry '{entry.FullName}' is not a .npy array.");
                }

                string name = entry.FullName[..^NpyFile.Extension.Length];
                if (only is not null && name != only)
                {
                    continue;
                }

                if (entry.Length > MaxArrayBytes)
                {
                    throw new UserInputException($"{path}: array '{name}' is {entry.Length} bytes; at most {MaxArrayBytes} are read.");
                }

                declared += entry.Length;
                if (declared > budget)
                {
                    throw new UserInputException($"{path}: its arrays inflate to more than the archive's {budget} bytes; farm items are stored uncompressed (np.savez).");
                }

                // The declared size bounds the read: an entry that inflates past it is refused, not followed.
                var bytes = new byte[entry.Length];
                using Stream stream = entry.Open();
                int got = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
                if (got != bytes.Length || stream.ReadByte() >= 0)
                {
                    throw new UserInputException($"{path}: array '{name}' does not inflate to its declared {entry.Length} bytes.");
                }

                read(name, bytes);
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserInputException($"{path}: no such file.", e);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: not a valid .npz archive: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{path}: cannot read it: {e.Message}", e);
        }
    }
}
