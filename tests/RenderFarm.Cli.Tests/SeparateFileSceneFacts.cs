using RenderFarm.Testing;
using SixLabors.ImageSharp;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// A "glTF Separate" export (.gltf + .bin + textures) renders on a farm: the command line packs the scene and
/// the files it names into one .glb before upload, since a farm takes only self-contained scenes. Before, the
/// .gltf went up alone and the coordinator refused it for the files it could not see (or read them from its own
/// disk). The embedded farm uploads over HTTP through the same client as <c>--coordinator URL</c>.
/// </summary>
[Trait("Category", "Gpu")]
public sealed class SeparateFileSceneFacts : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("renderfarm-cli-separate-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public async Task Render_packs_a_separate_file_gltf_and_renders_it_on_the_farm()
    {
        string scene = TestGltf.WriteSeparateFiles(Path.Combine(_folder.FullName, "export"), TestGltf.BlankPng(8, 8));
        string output = Path.Combine(_folder.FullName, "frames");

        CliResult result = await CliRunner.RunAsync("render", scene, "--size", "16x12", "--spp", "1", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        IImageInfo info = Image.Identify(Path.Combine(output, "frame_0001.png"));
        Assert.Equal((16, 12), (info.Width, info.Height));
    }

    [Fact]
    public async Task Render_refuses_a_gltf_naming_a_file_outside_its_folder_in_one_line()
    {
        string export = Path.Combine(_folder.FullName, "export");
        string scene = TestGltf.WriteSeparateFiles(export, TestGltf.BlankPng(8, 8));
        File.Move(Path.Combine(export, "scene.bin"), Path.Combine(_folder.FullName, "scene.bin"));
        await File.WriteAllTextAsync(scene, (await File.ReadAllTextAsync(scene)).Replace("\"scene.bin\"", "\"../scene.bin\"", StringComparison.Ordinal));

        CliResult result = await CliRunner.RunAsync("render", scene, "--size", "16x12", "--spp", "1", "--out", Path.Combine(_folder.FullName, "frames"));

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("renderfarm: error: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("'../scene.bin'", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }
}
