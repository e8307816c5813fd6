using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace RenderFarm.Testing;

/// <summary>Small hand-written glTF files and images for tests of what a farm accepts.</summary>
public static class TestGltf
{
    /// <summary>
    /// A .gltf of one triangle whose buffer is a data: URI, unless <paramref name="bufferUri"/> replaces it. With
    /// <paramref name="imageUri"/>, the triangle's material has a base colour texture from that image.
    /// </summary>
    public static byte[] Triangle(string? bufferUri = null, string? imageUri = null)
    {
        byte[] positions = TrianglePositions();

        var primitive = new JsonObject { ["attributes"] = new JsonObject { ["POSITION"] = 0 } };
        var root = new JsonObject
        {
            ["asset"] = new JsonObject { ["version"] = "2.0" },
            ["scene"] = 0,
            ["scenes"] = new JsonArray(new JsonObject { ["nodes"] = new JsonArray(0) }),
            ["nodes"] = new JsonArray(new JsonObject { ["mesh"] = 0 }),
            ["meshes"] = new JsonArray(new JsonObject { ["primitives"] = new JsonArray(primitive) }),
            ["accessors"] = new JsonArray(new JsonObject
            {
                ["bufferView"] = 0,
                ["componentType"] = 5126,
                ["count"] = 3,
                ["type"] = "VEC3",
                ["min"] = new JsonArray(0, 0, 0),
                ["max"] = new JsonArray(1, 1, 0),
            }),
            ["bufferViews"] = new JsonArray(new JsonObject { ["buffer"] = 0, ["byteLength"] = 36 }),
            ["buffers"] = new JsonArray(new JsonObject
            {
                ["byteLength"] = 36,
                ["uri"] = bufferUri ?? "data:application/octet-stream;base64," + Convert.ToBase64String(positions),
            }),
        };
        if (imageUri is not null)
        {
            root["images"] = new JsonArray(new JsonObject { ["uri"] = imageUri });
            root["textures"] = new JsonArray(new JsonObject { ["source"] = 0 });
            root["materials"] = new JsonArray(new JsonObject
            {
                ["pbrMetallicRoughness"] = new JsonObject { ["baseColorTexture"] = new JsonObject { ["index"] = 0 } },
            });
            primitive["material"] = 0;
        }

        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>
    /// Writes a scene the way Blender's "glTF Separate" export does: <c>scene.gltf</c>, its buffer in
    /// <c>scene.bin</c> and its texture in <c>textures/base colour.png</c> (a URI with an escaped space).
    /// </summary>
    /// <returns>The path of the .gltf.</returns>
    public static string WriteSeparateFiles(string folder, byte[] png)
    {
        Directory.CreateDirectory(Path.Combine(folder, "textures"));
        File.WriteAllBytes(Path.Combine(folder, "scene.bin"), TrianglePositions());
        File.WriteAllBytes(Path.Combine(folder, "textures", "base colour.png"), png);
        string gltf = Path.Combine(folder, "scene.gltf");
        File.WriteAllBytes(gltf, Triangle(bufferUri: "scene.bin", imageUri: "textures/base%20colour.png"));
        return gltf;
    }

    /// <summary>A data: URI holding a PNG.</summary>
    public static string PngDataUri(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    /// <summary>
    /// A valid PNG of the given size, 1-bit greyscale and all black, so that a huge image is a small file (16384²
    /// is about 50 KB and decodes to 1 GiB of RGBA): the shape of a decompression bomb.
    /// </summary>
    public static byte[] BlankPng(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 1; // bit depth
        header[9] = 0; // greyscale
        WriteChunk(png, "IHDR", header);
        using (var pixels = new MemoryStream())
        {
            using (var zlib = new ZLibStream(pixels, CompressionLevel.Fastest, leaveOpen: true))
            {
                var row = new byte[1 + ((width + 7) / 8)];
                for (int y = 0; y < height; y++)
                {
                    zlib.Write(row);
                }
            }

            WriteChunk(png, "IDAT", pixels.ToArray());
        }

        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    // One triangle in the z = 0 plane, as little-endian floats.
    private static byte[] TrianglePositions()
    {
        byte[] positions = new byte[36];
        float[] values = [0, 0, 0, 1, 0, 0, 0, 1, 0];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(positions.AsSpan(4 * i), values[i]);
        }

        return positions;
    }

    private static void WriteChunk(Stream png, string type, byte[] data)
    {
        Span<byte> field = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(field, data.Length);
        png.Write(field);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(field, PngCrc32(typeAndData));
        png.Write(field);
    }

    /// <summary>CRC-32 (ISO 3309) over a PNG chunk's type and data, as the chunk's trailer holds.</summary>
    public static uint PngCrc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }
}
