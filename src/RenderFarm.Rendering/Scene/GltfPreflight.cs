using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Checks a file's container and top-level JSON before SharpGLTF sees it, so that "not a glTF file"
/// and "needs an extension we lack" get their own clear messages instead of a parser exception, and so
/// that URIs outside the bundle and counts past <see cref="SceneLimits"/> are refused before any buffer
/// is read or allocated.
/// </summary>
internal static class GltfPreflight
{
    private const uint GlbMagic = 0x46546C67; // "glTF"
    private const uint JsonChunkType = 0x4E4F534A; // "JSON"

    /// <summary>
    /// Drops a UTF-8 byte order mark, which some exporters write before the JSON but which neither
    /// System.Text.Json nor SharpGLTF accept.
    /// </summary>
    public static byte[] StripByteOrderMark(byte[] bytes) =>
        bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes[3..] : bytes;

    /// <summary>Validates the container and returns whether it is binary (GLB).</summary>
    /// <exception cref="UserInputException">The bytes are not a glTF 2.0 file this renderer can read, name a file outside the bundle, or exceed a budget.</exception>
    public static bool Check(string displayName, byte[] bytes, SceneBundle bundle)
    {
        bool isBinary = bytes.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == GlbMagic;
        ReadOnlyMemory<byte> json;
        if (isBinary)
        {
            json = GlbJson(displayName, bytes);
        }
        else
        {
            if (displayName.EndsWith(".glb", StringComparison.OrdinalIgnoreCase))
            {
                throw new UserInputException($"'{displayName}' is not a glTF binary file: it does not start with the 'glTF' magic.");
            }

            json = bytes;
        }

        CheckJson(displayName, json, bundle);
        return isBinary;
    }

