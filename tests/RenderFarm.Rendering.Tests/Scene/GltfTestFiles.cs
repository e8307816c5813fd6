using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using SharpGLTF.Memory;
using SharpGLTF.Schema2;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>How a test model is written to disk.</summary>
public enum GltfFormat
{
    Glb,
    GltfExternal,
    GltfEmbedded,
}

/// <summary>A temporary directory deleted with the test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rf-scene-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort; the OS cleans temp eventually.
        }
    }
}

/// <summary>Builds small glTF models with SharpGLTF's Schema2 API.</summary>
public static class GltfTestFiles
{
    public static readonly Vector3[] UnitTriangle = [new(0, 0, 0), new(1, 0, 0), new(0, 1, 0)];

    public static Accessor Vec3(ModelRoot model, Vector3[] data) => Vertex(model, MemoryMarshal.AsBytes(data.AsSpan()).ToArray(), data.Length, DimensionType.VEC3);

    public static Accessor Vec2(ModelRoot model, Vector2[] data) => Vertex(model, MemoryMarshal.AsBytes(data.AsSpan()).ToArray(), data.Length, DimensionType.VEC2);

    public static Accessor Vec4(ModelRoot model, Vector4[] data) => Vertex(model, MemoryMarshal.AsBytes(data.AsSpan()).ToArray(), data.Length, DimensionType.VEC4);

    public static Accessor Indices(ModelRoot model, int[] indices)
    {
        BufferView view = model.UseBufferView(MemoryMarshal.AsBytes(indices.AsSpan()).ToArray(), 0, null, 0, BufferMode.ELEMENT_ARRAY_BUFFER);
        Accessor accessor = model.CreateAccessor();
        accessor.SetIndexData(view, 0, indices.Length, IndexEncodingType.UNSIGNED_INT);
        return accessor;
    }

    /// <summary>Adds a primitive to <paramref name="mesh"/>; non-indexed when <paramref name="indices"/> is null.</summary>
    public static MeshPrimitive AddPrimitive(
        Mesh mesh,
        Vector3[] positions,
        int[]? indices = null,
        Material? material = null,
        Vector3[]? normals = null,
        Vector2[]? uvs = null,
        Vector4[]? tangents = null,
        PrimitiveType type = PrimitiveType.TRIANGLES)
    {
        ModelRoot model = mesh.LogicalParent;
        MeshPrimitive primitive = mesh.CreatePrimitive();
        primitive.DrawPrimitiveType = type;
        primitive.SetVertexAccessor("POSITION", Vec3(model, positions));
        if (normals is not null)
        {
            primitive.SetVertexAccessor("NORMAL", Vec3(model, normals));
        }

        if (uvs is not null)
        {
            primitive.SetVertexAccessor("TEXCOORD_0", Vec2(model, uvs));
        }

        if (tangents is not null)
        {
            primitive.SetVertexAccessor("TANGENT", Vec4(model, tangents));
        }

        if (indices is not null)
        {
            primitive.SetIndexAccessor(Indices(model, indices));
        }

        if (material is not null)
        {
            primitive.Material = material;
        }

        return primitive;
    }

    /// <summary>A model with one scene and one node holding a one-triangle mesh.</summary>
    public static (ModelRoot Model, Node Node) SingleTriangle(Material? material = null)
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("tri");
        AddPrimitive(mesh, UnitTriangle, material: material);
        Node node = model.UseScene("scene").CreateNode("node");
        node.Mesh = mesh;
        return (model, node);
    }

    public static string Save(ModelRoot model, TempDirectory dir, GltfFormat format, string name = "scene")
    {
        switch (format)
        {
            case GltfFormat.Glb:
            {
                string path = dir.File(name + ".glb");
                model.SaveGLB(path);
                return path;
            }

            case GltfFormat.GltfExternal:
            {
                string path = dir.File(name + ".gltf");
                model.SaveGLTF(path, new WriteSettings { ImageWriting = ResourceWriteMode.SatelliteFile });
                return path;
            }

            default:
            {
                string path = dir.File(name + ".gltf");
                model.SaveGLTF(path, new WriteSettings { ImageWriting = ResourceWriteMode.EmbeddedAsBase64 });
                EmbedBuffers(path);
                return path;
            }
        }
    }

    /// <summary>Rewrites a .gltf's external buffers as data URIs and deletes the .bin files.</summary>
    public static void EmbedBuffers(string gltfPath)
    {
        string dir = Path.GetDirectoryName(gltfPath)!;
        JsonNode root = JsonNode.Parse(File.ReadAllText(gltfPath))!;
        foreach (JsonNode? buffer in root["buffers"]!.AsArray())
        {
            string uri = buffer!["uri"]!.GetValue<string>();
            string binPath = Path.Combine(dir, uri);
            buffer["uri"] = "data:application/octet-stream;base64," + Convert.ToBase64String(File.ReadAllBytes(binPath));
            File.Delete(binPath);
        }

        File.WriteAllText(gltfPath, root.ToJsonString());
    }

    /// <summary>Edits the JSON of a .gltf file in place.</summary>
    public static void EditJson(string gltfPath, Action<JsonObject> edit)
    {
        JsonObject root = JsonNode.Parse(File.ReadAllText(gltfPath))!.AsObject();
        edit(root);
        File.WriteAllText(gltfPath, root.ToJsonString());
    }

    public static MemoryImage Png(int width, int height, Func<int, int, Rgba32> pixel)
    {
        using var image = new Image<Rgba32>(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                image[x, y] = pixel(x, y);
            }
        }

        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return new MemoryImage(stream.ToArray());
    }

    private static Accessor Vertex(ModelRoot model, byte[] bytes, int count, DimensionType dimensions)
    {
        BufferView view = model.UseBufferView(bytes, 0, null, 0, BufferMode.ARRAY_BUFFER);
        Accessor accessor = model.CreateAccessor();
        accessor.SetVertexData(view, 0, count, new AttributeFormat(dimensions, EncodingType.FLOAT, false));
        return accessor;
    }
}
