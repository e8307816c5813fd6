using System.Globalization;
using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>
/// How one batch item's tensors travel through the farm: a model's inputs (or outputs) as one file, a <c>.npy</c> array
/// when the model has one, else an <c>.npz</c> archive with one array per tensor, named after it. Client, coordinator
/// and providers all read and write items through this class, so they agree on the format.
/// </summary>
public static class ItemFiles
{
    // "\x93NUMPY" and a zip's local file header "PK\3\4".
    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    private static ReadOnlySpan<byte> ZipMagic => [(byte)'P', (byte)'K', 3, 4];

    /// <summary>The extension of an item file for a model side of <paramref name="count"/> tensors: <c>.npy</c> for one, <c>.npz</c> otherwise.</summary>
    public static string Extension(int count) => count == 1 ? NpyFile.Extension : NpzFile.Extension;

    /// <summary>The leading bytes every item file of <paramref name="extension"/> starts with.</summary>
    public static byte[] Signature(string extension) => (extension == NpzFile.Extension ? ZipMagic : NpyMagic).ToArray();

    /// <summary>The item file of <paramref name="tensors"/>, one per entry of <paramref name="infos"/>, in their order.</summary>
    /// <exception cref="ArgumentException">A tensor of <paramref name="infos"/> is missing.</exception>
    public static byte[] Format(IReadOnlyList<TensorInfo> infos, IReadOnlyDictionary<string, Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(infos);
        ArgumentNullException.ThrowIfNull(tensors);
        KeyValuePair<string, Tensor>[] ordered =
        [
            .. infos.Select(info => new KeyValuePair<string, Tensor>(
                info.Name, tensors.TryGetValue(info.Name, out Tensor? tensor) ? tensor : throw new ArgumentException($"No tensor '{info.Name}'.", nameof(tensors)))),
        ];
        return infos.Count == 1 ? NpyFile.Format(ordered[0].Value) : NpzFile.Format(ordered);
    }

    /// <summary>
    /// Reads an item file as it is, whatever model it is for: a <c>.npy</c> array (named by the empty string) or every
    /// array of an <c>.npz</c> archive, in order. Verification compares two such reads name by name.
    /// </summary>
    /// <exception cref="UserInputException">The bytes are neither, or an array is malformed or too large.</exception>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> ParseAny(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return bytes.AsSpan().StartsWith(NpyMagic) ? [new(string.Empty, NpyFile.Parse(bytes, sourceName))]
            : bytes.AsSpan().StartsWith(ZipMagic) ? NpzFile.Parse(bytes, sourceName)
            : throw new UserInputException($"{sourceName}: neither a .npy array nor an .npz archive.");
    }

    /// <summary>Reads the item file of <paramref name="infos"/> (the model's inputs or outputs), checking that it holds exactly them.</summary>
    /// <exception cref="UserInputException">The file is malformed, or holds other tensors, types or shapes than <paramref name="infos"/>.</exception>
    public static Dictionary<string, Tensor> Parse(byte[] bytes, IReadOnlyList<TensorInfo> infos, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(infos);
        Dictionary<string, Tensor> tensors = infos.Count == 1
            ? new(StringComparer.Ordinal) { [infos[0].Name] = NpyFile.Parse(RequireFormat(bytes, NpyFile.Extension, sourceName), sourceName) }
            : new(NpzFile.Parse(RequireFormat(bytes, NpzFile.Extension, sourceName), sourceName), StringComparer.Ordinal);
        string? wrong = Misfit(tensors.ToDictionary(p => p.Key, p => (p.Value.ElementType, p.Value.Shape), StringComparer.Ordinal), infos, emptyDimensions: true);
        return wrong is null ? tensors : throw new UserInputException($"{sourceName}: {wrong}.");
    }

    /// <summary>The headers of the item file of <paramref name="infos"/> held in memory, by name, without reading its data.</summary>
    /// <exception cref="UserInputException">The file is malformed, or not of the format <paramref name="infos"/> takes.</exception>
    public static IReadOnlyDictionary<string, NpyHeader> ParseHeaders(byte[] bytes, IReadOnlyList<TensorInfo> infos, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(infos);
        return infos.Count == 1
            ? new Dictionary<string, NpyHeader>(StringComparer.Ordinal) { [infos[0].Name] = NpyFile.ParseHeader(RequireFormat(bytes, NpyFile.Extension, sourceName), sourceName) }
            : NpzFile.ParseHeaders(RequireFormat(bytes, NpzFile.Extension, sourceName), sourceName);
    }

    /// <summary>
    /// Why tensors of these element types and shapes, by name, are not exactly <paramref name="infos"/>, or null when
    /// they are: every name once, each of its declared element type, each dimension the declared size or, where the
    /// model leaves it open, any size (at least 1 unless <paramref name="emptyDimensions"/>); any shape where the model
    /// declares none.
    /// </summary>
    public static string? Misfit(
        IReadOnlyDictionary<string, (TensorElementType Type, IReadOnlyList<int> Shape)> tensors, IReadOnlyList<TensorInfo> infos, bool emptyDimensions)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(infos);
        string[] missing = [.. infos.Select(i => i.Name).Where(n => !tensors.ContainsKey(n))];
        string[] unknown = [.. tensors.Keys.Where(k => !infos.Any(i => i.Name == k))];
        if (missing.Length > 0 || unknown.Length > 0)
        {
            return $"it holds {Names(tensors.Keys)} but the model's are {Names(infos.Select(i => i.Name))}";
        }

        foreach (TensorInfo info in infos)
        {
            (TensorElementType type, IReadOnlyList<int> shape) = tensors[info.Name];
            if (type != info.ElementType)
            {
                return $"'{info.Name}' is {TensorTypes.Name(type)}; the model's is {TensorTypes.Name(info.ElementType)}";
            }

            bool fits = !info.HasShape || shape.Count == info.Shape.Count
                && shape.Zip(info.Shape).All(d => d.Second is null ? d.First >= (emptyDimensions ? 0 : 1) : d.First == d.Second);
            if (!fits)
            {
                return $"'{info.Name}' has shape [{string.Join(", ", shape)}]; the model's is [{string.Join(", ", info.Shape.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "?"))}]";
            }
        }

        return null;
    }

    private static string Names(IEnumerable<string> names)
    {
        // Names may come from a hostile archive: cut long ones and blank control characters, so a message stays one line.
        string[] all = [.. names.Take(9).Select(n => $"'{new string([.. (n.Length > 64 ? n[..64] + "…" : n).Select(c => char.IsControl(c) ? '?' : c)])}'")];
        return all.Length == 0 ? "nothing" : string.Join(", ", all.Take(8)) + (all.Length > 8 ? ", …" : string.Empty);
    }

    private static byte[] RequireFormat(byte[] bytes, string extension, string sourceName) =>
        bytes.AsSpan().StartsWith(Signature(extension))
            ? bytes
            : throw new UserInputException(extension == NpyFile.Extension
                ? $"{sourceName}: the model has one tensor here, so the item must be a .npy array."
                : $"{sourceName}: the model has several tensors here, so the item must be an .npz archive of them by name.");
}
