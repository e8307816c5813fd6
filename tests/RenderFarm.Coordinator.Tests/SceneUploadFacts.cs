using System.Net;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// What the coordinator accepts as a scene (DESIGN.md, decision 9): one self-contained file. Before, a .gltf's
/// URIs were read from the coordinator's disk at upload: /etc/passwd and /proc/self/environ were opened, the
/// 400 told whether a file existed and showed the server's temporary path, /dev/zero took the process to
/// 4.4 GB, and a 1.5 MB file holding one 16384² PNG cost 1.1 GB to validate.
/// </summary>
public sealed class SceneUploadFacts
{
    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("/proc/self/environ")]
    [InlineData("/dev/zero")]
    [InlineData("../../etc/passwd")]
    [InlineData("%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("file:///etc/passwd")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    public async Task A_buffer_uri_outside_the_upload_is_400_naming_it_and_no_server_path(string uri)
    {
        await using TestFarm farm = await TestFarm.StartAsync();

        using HttpResponseMessage response = await farm.PostUploadAsync("scenes", "scene.gltf", TestGltf.Triangle(bufferUri: uri));

        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains($"'{uri}'", detail, StringComparison.Ordinal);
        Assert.Contains("outside the scene", detail, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetTempPath().TrimEnd('/'), detail, StringComparison.Ordinal);
        Assert.DoesNotContain("renderfarm-upload-", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_image_uri_to_a_file_on_the_server_is_400_whether_or_not_it_exists()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        var details = new List<string>();
        foreach (string uri in new[] { "/etc/passwd", "/etc/no-such-file-here" })
        {
            using HttpResponseMessage response = await farm.PostUploadAsync("scenes", "scene.gltf", TestGltf.Triangle(imageUri: uri));
            details.Add(await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest));
        }

        // The same answer either way, so an upload cannot probe the coordinator's files.
        Assert.Equal(details[0].Replace("/etc/passwd", "X", StringComparison.Ordinal), details[1].Replace("/etc/no-such-file-here", "X", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_gltf_naming_a_file_that_was_not_uploaded_is_400_saying_how_to_pack_it()
    {
        await using TestFarm farm = await TestFarm.StartAsync();

        using HttpResponseMessage response = await farm.PostUploadAsync("scenes", "scene.gltf", TestGltf.Triangle(bufferUri: "scene.bin"));

        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("'scene.bin'", detail, StringComparison.Ordinal);
        Assert.Contains(".glb", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gltf_with_data_uris_is_accepted()
    {
        await using TestFarm farm = await TestFarm.StartAsync();

        SceneUploaded scene = await farm.UploadSceneAsync(TestGltf.Triangle(imageUri: TestGltf.PngDataUri(TestGltf.BlankPng(4, 4))), "scene.gltf");

        Assert.Equal("scene.gltf", scene.FileName);
    }

    [Fact]
    public async Task A_texture_past_the_texel_budget_is_400_from_its_header()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        byte[] bomb = TestGltf.Triangle(imageUri: TestGltf.PngDataUri(TestGltf.BlankPng(16384, 16384)));
        Assert.True(bomb.Length < 2_000_000, $"{bomb.Length} bytes");

        using HttpResponseMessage response = await farm.PostUploadAsync("scenes", "bomb.gltf", bomb);

        string detail = await TestFarm.ExpectProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("268435456 texels", detail, StringComparison.Ordinal);
        Assert.Contains("the limit is 67108864", detail, StringComparison.Ordinal);
    }
}
