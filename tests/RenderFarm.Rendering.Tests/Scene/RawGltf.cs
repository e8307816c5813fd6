using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>
/// Writes a .gltf by hand, one buffer as a data URI: for files whose every field a test must control (skins, morph
/// targets, attributes and extensions a writer library would tidy away).
/// </summary>
public sealed class RawGltf
{
    private readonly List<byte> _bytes = [];
    private readonly JsonArray _views = [];
    private readonly JsonArray _accessors = [];

    public JsonObject Root { get; } = new()
    {
        ["asset"] = new JsonObject { ["version"] = "2.0" },
        ["scene"] = 0,
        ["scenes"] = new JsonArray(new JsonObject { ["nodes"] = new JsonArray(0) }),
        ["nodes"] = new JsonArray(),
        ["meshes"] = new JsonArray(),
    };

    public JsonArray Nodes => Root["nodes"]!.AsArray();

    public JsonArray Meshes => Root["meshes"]!.AsArray();

    public int Floats<T>(T[] data, string type, float[]? min = null, float[]? max = null)
        where T : struct
    {
        var accessor = new JsonObject
        {
            ["bufferView"] = View(MemoryMarshal.AsBytes(data.AsSpan()).ToArray()),
            ["componentType"] = 5126,
            ["count"] = data.Length,
            ["type"] = type,
        };
        if (min is not null && max is not null)
        {
            accessor["min"] = new JsonArray([.. min.Select(v => JsonValue.Create(v))]);
            accessor["max"] = new JsonArray([.. max.Select(v => JsonValue.Create(v))]);
        }

        _accessors.Add(accessor);
        return _accessors.Count - 1;
    }

    /// <summary>POSITION with the min/max glTF requires.</summary>
    public int Positions(Vector3[] data) => Floats(
        data,
        "VEC3",
        [data.Min(v => v.X), data.Min(v => v.Y), data.Min(v => v.Z)],
        [data.Max(v => v.X), data.Max(v => v.Y), data.Max(v => v.Z)]);

    /// <summary>JOINTS_n as four unsigned shorts per vertex.</summary>
    public int Joints(ushort[] fourPerVertex)
    {
        _accessors.Add(new JsonObject
        {
            ["bufferView"] = View(MemoryMarshal.AsBytes(fourPerVertex.AsSpan()).ToArray()),
            ["componentType"] = 5123,
            ["count"] = fourPerVertex.Length / 4,
            ["type"] = "VEC4",
        });
        return _accessors.Count - 1;
    }

    public int AddNode(JsonObject node)
    {
        Nodes.Add(node);
        return Nodes.Count - 1;
    }

    public int AddMesh(JsonObject primitive, float[]? weights = null)
    {
        var mesh = new JsonObject { ["primitives"] = new JsonArray(primitive) };
        if (weights is not null)
        {
            mesh["weights"] = new JsonArray([.. weights.Select(w => JsonValue.Create(w))]);
        }

        Meshes.Add(mesh);
        return Meshes.Count - 1;
    }

    public static JsonArray Array(params float[] values) => new([.. values.Select(v => JsonValue.Create(v))]);

    public string Save(TempDirectory dir, string name = "raw.gltf")
    {
        while (_bytes.Count % 4 != 0)
        {
            _bytes.Add(0);
        }

        Root["buffers"] = new JsonArray(new JsonObject
        {
            ["byteLength"] = _bytes.Count,
            ["uri"] = "data:application/octet-stream;base64," + Convert.ToBase64String([.. _bytes]),
        });
        Root["bufferViews"] = _views.DeepClone();
        Root["accessors"] = _accessors.DeepClone();
        string path = dir.File(name);
        File.WriteAllText(path, Root.ToJsonString());
        return path;
    }

    private int View(byte[] data)
    {
        while (_bytes.Count % 4 != 0)
        {
            _bytes.Add(0);
        }

        _views.Add(new JsonObject { ["buffer"] = 0, ["byteOffset"] = _bytes.Count, ["byteLength"] = data.Length });
        _bytes.AddRange(data);
        return _views.Count - 1;
    }
}
