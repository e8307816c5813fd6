using System.Text.Json.Nodes;
using RenderFarm.Core;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Memory;
using SharpGLTF.Schema2;
using Xunit;
using Xunit.Abstractions;
using static RenderFarm.Testing.TestGltf;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>
/// Every count, size and product of them in a scene is checked against <see cref="SceneLimits"/> before memory
/// is spent on it, and refused in one line naming the limit and the value. Before these budgets a 1.5 MB
/// .gltf holding one 16384² PNG cost 1.1 GB to load, sixteen 4096² PNGs 2.1 GB, and nothing bounded nodes,
/// accessors, triangles or JSON depth.
/// </summary>
public sealed class SceneBudgetFacts : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public SceneBudgetFacts(ITestOutputHelper output)
    {
        _output = output;
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_16384_square_png_is_refused_from_its_header_before_it_is_decoded()
    {
        // 1-bit greyscale: a 50 KB file that decodes to 1 GiB of RGBA.
        byte[] png = BlankPng(16384, 16384);
        Assert.True(png.Length < 2_000_000, $"{png.Length} bytes");
        string path = SaveTextured(_dir, [png]);

        long before = GC.GetAllocatedBytesForCurrentThread();
        UserInputException ex = AssertRefused(path, SceneLimits.MaxTexels.ToString(System.Globalization.CultureInfo.InvariantCulture));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains("268435456 texels", ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L * 1024 * 1024, $"refusing allocated {allocated} bytes");
    }

    [Fact]
    public void Many_large_textures_are_refused_by_their_sum()
    {
        // Five 4096² images are each within the side limit; together they pass the 64 Mi texel budget.
        byte[][] pngs = [.. Enumerable.Range(0, 5).Select(i => BlankPng(4096 - i, 4096))];
        string path = SaveTextured(_dir, pngs);

        UserInputException ex = AssertRefused(path, "the limit is 67108864");
        Assert.Contains("texels", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_texture_longer_than_the_side_limit_is_refused()
    {
        string path = SaveTextured(_dir, [BlankPng(SceneLimits.MaxImageSide + 1, 1)]);

        AssertRefused(path, "16385x1; the limit is 16384 pixels a side");
    }

    [Fact]
    public void Textures_within_the_budget_still_load()
    {
        string path = SaveTextured(_dir, [BlankPng(4096, 4096), BlankPng(2048, 2048)]);

        SceneAsset scene = SceneAsset.Load(path);

        Assert.Equal(2, scene.BuildFrame(0, 1).Textures.Length);
    }

    [Fact]
    public void Too_many_nodes_are_refused()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root =>
        {
            var nodes = root["nodes"]!.AsArray();
            while (nodes.Count <= SceneLimits.MaxNodes)
            {
                nodes.Add(new JsonObject());
            }
        });

        AssertRefused(path, "has 100001 nodes; the limit is 100000");
    }

    [Fact]
    public void A_node_graph_with_shared_children_is_refused_not_walked()
    {
        // Each level's two nodes both list the next level's two as children: 2^40 paths from 80 nodes. A
        // valid file has one parent per node; whatever the reader lets through, the walk is bounded.
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root =>
        {
            var nodes = new JsonArray();
            const int levels = 40;
            for (int level = 0; level < levels; level++)
            {
                for (int twin = 0; twin < 2; twin++)
                {
                    var node = new JsonObject { ["mesh"] = 0 };
                    if (level < levels - 1)
                    {
                        node["children"] = new JsonArray((2 * level) + 2, (2 * level) + 3);
                    }

                    nodes.Add(node);
                }
            }

            root["nodes"] = nodes;
            root["scenes"] = new JsonArray(new JsonObject { ["nodes"] = new JsonArray(0, 1) });
            root["scene"] = 0;
        });

        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));
        _output.WriteLine(ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void A_shared_mesh_is_stored_once_and_its_instances_are_counted_against_the_drawn_cap()
    {
        // One mesh of 1 M triangles drawn by 11 nodes: 11 M triangles drawn (past MaxTriangles) but 1 M stored.
        string path = SaveZeroMesh(meshes: 1, nodes: 11);
        SceneAsset scene = SceneAsset.Load(path);
        Assert.Equal(11_000_000, scene.TriangleCount);
        Assert.Equal(1, scene.SharedMeshCount);
    }

    [Fact]
    public void A_small_file_naming_a_large_mesh_from_many_nodes_is_refused_in_one_line()
    {
        // A file of a few KB whose 1,001 nodes draw one 1 M-triangle mesh: 1.001 billion triangles. Counted as the tree is
        // walked, before any instance or BVH is built; with instancing this is what bounds the drawn triangles.
        string path = SaveZeroMesh(meshes: 1, nodes: 1_001);
        Assert.True(new FileInfo(path).Length < 64 * 1024);
        AssertRefused(path, "draws at least 1001000000 triangles (counting each node that uses a mesh); the limit is 1000000000");
    }

    [Fact]
    public void Triangles_stored_per_node_are_capped()
    {
        // Eleven meshes of 1 M triangles (one accessor), each drawn once: nothing is shared, 11 M triangles are stored.
        string path = SaveZeroMesh(meshes: 11, nodes: 11);
        AssertRefused(path, "stores 11000000 triangles (each node's mesh once per node, a shared static mesh once); the limit is 10000000");
    }

    // Meshes of 1 M triangles each (one accessor without a buffer view: all zeros) drawn by `nodes` nodes in turn.
    private string SaveZeroMesh(int meshes, int nodes)
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root =>
        {
            var accessors = root["accessors"]!.AsArray();
            accessors.Add(new JsonObject
            {
                ["componentType"] = 5126,
                ["count"] = 3_000_000,
                ["type"] = "VEC3",
                ["min"] = new JsonArray(0, 0, 0),
                ["max"] = new JsonArray(0, 0, 0),
            });
            root["meshes"]![0]!["primitives"]![0]!["attributes"]!["POSITION"] = accessors.Count - 1;
            var meshList = root["meshes"]!.AsArray();
            while (meshList.Count < meshes)
            {
                meshList.Add(meshList[0]!.DeepClone());
            }

            var nodeList = new JsonArray();
            var children = new JsonArray();
            for (int i = 0; i < nodes; i++)
            {
                nodeList.Add(new JsonObject { ["mesh"] = i % meshes });
                children.Add(i);
            }

            root["nodes"] = nodeList;
            root["scenes"] = new JsonArray(new JsonObject { ["nodes"] = children });
            root["scene"] = 0;
        });
        return path;
    }

    [Fact]
    public void An_accessor_declaring_billions_of_elements_is_refused_before_it_is_read()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root =>
        {
            root["accessors"]!.AsArray().Add(new JsonObject { ["componentType"] = 5126, ["count"] = 2_000_000_000, ["type"] = "VEC4" });
            root["meshes"]![0]!["primitives"]![0]!["attributes"]!["TANGENT"] = root["accessors"]!.AsArray().Count - 1;
        });

        AssertRefused(path, "has 2000000000 elements in one accessor; the limit is 30000000");
    }

    [Fact]
    public void A_buffer_declaring_a_terabyte_is_refused()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root => root["buffers"]![0]!["byteLength"] = 1_000_000_000_000);

        AssertRefused(path, "has 1000000000000 bytes in one buffer; the limit is 536870912");
    }

    [Fact]
    public void A_buffer_shorter_than_its_declared_length_is_refused()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root => root["buffers"]![0]!["byteLength"] = root["buffers"]![0]!["byteLength"]!.GetValue<int>() + 4096);

        AssertRefused(path, "scene.gltf");
    }

    [Fact]
    public void Json_nested_past_the_depth_limit_is_refused_naming_the_limit()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        string json = File.ReadAllText(path);
        string deep = new string('[', 200) + new string(']', 200);
        File.WriteAllText(path, json[..^1] + ",\"extras\":" + deep + "}");

        AssertRefused(path, "deeper than 64 levels");
    }

    [Fact]
    public void Json_within_the_depth_limit_loads()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        string json = File.ReadAllText(path);
        string nested = new string('[', 40) + new string(']', 40);
        File.WriteAllText(path, json[..^1] + ",\"extras\":{\"deep\":" + nested + "}}");

        Assert.Equal(1, SceneAsset.Load(path).TriangleCount);
    }

    // A scene whose triangles use one material per image, each image as base colour.
    private static string SaveTextured(TempDirectory dir, byte[][] pngs)
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("tris");
        foreach (byte[] png in pngs)
        {
            Material material = model.CreateMaterial();
            material.InitializePBRMetallicRoughness();
            material.FindChannel("BaseColor")!.Value.SetTexture(
                0, model.UseImage(new MemoryImage(png)), null, TextureWrapMode.REPEAT, TextureWrapMode.REPEAT,
                TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.DEFAULT);
            AddPrimitive(mesh, UnitTriangle, material: material, uvs: [new(0, 0), new(1, 0), new(0, 1)]);
        }

        model.UseScene("scene").CreateNode("node").Mesh = mesh;
        return Save(model, dir, GltfFormat.GltfEmbedded);
    }

    private UserInputException AssertRefused(string path, string expected)
    {
        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));
        _output.WriteLine(ex.Message);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain(_dir.Path, ex.Message, StringComparison.Ordinal);
        return ex;
    }
}