    private static ReadOnlyMemory<byte> GlbJson(string displayName, byte[] bytes)
    {
        if (bytes.Length < 20)
        {
            throw new UserInputException($"'{displayName}' is a truncated glTF binary file.");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        if (version != 2)
        {
            throw new UserInputException($"'{displayName}' is glTF binary version {version}; only version 2 is supported.");
        }

        uint chunkLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12));
        uint chunkType = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16));
        if (chunkType != JsonChunkType || chunkLength > (uint)(bytes.Length - 20))
        {
            throw new UserInputException($"'{displayName}' is a broken glTF binary file: its first chunk is not a complete JSON chunk.");
        }

        return bytes.AsMemory(20, (int)chunkLength);
    }

    private static void CheckJson(string displayName, ReadOnlyMemory<byte> json, SceneBundle bundle)
    {
        CheckDepth(displayName, json.Span);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = SceneLimits.MaxJsonDepth + 1 });
        }
        catch (JsonException ex)
        {
            throw new UserInputException(
                $"'{displayName}' is not a glTF file: invalid JSON at line {ex.LineNumber + 1}.", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("asset", out JsonElement asset)
                || asset.ValueKind != JsonValueKind.Object)
            {
                throw new UserInputException($"'{displayName}' is not a glTF file: it has no 'asset' object.");
            }

            if (asset.TryGetProperty("version", out JsonElement version)
                && (version.ValueKind != JsonValueKind.String || !(version.GetString() ?? string.Empty).StartsWith("2.", StringComparison.Ordinal)))
            {
                string shown = version.ToString();
                throw new UserInputException($"'{displayName}' is glTF version {(shown.Length <= 40 ? shown : shown[..40] + "...")}; only glTF 2.x is supported.");
            }

            if (root.TryGetProperty("extensionsRequired", out JsonElement required) && required.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement extension in required.EnumerateArray())
                {
                    string name = extension.ValueKind == JsonValueKind.String ? extension.GetString() ?? string.Empty : extension.ToString();
                    // Everything else changes how the file must be drawn in ways this renderer would ignore.
                    if (!SupportedFeatures.Extensions.Contains(name))
                    {
                        throw new UserInputException(
                            $"'{displayName}' requires the glTF extension '{(name.Length <= 80 ? name : name[..80] + "...")}', which this renderer does not support.");
                    }
                }
            }

            CheckUris(root, "buffers", bundle);
            CheckUris(root, "images", bundle);
            CheckCounts(displayName, root);
        }
    }

    // Nesting is counted on a forward-only reader, so a deep document is refused with its own message
    // before any tree is built.
    private static void CheckDepth(string displayName, ReadOnlySpan<byte> json)
    {
        // The JSON reader checks UTF-8 only in the strings it decodes; a bad byte in one read later would throw there.
        if (!Utf8.IsValid(json))
        {
            throw new UserInputException($"'{displayName}' is not a glTF file: its JSON is not valid UTF-8 text.");
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = SceneLimits.MaxJsonDepth + 1 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= SceneLimits.MaxJsonDepth)
                {
                    throw new UserInputException(string.Create(
                        CultureInfo.InvariantCulture,
                        $"'{displayName}' nests its JSON deeper than {SceneLimits.MaxJsonDepth} levels, the limit."));
                }
            }
        }
        catch (JsonException ex)
        {
            throw new UserInputException(
                $"'{displayName}' is not a glTF file: invalid JSON at line {ex.LineNumber + 1}.", ex);
        }
    }

    private static void CheckUris(JsonElement root, string property, SceneBundle bundle)
    {
        if (!root.TryGetProperty(property, out JsonElement list) || list.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (JsonElement item in list.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Object
                && item.TryGetProperty("uri", out JsonElement uri)
                && uri.ValueKind == JsonValueKind.String)
            {
                bundle.Check(uri.GetString()!);
            }
        }
    }

    private static void CheckCounts(string displayName, JsonElement root)
    {
        CheckCount(displayName, "nodes", Length(root, "nodes"), SceneLimits.MaxNodes);
        CheckCount(displayName, "meshes", Length(root, "meshes"), SceneLimits.MaxMeshes);
        CheckCount(displayName, "accessors", Length(root, "accessors"), SceneLimits.MaxAccessors);
        CheckCount(displayName, "images", Length(root, "images"), SceneLimits.MaxImages);

        long totalElements = 0;
        foreach (JsonElement accessor in Items(root, "accessors"))
        {
            long count = Integer(accessor, "count");
            CheckCount(displayName, "elements in one accessor", count, SceneLimits.MaxAccessorElements);
            if (accessor.ValueKind == JsonValueKind.Object
                && accessor.TryGetProperty("sparse", out JsonElement sparse))
            {
                CheckCount(displayName, "sparse elements in one accessor", Integer(sparse, "count"), SceneLimits.MaxAccessorElements);
            }

            totalElements = checked(totalElements + Math.Max(0, count));
            CheckCount(displayName, "accessor elements in all", totalElements, SceneLimits.MaxTotalAccessorElements);
        }

        long totalBytes = 0;
        foreach (JsonElement buffer in Items(root, "buffers"))
        {
            long length = Integer(buffer, "byteLength");
            CheckCount(displayName, "bytes in one buffer", length, SceneLimits.MaxBundleBytes);
            totalBytes = checked(totalBytes + Math.Max(0, length));
            CheckCount(displayName, "buffer bytes in all", totalBytes, SceneLimits.MaxBundleBytes);
        }

        foreach (JsonElement skin in Items(root, "skins"))
        {
            CheckCount(displayName, "joints in one skin", Length(skin, "joints"), SceneLimits.MaxJointsPerSkin);
        }

        foreach (JsonElement mesh in Items(root, "meshes"))
        {
            foreach (JsonElement primitive in Items(mesh, "primitives"))
            {
                CheckCount(displayName, "morph targets in one mesh primitive", Length(primitive, "targets"), SceneLimits.MaxMorphTargetsPerPrimitive);
            }
        }

        long channels = 0;
        foreach (JsonElement animation in Items(root, "animations"))
        {
            channels = checked(channels + Length(animation, "channels"));
            CheckCount(displayName, "animation channels", channels, SceneLimits.MaxAnimationChannels);
        }
    }

    private static void CheckCount(string displayName, string what, long value, long limit)
    {
        if (value > limit)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{displayName}' has {(value == long.MaxValue ? "too many" : value.ToString(CultureInfo.InvariantCulture))} {what}; the limit is {limit}."));
        }
    }

    private static int Length(JsonElement parent, string property) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(property, out JsonElement list) && list.ValueKind == JsonValueKind.Array
            ? list.GetArrayLength()
            : 0;

    private static IEnumerable<JsonElement> Items(JsonElement parent, string property) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(property, out JsonElement list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray()
            : [];

    // A whole number as written; one too large for a long, or a fraction, reads as "past every limit" and the
    // glTF reader refuses what is not a count at all.
    private static long Integer(JsonElement parent, string property)
    {
        if (parent.ValueKind != JsonValueKind.Object
            || !parent.TryGetProperty(property, out JsonElement value)
            || value.ValueKind != JsonValueKind.Number)
        {
            return 0;
        }

        if (value.TryGetInt64(out long result))
        {
            return result;
        }

        return !value.TryGetDouble(out double number) || number >= long.MaxValue ? long.MaxValue : (long)Math.Ceiling(number);
    }
}
