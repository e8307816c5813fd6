using System.Diagnostics;
using System.Net.Http.Json;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using SixLabors.ImageSharp;

namespace RenderFarm.Cli.Tests;

/// <summary>
/// From a .blend to frames and back: headless Blender with the add-on installed from its zip submits a generated
/// scene to a real coordinator with two workers (who cross-check each other), and the verified frames arrive in the
/// scene's output path under the scene's own frame numbers; <c>renderfarm render scene.blend</c> does the same
/// through Blender's exporter.
/// </summary>
[Trait("Category", "Blender")]
[Trait("Category", "Gpu")]
public sealed class BlenderAddonFacts
{
    // A cube moving across a 16x12 frame, frames 5-7 at 12 fps, 1 sample, written to //out/frame_####.png.
    private const string MakeScene = """
        import bpy, sys
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        scene.frame_start, scene.frame_end = 5, 7
        scene.render.fps = 12
        scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 16, 12, 100
        scene.render.engine = "CYCLES"
        scene.cycles.samples = 1
        scene.render.filepath = "//out/frame_"
        bpy.ops.mesh.primitive_cube_add(size=1)
        cube = bpy.context.active_object
        for frame, x in ((5, -1.0), (7, 1.0)):
            cube.location = (x, 0, 0)
            cube.keyframe_insert("location", frame=frame)
        bpy.ops.object.light_add(type="POINT", location=(0, -3, 3))
        bpy.context.active_object.data.energy = 500
        bpy.ops.object.camera_add(location=(0, -6, 0), rotation=(1.5708, 0, 0))
        scene.camera = bpy.context.active_object
        bpy.ops.wm.save_as_mainfile(filepath=sys.argv[sys.argv.index("--") + 1])
        """;

    // Installs the add-on from its zip, points it at the farm and submits, waiting for the frames.
    private const string Submit = """
        import bpy, sys
        zip_path, coordinator, key_file = sys.argv[sys.argv.index("--") + 1:]
        bpy.ops.preferences.addon_install(filepath=zip_path, overwrite=True)
        bpy.ops.preferences.addon_enable(module="renderfarm_blender")
        settings = bpy.context.scene.renderfarm
        settings.coordinator = coordinator
        settings.api_key_file = key_file
        result = bpy.ops.renderfarm.submit(wait=True)
        sys.exit(0 if result == {"FINISHED"} else 1)
        """;

    [Fact]
    public async Task The_add_on_submits_a_blend_and_its_frames_arrive_in_the_output_path()
    {
        await using CliFarm farm = await CliFarm.StartAsync(new Dictionary<string, string?> { ["Coordinator:SpotChecks"] = "true" });
        farm.StartWorker();
        farm.StartWorker();
        string blend = await MakeSceneAsync(farm.Folder);
        string keyFile = Path.Combine(farm.Folder, "api.key");
        await File.WriteAllTextAsync(keyFile, await IssueApiKeyAsync(farm) + "\n");
        string zip = Path.Combine(farm.Folder, "renderfarm_blender.zip");
        Assert.Equal(0, (await RunAsync("bash", [RepositoryPaths.Combine("scripts/package-blender-addon.sh"), zip], farm.Folder)).ExitCode);

        string script = Path.Combine(farm.Folder, "submit.py");
        await File.WriteAllTextAsync(script, Submit);
        (int exitCode, string log) = await RunAsync(
            "blender", ["-b", blend, "--python-exit-code", "1", "--python", script, "--", zip, farm.Host.Address.AbsoluteUri, keyFile], farm.Folder, BlenderUserFolders(farm.Folder));

        Assert.True(exitCode == 0, log);
        AssertFrames(Path.Combine(farm.Folder, "out"));
    }

    [Fact]
    public async Task Render_of_a_blend_exports_through_blender_and_names_frames_by_the_scene()
    {
        await using CliFarm farm = await CliFarm.StartAsync();
        farm.StartWorker();
        string blend = await MakeSceneAsync(farm.Folder);
        string output = Path.Combine(farm.Folder, "cli-frames");

        CliResult result = await farm.RunAsync("render", blend, "--spp", "1", "--out", output);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("frames 1-3, 12 fps", result.Output, StringComparison.Ordinal);
        AssertFrames(output);
    }

