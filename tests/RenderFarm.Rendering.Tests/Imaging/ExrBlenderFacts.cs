using System.Diagnostics;
using System.Globalization;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Tests.Imaging;

/// <summary>
/// Blender's own OpenEXR library reads what <see cref="ExrWriter"/> writes: an independent reader, so a mistake
/// made the same way in our writer and our reader cannot pass.
/// </summary>
[Trait("Category", "Blender")]
public class ExrBlenderFacts
{
    // Loads the image, and prints its size and each pixel's first three channels, bottom row first as Blender keeps them.
    private const string Script = """
        import bpy, sys
        image = bpy.data.images.load(sys.argv[sys.argv.index('--') + 1])
        image.colorspace_settings.name = 'Non-Color'
        pixels = list(image.pixels[:])
        channels = image.channels
        print('EXR', image.size[0], image.size[1], channels, image.type)
        for i in range(len(pixels) // channels):
            print('PX', i, *('%.6f' % v for v in pixels[i * channels:i * channels + 3]))
        """;

    // Loads the image into a compositor Image node, whose outputs are the passes Blender found in the file.
    private const string PassesScript = """
        import bpy, sys
        image = bpy.data.images.load(sys.argv[sys.argv.index('--') + 1])
        scene = bpy.context.scene
        scene.use_nodes = True
        node = scene.node_tree.nodes.new('CompositorNodeImage')
        node.image = image
        print('TYPE', image.type)
        print('PASSES', *[o.name for o in node.outputs if o.enabled])
        """;

    [Theory]
    [InlineData(ExrCompression.None, ExrPixelType.Float)]
    [InlineData(ExrCompression.Zip, ExrPixelType.Half)]
    public async Task Blender_ReadsOurRgb(ExrCompression compression, ExrPixelType type)
    {
        const int Width = 7, Height = 19;
        var frame = new HdrImage(Width, Height);
        for (int i = 0; i < frame.Pixels.Length; i++)
        {
            frame.Pixels[i] = ((i * 37) % 101) / 25f; // values to 4, HDR
        }

        string folder = Directory.CreateTempSubdirectory("renderfarm-exr-").FullName;
        string path = Path.Combine(folder, "frame.exr");
        ExrWriter.Write(path, Width, Height, ExrFrame.Channels(frame, null, type), compression);

        List<string> lines = await RunBlenderAsync(path);
        Assert.Contains(lines, l => l.StartsWith($"EXR {Width} {Height} ", StringComparison.Ordinal));
        string[] pixels = [.. lines.Where(l => l.StartsWith("PX ", StringComparison.Ordinal))];
        Assert.Equal(Width * Height, pixels.Length);
        foreach (string line in pixels)
        {
            string[] fields = line.Split(' ');
            int i = int.Parse(fields[1], CultureInfo.InvariantCulture);
            // Blender's rows run bottom to top.
            int p = ((Height - 1 - (i / Width)) * Width) + (i % Width);
            for (int c = 0; c < 3; c++)
            {
                float expected = type == ExrPixelType.Half ? (float)(Half)frame.Pixels[(p * 3) + c] : frame.Pixels[(p * 3) + c];
                float read = float.Parse(fields[2 + c], CultureInfo.InvariantCulture);
                Assert.True(Math.Abs(read - expected) <= 2e-6f, $"pixel {p} channel {c}: Blender read {read}, we wrote {expected}");
            }
        }
    }

    [Fact]
    public async Task Blender_ReadsOurAovs_AsPasses()
    {
        byte[] file = ExrWriterFacts.Write(ExrCompression.Zip, ExrPixelType.Half);
        string path = Path.Combine(Directory.CreateTempSubdirectory("renderfarm-exr-").FullName, "aovs.exr");
        await File.WriteAllBytesAsync(path, file);

        List<string> lines = await RunBlenderAsync(path, PassesScript);
        Assert.Contains("TYPE MULTILAYER", lines);
        // R, G, B become Combined and Z becomes Depth, as in the files Blender writes itself.
        Assert.Contains("PASSES Combined Alpha Depth N albedo", lines);
    }

    private static async Task<List<string>> RunBlenderAsync(string exrPath, string script = Script)
    {
        var start = new ProcessStartInfo("blender") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in (string[])["--factory-startup", "-b", "--python-exit-code", "3", "--python-expr", script, "--", exrPath])
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"blender exited {process.ExitCode}: {await error}");
        return [.. output.Split('\n').Select(l => l.TrimEnd())];
    }
}
