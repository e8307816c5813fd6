using System.Text;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Rendering.Lighting;
using RenderFarm.Rendering.Tests.Imaging;
using RenderFarm.Testing;

namespace RenderFarm.Rendering.Tests.Lighting;

public class EnvironmentFileFacts
{
    private static readonly string s_sky = RepositoryPaths.Combine("samples/environment/sky.hdr");
    private static readonly string s_skyExr = RepositoryPaths.Combine("samples/environment/sky.exr");

    private static (float R, float G, float B) Pattern(int x, int y) => (0.01f * (x + 1), 3f * (y + 1), x == y ? 500f : 0.25f);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Hdr_ReadsRunLengthAndFlatScanlines(bool runLength)
    {
        byte[] file = RgbeFiles.Write(40, 3, (x, y) => RgbeFiles.Encode(Pattern(x, y).R, Pattern(x, y).G, Pattern(x, y).B), runLength);

        HdrImage image = EnvironmentFile.Read(file, "test.hdr");

        Assert.Equal(40, image.Width);
        Assert.Equal(3, image.Height);
        for (int y = 0; y < 3; y++)
        {
            for (int x = 0; x < 40; x++)
            {
                (float r, float g, float b) = RgbeFiles.Decode(RgbeFiles.Encode(Pattern(x, y).R, Pattern(x, y).G, Pattern(x, y).B));
                int i = ((y * 40) + x) * 3;
                Assert.Equal(new[] { r, g, b }, image.Pixels[i..(i + 3)]);
            }
        }
    }

