using System.Buffers.Binary;
using System.Text.Json;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Checks a file's container and top-level JSON before SharpGLTF sees it, so that "not a glTF file"
/// and "needs an extension we lack" get their own clear messages instead of a parser exception.
/// </summary>
internal static class GltfPreflight
{
    /// <summary>Extensions that may appear in <c>extensionsRequired</c>: everything else changes how a file must be drawn in ways we ignore.</summary>
    public static readonly IReadOnlyList<string> SupportedRequiredExtensions =
    [
        "KHR_lights_punctual",
        "KHR_materials_emissive_strength",
        "KHR_mesh_quantization",
    ];

    private const uint GlbMagic = 0x46546C67; // "glTF"
    private const uint JsonChunkType = 0x4E4F534A; // "JSON"

    /// <summary>
    /// Drops a UTF-8 byte order mark, which some exporters write before the JSON but which neither
    /// System.Text.Json nor SharpGLTF accept.
    /// </summary>
    public static byte[] StripByteOrderMark(byte[] bytes) =>
        bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? bytes[3..] : bytes;

    /// <summary>Validates the container and returns whether it is binary (GLB).</summary>
    /// <exception cref="UserInputException">The bytes are not a glTF 2.0 file this renderer can read.</exception>
    public static bool Check(string displayName, byte[] bytes)
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

        CheckJson(displayName, json);
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

    private static void CheckJson(string displayName, ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false });
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
                throw new UserInputException($"'{displayName}' is glTF version {version}; only glTF 2.x is supported.");
            }

            if (root.TryGetProperty("extensionsRequired", out JsonElement required) && required.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement extension in required.EnumerateArray())
                {
                    string name = extension.ValueKind == JsonValueKind.String ? extension.GetString() ?? string.Empty : extension.ToString();
                    if (!SupportedRequiredExtensions.Contains(name, StringComparer.Ordinal))
                    {
                        throw new UserInputException(
                            $"'{displayName}' requires the glTF extension '{name}', which this renderer does not support.");
                    }
                }
            }
        }
    }
}
