using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Cli.Tests;

/// <summary>The render bench's scale and noise modes: figures for valid input, one-line refusals for bad lists.</summary>
public sealed class BenchCommandFacts
{
    [Fact]
    [Trait("Category", "Gpu")]
    public async Task The_bvh_scale_mode_prints_one_row_per_size_and_whether_it_fits_the_device()
    {
        CliResult result = await CliRunner.RunAsync("bench", "--bvh", "2000,5000");
        Assert.True(result.ExitCode == 0, result.Error);
        string[] rows = result.Output.Split('\n').Where(line => line.StartsWith("| 2,000 |", StringComparison.Ordinal) || line.StartsWith("| 5,000 |", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, rows.Length);

        // A few thousand triangles fit any device, so the last column must say so.
        Assert.All(rows, row => Assert.EndsWith("| yes |", row.TrimEnd(), StringComparison.Ordinal));
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public async Task The_instancing_mode_prints_an_instanced_and_a_flattened_row_per_case()
    {
        CliResult result = await CliRunner.RunAsync("bench", "--instancing", "2000x3");
        Assert.True(result.ExitCode == 0, result.Error);
        string[] rows = result.Output.Split('\n').Where(line => line.StartsWith("| 2,000 x 3 | 6,000 |", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.Contains("| instanced |", rows[0], StringComparison.Ordinal);
        Assert.Contains("| flattened |", rows[1], StringComparison.Ordinal);
        Assert.All(rows, row => Assert.EndsWith("| yes |", row.TrimEnd(), StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--bvh", "0")]
    [InlineData("--bvh", "ten")]
    [InlineData("--bvh", "99999999999")]
    [InlineData("--instancing", "1000")]
    [InlineData("--instancing", "1000x1")]
    [InlineData("--instancing", "1000x100001")]
    [InlineData("--instancing", "0x5")]
    public async Task Bad_lists_are_refused_in_one_line(string option, string value)
    {
        CliResult result = await CliRunner.RunAsync("bench", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(option, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public async Task The_noise_mode_writes_our_linear_renders_and_the_share_of_the_worst_pixels()
    {
        string output = Directory.CreateTempSubdirectory("renderfarm-noise-").FullName;
        try
        {
            CliResult result = await CliRunner.RunAsync(
                "bench", "--noise", "--no-cycles", "--bsdf", "gltf", "--scenes", "samples/cornell-box/cornell-box.glb",
                "--size", "8x8", "--reference-spp", "8", "--ladder", "2,4", "--out", output);
            Assert.True(result.ExitCode == 0, result.Error);
            Assert.Contains("Gltf BSDF", result.Output, StringComparison.Ordinal);
            // Both samplers by default, each with its own reference, and the two references set side by side.
            foreach (string sampler in new[] { "independent", "stratified" })
            {
                Assert.Contains($"cornell-box: {sampler}: the worst 1 % of pixel channels hold", result.Output, StringComparison.Ordinal);
                Assert.Contains($"| cornell-box | 984 | RenderFarm, {sampler} |", result.Output, StringComparison.Ordinal);

                // The reference and each rung, as linear PFM beside where Cycles' images go; a lit box is not black.
                foreach (string name in new[] { $"renderfarm-{sampler}-8-7919.pfm", $"renderfarm-{sampler}-2-1.pfm", $"renderfarm-{sampler}-4-1.pfm" })
                {
                    HdrImage image = PfmFile.Read(Path.Combine(output, "cornell-box", name));
                    Assert.Equal((8, 8), (image.Width, image.Height));
                    Assert.Contains(image.Pixels, value => value > 0);
                    Assert.All(image.Pixels, value => Assert.True(float.IsFinite(value)));
                }
            }

            Assert.Contains("cornell-box: the Independent and Stratified references: mean", result.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Theory]
    [InlineData("sobol")]
    [InlineData(",")]
    public async Task An_unknown_sampler_is_refused_in_one_line(string sampler)
    {
        CliResult result = await CliRunner.RunAsync("bench", "--noise", "--no-cycles", "--sampler", sampler);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--sampler", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ladder_that_reaches_the_reference_is_refused_before_any_render()
    {
        CliResult result = await CliRunner.RunAsync("bench", "--noise", "--no-cycles", "--ladder", "4,512", "--reference-spp", "512");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--ladder", result.Error, StringComparison.Ordinal);
    }
}
