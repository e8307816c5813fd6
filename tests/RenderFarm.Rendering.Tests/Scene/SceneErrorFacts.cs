using System.Text.Json.Nodes;
using RenderFarm.Core;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Schema2;
using Xunit;
using Xunit.Abstractions;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;

namespace RenderFarm.Rendering.Tests.Scene;

public sealed class SceneErrorFacts : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public SceneErrorFacts(ITestOutputHelper output)
    {
        _output = output;
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Missing_file()
    {
        AssertUserError(_dir.File("nope.glb"), "not found");
    }

    [Fact]
    public void Binary_file_without_glb_magic()
    {
        string path = _dir.File("junk.glb");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
        AssertUserError(path, "magic");
    }

    [Fact]
    public void Text_file_that_is_not_json()
    {
        string path = _dir.File("notes.gltf");
        File.WriteAllText(path, "this is not { json");
        AssertUserError(path, "not a glTF file");
    }

    [Fact]
    public void Json_without_asset()
    {
        string path = _dir.File("other.gltf");
        File.WriteAllText(path, """{ "hello": "world" }""");
        AssertUserError(path, "'asset'");
    }

    [Fact]
    public void Unsupported_required_extension_is_named()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root =>
        {
            root["extensionsUsed"] = new JsonArray("KHR_draco_mesh_compression");
            root["extensionsRequired"] = new JsonArray("KHR_draco_mesh_compression");
        });
        AssertUserError(path, "KHR_draco_mesh_compression");
    }

    [Fact]
    public void Supported_required_extension_loads()
    {
        (ModelRoot model, Node node) = SingleTriangle();
        PunctualLight light = model.CreatePunctualLight(PunctualLightType.Point);
        node.PunctualLight = light;
        string path = Save(model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root => root["extensionsRequired"] = new JsonArray("KHR_lights_punctual"));

        Assert.Equal(1, SceneAsset.Load(path).LightCount);
    }

    [Fact]
    public void Broken_reference_reports_the_validation_message()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root => root["meshes"]![0]!["primitives"]![0]!["attributes"]!["POSITION"] = 42);
        UserInputException ex = AssertUserError(path, "not a valid glTF file");
        Assert.True(ex.Message.Length > "'scene.gltf' is not a valid glTF file: ".Length + 5, ex.Message);
    }

    [Fact]
    public void Missing_external_buffer()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfExternal);
        foreach (string bin in Directory.GetFiles(_dir.Path, "*.bin"))
        {
            File.Delete(bin);
        }

        AssertUserError(path, "scene.gltf");
    }

    [Fact]
    public void Scene_without_triangles()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Mesh mesh = model.CreateMesh("dots");
        AddPrimitive(mesh, UnitTriangle, type: PrimitiveType.POINTS);
        model.UseScene(0).CreateNode("n").Mesh = mesh;
        AssertUserError(Save(model, _dir, GltfFormat.Glb), "no triangles");
    }

    [Fact]
    public void Undecodable_image()
    {
        (ModelRoot model, Node node) = SingleTriangle();
        Material material = model.CreateMaterial("m");
        material.InitializePBRMetallicRoughness();
        material.FindChannel("BaseColor")!.Value.SetTexture(0, model.UseImage(Png(1, 1, (_, _) => default)), null,
            TextureWrapMode.REPEAT, TextureWrapMode.REPEAT, TextureMipMapFilter.DEFAULT, TextureInterpolationFilter.DEFAULT);
        node.Mesh.Primitives[0].Material = material;
        string path = Save(model, _dir, GltfFormat.GltfExternal);
        string png = Directory.GetFiles(_dir.Path, "*.png").Single();
        byte[] bytes = File.ReadAllBytes(png);
        Array.Clear(bytes, 16, bytes.Length - 16);
        File.WriteAllBytes(png, bytes);

        AssertUserError(path, "image");
    }

    private UserInputException AssertUserError(string path, string expected)
    {
        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));
        _output.WriteLine(ex.Message);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        return ex;
    }
}