    [Theory]
    [InlineData(ExrFiles.None, false, 5)]
    [InlineData(ExrFiles.None, true, 5)]
    [InlineData(ExrFiles.Zips, true, 5)]
    [InlineData(ExrFiles.Rle, true, 5)]
    [InlineData(ExrFiles.Rle, false, 3)]
    [InlineData(ExrFiles.Zip, true, 37)]
    [InlineData(ExrFiles.Zip, false, 16)]
    public void Exr_ReadsHalfAndFloatScanlines(int compression, bool half, int height)
    {
        byte[] file = ExrFiles.Write(9, height, Pattern, compression, half, yMin: -3);

        HdrImage image = EnvironmentFile.Read(file, "test.exr");

        Assert.Equal(9, image.Width);
        Assert.Equal(height, image.Height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < 9; x++)
            {
                (float r, float g, float b) = Pattern(x, y);
                int i = ((y * 9) + x) * 3;
                double tolerance = half ? 1e-3 : 0;
                Assert.Equal(r, (double)image.Pixels[i], r * tolerance);
                Assert.Equal(g, (double)image.Pixels[i + 1], g * tolerance);
                Assert.Equal(b, (double)image.Pixels[i + 2], b * tolerance);
            }
        }
    }

    /// <summary>Blender wrote the sample sky twice, as run-length .hdr and as ZIP half-float .exr: both read the same.</summary>
    [Fact]
    public void BlenderWrittenHdrAndExr_Agree()
    {
        HdrImage hdr = EnvironmentFile.Read(s_sky);
        HdrImage exr = EnvironmentFile.Read(s_skyExr);

        Assert.Equal((64, 32), (hdr.Width, hdr.Height));
        Assert.Equal((64, 32), (exr.Width, exr.Height));
        Assert.True(hdr.Pixels.Max() > 300f, "the sun is in the map");
        for (int i = 0; i < hdr.Pixels.Length; i++)
        {
            // RGBE keeps 8 bits of the largest channel; half keeps 11.
            float scale = Math.Max(hdr.Pixels[i - (i % 3)], Math.Max(hdr.Pixels[i - (i % 3) + 1], hdr.Pixels[i - (i % 3) + 2]));
            Assert.True(Math.Abs(hdr.Pixels[i] - exr.Pixels[i]) <= (scale / 128f) + 1e-3f, $"value {i}: {hdr.Pixels[i]} vs {exr.Pixels[i]}");
        }
    }

    public static TheoryData<string, string, string> MalformedFiles()
    {
        byte[] hdr = RgbeFiles.Write(16, 2, (x, y) => RgbeFiles.Encode(1, 2, 3), runLength: true);
        string text = Encoding.Latin1.GetString(hdr);
        byte[] exr = ExrFiles.Write(4, 3, Pattern, ExrFiles.Zip, half: true);
        string exrText = Encoding.Latin1.GetString(exr);
        string Base64(string latin1) => Convert.ToBase64String(Encoding.Latin1.GetBytes(latin1));
        int firstPixel = text.IndexOf("+X 16\n", StringComparison.Ordinal) + 6;
        var data = new TheoryData<string, string, string>
        {
            { "plain text", Base64("hello"), "neither a Radiance .hdr nor an OpenEXR" },
            { "no header end", Base64("#?RADIANCE\nFORMAT=32-bit_rle_rgbe"), "header is not closed" },
            { "xyze", Base64(text.Replace("32-bit_rle_rgbe", "32-bit_rle_xyze", StringComparison.Ordinal)), "pixel format 32-bit_rle_xyze" },
            { "flipped", Base64(text.Replace("-Y 2 +X 16", "+Y 2 +X 16", StringComparison.Ordinal)), "resolution line" },
            { "huge", Base64(text.Replace("-Y 2 +X 16", "-Y 100000 +X 100000", StringComparison.Ordinal)), "out of range" },
            { "too many pixels", Base64(text.Replace("-Y 2 +X 16", "-Y 16384 +X 16384", StringComparison.Ordinal)), "out of range" },
            { "truncated hdr", Base64(text[..(text.Length - 10)]), "ends early" },
            { "zero count", Base64(text[..(firstPixel + 4)] + "\0" + text[(firstPixel + 5)..]), "count is 0" },
            { "long run", Base64(text[..(firstPixel + 4)] + "\u00FF" + text[(firstPixel + 5)..]), "overflows" },
            { "old rle", Base64(text[..firstPixel] + "\u0001\u0001\u0001\u0005" + new string('\0', 60) + "\u0001\u0001\u0001\u0005" + new string('\0', 60)), "old run-length" },
            { "exr version", Base64(exrText[..4] + "\u0001" + exrText[5..]), "version 1" },
            { "tiled", Base64(exrText[..5] + "\u0002" + exrText[6..]), "tiled" },
            { "piz", Base64(exrText.Replace("compression\0compression\0\u0001\0\0\0\u0003", "compression\0compression\0\u0001\0\0\0\u0004", StringComparison.Ordinal)), "PIZ" },
            { "b44", Base64(exrText.Replace("compression\0compression\0\u0001\0\0\0\u0003", "compression\0compression\0\u0001\0\0\0\u0006", StringComparison.Ordinal)), "compression 6" },
            { "no blue", Base64(exrText.Replace("B\0\u0001\0", "A\0\u0001\0", StringComparison.Ordinal)), "no R, G and B" },
            { "truncated exr", Base64(exrText[..(exrText.Length - 7)]), "ends early" },
            { "no chunks", Base64(exrText[..(exrText.IndexOf("lineOrder", StringComparison.Ordinal) + 24)]), "ends early" },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void MalformedFiles_AreRefusedInOneLine(string what, string base64, string expected)
    {
        var exception = Assert.Throws<UserInputException>(() => EnvironmentFile.Read(Convert.FromBase64String(base64), "map"));

        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', exception.Message);
        Assert.StartsWith("Environment map map", exception.Message, StringComparison.Ordinal);
        _ = what;
    }

    [Fact]
    public void ExrDataWindowOverflow_IsRefused()
    {
        // xMax − xMin + 1 overflows 32 bits: computed in 64 bits, it is out of range, not a negative width.
        byte[] exr = ExrFiles.Write(4, 3, Pattern, ExrFiles.None, half: false);
        int window = Encoding.Latin1.GetString(exr).IndexOf("dataWindow\0box2i\0", StringComparison.Ordinal) + 21;
        BitConverter.GetBytes(int.MinValue).CopyTo(exr, window);
        BitConverter.GetBytes(int.MaxValue).CopyTo(exr, window + 8);

        var exception = Assert.Throws<UserInputException>(() => EnvironmentFile.Read(exr, "map"));
        Assert.Contains("out of range", exception.Message, StringComparison.Ordinal);
    }

    /// <summary>Seeded mutations of both sample maps: each loads or is refused in one line, never anything else.</summary>
    [Fact]
    public void MutatedFiles_LoadOrAreRefusedInOneLine()
    {
        var random = new Random(1515);
        int refused = 0, loaded = 0;
        foreach (string path in new[] { s_sky, s_skyExr })
        {
            byte[] original = File.ReadAllBytes(path);
            for (int round = 0; round < 300; round++)
            {
                byte[] mutated = (byte[])original.Clone();
                int edits = 1 + random.Next(4);
                for (int e = 0; e < edits; e++)
                {
                    mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                }

                if (random.Next(8) == 0)
                {
                    mutated = mutated[..random.Next(mutated.Length)];
                }

                try
                {
                    EnvironmentFile.Read(mutated, "mutated");
                    loaded++;
                }
                catch (UserInputException exception)
                {
                    Assert.DoesNotContain('\n', exception.Message);
                    refused++;
                }
            }
        }

        Assert.True(refused > 50 && loaded > 50, $"{refused} refused, {loaded} loaded");
    }
}