    // Guards: the sample generators' recipe mapped farm frame N to Blender frame N - 1 whatever the scene's
    // frame_start; the export moves the animation so the scene's first frame is glTF time 0.
    [Fact]
    public async Task The_export_puts_the_scenes_first_frame_at_time_zero()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-export-").FullName;
        try
        {
            string blend = await MakeSceneAsync(folder);
            string glb = Path.Combine(folder, "scene.glb");
            string manifest = Path.Combine(folder, "manifest.json");

            (int exitCode, string log) = await RunAsync(
                "blender",
                ["--factory-startup", "-b", blend, "--python-exit-code", "1", "--python", RepositoryPaths.Combine("src/blender/renderfarm_blender/export.py"), "--", "--out", glb, "--manifest", manifest],
                folder,
                BlenderUserFolders(folder));

            Assert.True(exitCode == 0, log);
            // Keys at frames 5 and 7 at 12 fps: 2/12 s from the first frame to the last, not 7/12 s from frame 0.
            Assert.Equal(2.0 / 12, RenderFarm.Rendering.Scene.SceneAsset.Load(glb).AnimationDurationSeconds, 4);
            Assert.Contains("\"frameStart\": 5", await File.ReadAllTextAsync(manifest), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Render_of_a_blend_without_blender_says_how_to_install_it()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-noblender-").FullName;
        try
        {
            string blend = Path.Combine(folder, "scene.blend");
            await File.WriteAllBytesAsync(blend, [1, 2, 3]);

            CliResult result = await CliRunner.RunAsync(new Dictionary<string, string?> { ["PATH"] = "/nonexistent", ["RENDERFARM_BLENDER"] = null }, "render", blend);

            JobCommandFacts.AssertOneLine(result, 2, "apt install blender");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void AssertFrames(string folder)
    {
        string[] names = [.. Directory.GetFiles(folder, "*.png").Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        Assert.Equal(["frame_0005.png", "frame_0006.png", "frame_0007.png"], names);
        foreach (string name in names)
        {
            IImageInfo info = Image.Identify(Path.Combine(folder, name));
            Assert.Equal((16, 12), (info.Width, info.Height));
        }

        // The cube moves, so the frames differ: the animation travelled with the scene.
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(folder, names[0])), File.ReadAllBytes(Path.Combine(folder, names[2])));
    }

    private static async Task<string> MakeSceneAsync(string folder)
    {
        string script = Path.Combine(folder, "make_scene.py");
        await File.WriteAllTextAsync(script, MakeScene);
        string blend = Path.Combine(folder, "scene.blend");
        (int exitCode, string log) = await RunAsync(
            "blender", ["-b", "--factory-startup", "--python-exit-code", "1", "--python", script, "--", blend], folder, BlenderUserFolders(folder));
        Assert.True(exitCode == 0 && File.Exists(blend), log);
        return blend;
    }

    private static async Task<string> IssueApiKeyAsync(CliFarm farm)
    {
        using var http = new HttpClient { BaseAddress = farm.Host.Address };
        http.DefaultRequestHeaders.Add("X-Operator-Key", farm.OperatorKey);
        using HttpResponseMessage response = await http.PostAsJsonAsync("api/keys", new CreateApiKeyRequest("0x00000000000000000000000000000000000b1e4d"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<ApiKeyIssued>())!.Key;
    }

    // The add-on is installed into folders of the test's own, never the user's Blender configuration.
    private static Dictionary<string, string> BlenderUserFolders(string folder) => new()
    {
        ["BLENDER_USER_CONFIG"] = Path.Combine(folder, "blender-config"),
        ["BLENDER_USER_SCRIPTS"] = Path.Combine(folder, "blender-scripts"),
    };

    private static async Task<(int ExitCode, string Log)> RunAsync(string program, string[] arguments, string folder, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }
}
