using System.Diagnostics;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;
using RenderFarm.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Rendering.Tests.Imaging;

public class FilmicViewFacts
{
    private const int Width = 96;
    private const int Height = 48;

    [Fact]
    public void Grey_RisesMonotonicallyFromBlackToWhite()
    {
        float previous = -1f;
        for (double stops = -14; stops <= 14; stops += 0.01)
        {
            float x = (float)Math.Pow(2, stops);
            (float r, float g, float b) = ToneMapper.ToDisplay(x, x, x, ToneMapping.Filmic);
            Assert.Equal(r, g, 5);
            Assert.Equal(r, b, 5);
            Assert.True(r >= previous, $"falls at 2^{stops:F2}");
            previous = r;
        }

        Assert.True(ToneMapper.ToDisplay(0f, 0f, 0f, ToneMapping.Filmic).R < 0.01f);
        Assert.True(previous > 0.99f);
    }

    [Fact]
    public void BrightSaturatedColours_GoTowardsWhite()
    {
        // Filmic's cube desaturates what is bright; a plain clamp keeps pure red pure at any brightness.
        (float r, float g, float b) = ToneMapper.ToDisplay(1000f, 0f, 0f, ToneMapping.Filmic);
        Assert.True(r > 0.99f && g > 0.9f && b > 0.9f, $"{r} {g} {b}");
        (r, g, b) = ToneMapper.ToDisplay(0.2f, 0f, 0f, ToneMapping.Filmic);
        Assert.True(r > 0.4f && g < 0.05f && b < 0.05f, $"{r} {g} {b}");
    }

    [Fact]
    public void HostileValues_MapIntoTheDisplayRange()
    {
        foreach (float v in new[] { float.NaN, float.NegativeInfinity, -5f, float.PositiveInfinity, float.MaxValue, float.Epsilon })
        {
            (float r, float g, float b) = ToneMapper.ToDisplay(v, 0.5f, v, ToneMapping.Filmic);
            Assert.True(r is >= 0f and <= 1f && g is >= 0f and <= 1f && b is >= 0f and <= 1f, $"{v}: {r} {g} {b}");
        }
    }

    /// <summary>
    /// A linear image spanning 24 stops of brightness and all hues, written as .hdr, turned into a PNG by Blender's
    /// Filmic view and by ours; both read the same RGBE values. Measured with Blender 3.4: at most 1 level of 255
    /// apart, 0.002 on average (rounding of OCIO's arithmetic against ours); the bounds leave room for other
    /// OCIO builds, and a missing desaturation or a wrong shaper would be tens of levels off.
    /// </summary>
    [Fact]
    [Trait("Category", "Blender")]
    public async Task Filmic_MatchesBlendersFilmicView()
    {
        string folder = Directory.CreateTempSubdirectory("renderfarm-filmic-").FullName;
        string hdr = Path.Combine(folder, "linear.hdr");
        string blenderPng = Path.Combine(folder, "blender.png");
        File.WriteAllBytes(hdr, RgbeFiles.Write(Width, Height, (x, y) => RgbeFiles.Encode(Sample(x, y).R, Sample(x, y).G, Sample(x, y).B), runLength: false));
        await RunBlenderAsync(hdr, "Filmic", blenderPng);

        using Image<Rgb24> blender = Image.Load<Rgb24>(blenderPng);
        Assert.Equal(Width, blender.Width);
        Assert.Equal(Height, blender.Height);
        int worst = 0;
        long total = 0;
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                (float r, float g, float b) linear = RgbeFiles.Decode(RgbeFiles.Encode(Sample(x, y).R, Sample(x, y).G, Sample(x, y).B));
                (float r, float g, float b) = ToneMapper.ToDisplay(linear.r, linear.g, linear.b, ToneMapping.Filmic);
                Rgb24 theirs = blender[x, y];
                foreach ((float ours, byte reference) in new[] { (r, theirs.R), (g, theirs.G), (b, theirs.B) })
                {
                    int difference = Math.Abs((int)((ours * 255f) + 0.5f) - reference);
                    worst = Math.Max(worst, difference);
                    total += difference;
                }
            }
        }

        double mean = total / (3.0 * Width * Height);
        Assert.True(worst <= 2 && mean < 0.05, $"Filmic differs from Blender's by up to {worst} levels, {mean:F3} on average ({blenderPng})");
    }

    // Columns sweep brightness from 2^-12 to 2^12; rows sweep hue and saturation (the top row grey).
    private static (float R, float G, float B) Sample(int x, int y)
    {
        float brightness = MathF.Pow(2f, -12f + (24f * x / (Width - 1)));
        float hue = 6f * (y % 16) / 16f;
        float saturation = y < 16 ? 0f : y < 32 ? 0.5f : 1f;
        float Channel(float offset)
        {
            float h = (hue + offset) % 6f;
            float pure = Math.Clamp(Math.Abs(h - 3f) - 1f, 0f, 1f);
            return brightness * (1f - saturation + (saturation * pure));
        }

        return (Channel(0f), Channel(4f), Channel(2f));
    }

    private static async Task RunBlenderAsync(string hdr, string view, string output)
    {
        var start = new ProcessStartInfo("blender") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[]
        {
            "-b", "--factory-startup", "--python-exit-code", "1", "-P", RepositoryPaths.Combine("samples/tools/blender_view.py"), "--",
            "--image", hdr, "--view", view, "--out", output,
        })
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("blender did not start");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0 && File.Exists(output), $"Blender failed ({process.ExitCode}): {await stdout}{await stderr}");
    }
}
