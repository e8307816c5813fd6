using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Rendering.Tests.PathTracing;

/// <summary>
/// Reference renders under tests/RenderFarm.Rendering.Tests/Golden. A missing reference is written
/// only when RENDERFARM_CREATE_GOLDEN=1 (and the new file must be reviewed before it is committed);
/// an existing one is never overwritten by the tests.
/// </summary>
internal static class GoldenImages
{
    private static readonly string s_folder = RepositoryPaths.Combine("tests/RenderFarm.Rendering.Tests/Golden");

    public static void AssertMatches(HdrImage image, ToneMapping curve, string name, TolerantImageComparer comparer)
    {
        using var encoded = new MemoryStream();
        PngFrameWriter.Write(image, encoded, curve, 0, sixteenBit: false);
        string golden = Path.Combine(s_folder, name);
        if (!File.Exists(golden))
        {
            if (Environment.GetEnvironmentVariable("RENDERFARM_CREATE_GOLDEN") == "1")
            {
                Directory.CreateDirectory(s_folder);
                File.WriteAllBytes(golden, encoded.ToArray());
                return;
            }

            Assert.Fail($"No golden image {golden}; create it with RENDERFARM_CREATE_GOLDEN=1, review it, and commit it.");
        }

        encoded.Position = 0;
        using Image<Rgb24> actual = Image.Load<Rgb24>(encoded);
        using Image<Rgb24> expected = Image.Load<Rgb24>(golden);
        try
        {
            comparer.Verify(actual, expected);
        }
        catch (ImageMismatchException mismatch)
        {
            string saved = Path.Combine(Path.GetTempPath(), "renderfarm-actual-" + name);
            actual.SaveAsPng(saved);
            throw new ImageMismatchException($"{name}: {mismatch.Message} The render is at {saved}.");
        }
    }
}
