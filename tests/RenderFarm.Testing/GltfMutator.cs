using System.Text;
using System.Text.Json.Nodes;

namespace RenderFarm.Testing;

/// <summary>Mutations of glTF files for the importer's and the upload path's fuzz tests.</summary>
public static class GltfMutator
{
    private static readonly string[] s_hostileStrings =
    [
        "", "../../etc/passwd", "/etc/passwd", "/dev/zero", "file:///etc/passwd", "http://127.0.0.1/x.bin",
        "%2e%2e/%2e%2e/etc/passwd", "C:\\x.bin", "scene.bin", "data:", "data:application/octet-stream;base64,",
        "data:application/octet-stream;base64,AAAA", "data:image/png;base64,iVBORw0KGgo=", "data:text/plain,hi",
        "KHR_draco_mesh_compression", "SCALAR", "VEC4", "MAT4", "STEP", "CUBICSPLINE", "translation", "weights",
        new string('a', 5000), "\u0000\n",
    ];

    private static readonly double[] s_hostileNumbers =
    [
        -1, 0, 1, 2, 3, 4, 5, 6, 7, 255, 256, 4096, 5120, 5121, 5122, 5123, 5125, 5126, 34962, 34963, 65535, 65536,
        int.MaxValue, (double)int.MaxValue + 1, uint.MaxValue, (double)uint.MaxValue + 1, long.MaxValue, -2147483648,
        0.5, -0.5, 1e30, -1e30, 1e300, double.Epsilon, 29_999_999,
    ];

    /// <summary>
    /// One seeded mutation of a valid scene: bit flips, a truncation or byte noise on the .gltf text or the .glb,
    /// or one to three structural edits of the JSON (a value swapped for a hostile number, string, URI or type, a
    /// member deleted, an array item duplicated), the .glb's chunks kept consistent.
    /// </summary>
    /// <returns>What kind of mutation it was, the bytes, and the extension they go under.</returns>
    public static (string Kind, byte[] Bytes, string Extension) Mutate(Random random, byte[] gltf, byte[] glb)
    {
        int choice = random.Next(10);
        return choice switch
        {
            < 4 => ("json", MutateJson(random, gltf), ".gltf"),
            4 => ("text-bits", FlipBits(random, gltf), ".gltf"),
            5 => ("text-cut", Truncate(random, gltf), ".gltf"),
            6 => ("glb-bits", FlipBits(random, glb), ".glb"),
            7 => ("glb-cut", Truncate(random, glb), ".glb"),
            8 => ("glb-noise", Noise(random, glb), ".glb"),
            _ => ("glb-json", Rewrap(MutateJson(random, GlbJson(glb)), glb), ".glb"),
        };
    }

    private static byte[] FlipBits(Random random, byte[] source)
    {
        byte[] bytes = (byte[])source.Clone();
        int flips = 1 + random.Next(8);
        for (int i = 0; i < flips; i++)
        {
            bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
        }

        return bytes;
    }

    private static byte[] Truncate(Random random, byte[] source) => source[..random.Next(source.Length)];

    private static byte[] Noise(Random random, byte[] source)
    {
        byte[] bytes = (byte[])source.Clone();
        int start = random.Next(bytes.Length);
        int length = Math.Min(bytes.Length - start, 1 + random.Next(16));
        random.NextBytes(bytes.AsSpan(start, length));
        return bytes;
    }

    private static byte[] MutateJson(Random random, byte[] json)
    {
        JsonNode root = JsonNode.Parse(json)!;
        int mutations = 1 + random.Next(3);
        for (int m = 0; m < mutations; m++)
        {
            var all = new List<JsonNode>();
            Collect(root, all);
            JsonNode target = all[random.Next(all.Count)];
            if (target.Parent is not JsonNode parent)
            {
                continue;
            }

            switch (random.Next(6))
            {
                case 0 or 1:
                    Replace(target, JsonValue.Create(s_hostileNumbers[random.Next(s_hostileNumbers.Length)]));
                    break;
                case 2:
                    Replace(target, JsonValue.Create(s_hostileStrings[random.Next(s_hostileStrings.Length)]));
                    break;
                case 3:
                    Replace(target, random.Next(4) switch
                    {
                        0 => null,
                        1 => JsonValue.Create(true),
                        2 => new JsonObject(),
                        _ => new JsonArray(),
                    });
                    break;
                case 4:
                    if (parent is JsonObject obj)
                    {
                        obj.Remove(target.GetPropertyName());
                    }
                    else if (parent is JsonArray array)
                    {
                        array.RemoveAt(target.GetElementIndex());
                    }

                    break;
                default:
                    if (parent is JsonArray list)
                    {
                        list.Insert(target.GetElementIndex(), target.DeepClone());
                    }
                    else if (target is JsonArray items && items.Count > 0)
                    {
                        items.Add(items[random.Next(items.Count)]?.DeepClone());
                    }

                    break;
            }
        }

        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static void Collect(JsonNode? node, List<JsonNode> all)
    {
        switch (node)
        {
            case JsonObject obj:
                all.Add(obj);
                foreach (KeyValuePair<string, JsonNode?> member in obj)
                {
                    Collect(member.Value, all);
                }

                break;
            case JsonArray array:
                all.Add(array);
                foreach (JsonNode? item in array)
                {
                    Collect(item, all);
                }

                break;
            case JsonValue value:
                // Long data URIs are left whole; the byte-level mutations reach inside them.
                all.Add(value);
                break;
        }
    }

    private static void Replace(JsonNode target, JsonNode? replacement)
    {
        switch (target.Parent)
        {
            case JsonObject obj:
                obj[target.GetPropertyName()] = replacement;
                break;
            case JsonArray array:
                array[target.GetElementIndex()] = replacement;
                break;
        }
    }

    private static byte[] GlbJson(byte[] glb)
    {
        int length = BitConverter.ToInt32(glb, 12);
        return glb.AsSpan(20, length).TrimEnd((byte)' ').ToArray();
    }

    // The mutated JSON chunk with the original binary chunk after it, and the lengths made consistent.
    private static byte[] Rewrap(byte[] json, byte[] glb)
    {
        int oldJson = BitConverter.ToInt32(glb, 12);
        byte[] binary = glb[(20 + oldJson)..];
        int padded = (json.Length + 3) & ~3;
        var result = new byte[20 + padded + binary.Length];
        glb.AsSpan(0, 12).CopyTo(result);
        BitConverter.TryWriteBytes(result.AsSpan(8), (uint)result.Length);
        BitConverter.TryWriteBytes(result.AsSpan(12), (uint)padded);
        BitConverter.TryWriteBytes(result.AsSpan(16), 0x4E4F534Au);
        json.CopyTo(result, 20);
        result.AsSpan(20 + json.Length, padded - json.Length).Fill((byte)' ');
        binary.CopyTo(result, 20 + padded);
        return result;
    }
}
