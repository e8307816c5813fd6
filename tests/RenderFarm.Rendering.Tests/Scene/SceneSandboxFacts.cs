using System.Text.Json.Nodes;
using RenderFarm.Core;
using RenderFarm.Rendering.Scene;
using SharpGLTF.Schema2;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using Xunit.Abstractions;
using static RenderFarm.Rendering.Tests.Scene.GltfTestFiles;

namespace RenderFarm.Rendering.Tests.Scene;

/// <summary>
/// A scene is a closed bundle (DESIGN.md, decision 9): a buffer or image URI that names anything outside the
/// scene's folder is refused in one line naming it, and nothing outside is read. Before this rule the importer
/// read whatever path a URI named — /etc/passwd, ../../, /proc/self/environ, /dev/zero (4.4 GB), file: URLs —
/// and a worker drew a texture from its own disk into the frame it delivered.
/// </summary>
public sealed class SceneSandboxFacts : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TempDirectory _elsewhere = new();
    private readonly ITestOutputHelper _output;

    public SceneSandboxFacts(ITestOutputHelper output)
    {
        _output = output;
    }

    public static TheoryData<string> OutsideUris => new()
    {
        "/etc/passwd",
        "../../etc/passwd",
        "/proc/self/environ",
        "/dev/zero",
        "file:///etc/passwd",
        "file:secret.bin",
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/scene.bin",
        "%2e%2e/%2e%2e/etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "..\\..\\etc\\passwd",
        "sub\\..\\..\\x.bin",
        "C:/Windows/win.ini",
        "C:\\Windows\\win.ini",
        "\\\\server\\share\\x.bin",
        "textures/../../x.bin",
        "x.bin%00.png",
        "x.bin?query",
    };

    public void Dispose()
    {
        _dir.Dispose();
        _elsewhere.Dispose();
    }

    [Theory]
    [MemberData(nameof(OutsideUris))]
    public void A_buffer_uri_outside_the_bundle_is_refused_naming_it(string uri)
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root => root["buffers"]![0]!["uri"] = uri);

        AssertRefusedNaming(path, uri);
    }

    [Theory]
    [MemberData(nameof(OutsideUris))]
    public void An_image_uri_outside_the_bundle_is_refused_naming_it(string uri)
    {
        string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root => root["images"]![0]!["uri"] = uri);

        AssertRefusedNaming(path, uri);
    }

    [Fact]
    public void A_texture_from_elsewhere_on_the_machine_is_refused_by_absolute_path_relative_path_and_file_url()
    {
        // The worker-side attack: a texture that exists on the rendering machine, outside the scene's folder.
        string secret = Path.Combine(_elsewhere.Path, "secret.png");
        File.WriteAllBytes(secret, Png(2, 2, (_, _) => new Rgba32(255, 0, 0, 255)).Content.ToArray());
        string relative = Path.GetRelativePath(_dir.Path, secret).Replace('\\', '/');
        Assert.StartsWith("../", relative, StringComparison.Ordinal);

        foreach (string uri in new[] { secret, relative, new Uri(secret).AbsoluteUri })
        {
            string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfEmbedded);
            EditJson(path, root => root["images"]![0]!["uri"] = uri);
            AssertRefusedNaming(path, uri);
        }
    }

    [Fact]
    public void A_symbolic_link_out_of_the_folder_is_refused()
    {
        string secret = Path.Combine(_elsewhere.Path, "secret.png");
        File.WriteAllBytes(secret, Png(2, 2, (_, _) => new Rgba32(255, 0, 0, 255)).Content.ToArray());
        File.CreateSymbolicLink(_dir.File("linked.png"), secret);
        Directory.CreateSymbolicLink(_dir.File("linked-folder"), _elsewhere.Path);

        foreach (string uri in new[] { "linked.png", "linked-folder/secret.png" })
        {
            string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfEmbedded);
            EditJson(path, root => root["images"]![0]!["uri"] = uri);
            UserInputException ex = AssertRefusedNaming(path, uri);
            Assert.Contains("symbolic link", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Files_beside_the_scene_and_in_its_subfolders_load()
    {
        string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfExternal);
        string png = Path.GetFileName(Directory.GetFiles(_dir.Path, "*.png").Single());
        Directory.CreateDirectory(_dir.File("textures"));
        File.Move(_dir.File(png), _dir.File(Path.Combine("textures", "base colour.png")));
        EditJson(path, root => root["images"]![0]!["uri"] = "./textures/base%20colour.png");

        SceneAsset scene = SceneAsset.Load(path);

        Assert.Equal(1, scene.TriangleCount);
        Assert.Single(scene.BuildFrame(0, 1).Textures);
    }

    [Fact]
    public void A_self_contained_load_refuses_even_files_beside_the_scene()
    {
        // Uploaded scenes (coordinator, worker cache) share their folder with other files: they must carry everything.
        string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfExternal);
        Assert.Equal(1, SceneAsset.Load(path, SceneFileAccess.Folder).TriangleCount);

        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path, SceneFileAccess.SelfContained));

        _output.WriteLine(ex.Message);
        Assert.Contains(".bin'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("data: URIs", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_dir.Path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_glb_with_an_external_image_is_held_to_the_same_rule()
    {
        string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfEmbedded);
        EditJson(path, root => root["images"]![0]!["uri"] = "/etc/passwd");
        string glb = _dir.File("packed.glb");
        File.WriteAllBytes(glb, WrapAsGlb(File.ReadAllBytes(path)));

        AssertRefusedNaming(glb, "/etc/passwd");
    }

    [Fact]
    public void A_missing_file_is_named_without_the_local_path()
    {
        string path = Save(SingleTriangle().Model, _dir, GltfFormat.GltfExternal);
        foreach (string bin in Directory.GetFiles(_dir.Path, "*.bin"))
        {
            File.Delete(bin);
        }

        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));

        _output.WriteLine(ex.Message);
        Assert.Contains(".bin", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_dir.Path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_separate_file_export_packs_into_a_self_contained_glb_that_draws_the_same()
    {
        string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfExternal);
        Assert.NotEmpty(Directory.GetFiles(_dir.Path, "*.bin"));
        Assert.NotEmpty(Directory.GetFiles(_dir.Path, "*.png"));
        using var packedDir = new TempDirectory();
        string glb = packedDir.File("scene.glb");

        File.WriteAllBytes(glb, SceneAsset.PackAsGlb(path));
        SceneAsset packed = SceneAsset.Load(glb, SceneFileAccess.SelfContained);
        SceneAsset original = SceneAsset.Load(path);

        var a = original.BuildFrame(0, 1);
        var b = packed.BuildFrame(0, 1);
        Assert.Equal(a.Triangles, b.Triangles);
        Assert.Equal(a.Materials, b.Materials);
        Assert.Equal(a.Textures, b.Textures);
        Assert.Equal(a.Texels, b.Texels);
        Assert.NotEmpty(b.Texels);
    }

    [Fact]
    public void Packing_refuses_a_uri_outside_the_folder()
    {
        string path = Save(TexturedTriangle(), _dir, GltfFormat.GltfExternal);
        EditJson(path, root => root["images"]![0]!["uri"] = "../../etc/passwd");

        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.PackAsGlb(path));

        Assert.Contains("'../../etc/passwd'", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>A one-triangle model whose material has a 2×2 base colour texture.</summary>
    internal static ModelRoot TexturedTriangle()
    {
        ModelRoot model = ModelRoot.CreateModel();
        Material material = model.CreateMaterial("textured");
        material.InitializePBRMetallicRoughness();
        material.FindChannel("BaseColor")!.Value.SetTexture(
            0,
            model.UseImage(Png(2, 2, (x, y) => new Rgba32((byte)(x * 255), (byte)(y * 255), 128, 255))),
            null,
            TextureWrapMode.REPEAT,
            TextureWrapMode.REPEAT,
            TextureMipMapFilter.DEFAULT,
            TextureInterpolationFilter.DEFAULT);
        Mesh mesh = model.CreateMesh("tri");
        AddPrimitive(mesh, UnitTriangle, material: material, uvs: [new(0, 0), new(1, 0), new(0, 1)]);
        model.UseScene("scene").CreateNode("node").Mesh = mesh;
        return model;
    }

    /// <summary>Wraps a .gltf's JSON (data URIs and all) in a GLB container with no binary chunk.</summary>
    internal static byte[] WrapAsGlb(byte[] json)
    {
        int padded = (json.Length + 3) & ~3;
        var glb = new byte[12 + 8 + padded];
        BitConverter.TryWriteBytes(glb.AsSpan(0), 0x46546C67u);
        BitConverter.TryWriteBytes(glb.AsSpan(4), 2u);
        BitConverter.TryWriteBytes(glb.AsSpan(8), (uint)glb.Length);
        BitConverter.TryWriteBytes(glb.AsSpan(12), (uint)padded);
        BitConverter.TryWriteBytes(glb.AsSpan(16), 0x4E4F534Au);
        json.CopyTo(glb, 20);
        glb.AsSpan(20 + json.Length).Fill((byte)' ');
        return glb;
    }

    private UserInputException AssertRefusedNaming(string path, string uri)
    {
        UserInputException ex = Assert.Throws<UserInputException>(() => SceneAsset.Load(path));
        _output.WriteLine(ex.Message);
        Assert.Contains($"'{uri.Replace('\0', '?')}'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("outside the scene", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.DoesNotContain(_dir.Path, ex.Message, StringComparison.Ordinal);
        return ex;
    }
}
