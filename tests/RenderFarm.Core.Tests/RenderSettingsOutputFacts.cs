using System.Text.Json;

namespace RenderFarm.Core.Tests;

/// <summary>The output fields of <see cref="RenderSettings"/>: format, EXR depth and denoise.</summary>
public class RenderSettingsOutputFacts
{
    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);

    [Fact]
    public void An_exr_job_with_denoise_is_valid_and_round_trips_through_json_by_name()
    {
        var settings = new RenderSettings { Format = FrameFormat.Exr, ExrDepth = ExrDepth.Float, Denoise = true };
        settings.Validate();

        string json = JsonSerializer.Serialize(settings, s_web);

        Assert.Contains("\"exr\"", json, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"float\"", json, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(settings, JsonSerializer.Deserialize<RenderSettings>(json, s_web));
    }

    // Jobs stored before these fields existed read back as the PNG jobs they were.
    [Fact]
    public void Settings_without_the_fields_are_png_undenoised()
    {
        RenderSettings settings = JsonSerializer.Deserialize<RenderSettings>("""{"samplesPerPixel":4}""", s_web)!;

        Assert.Equal((FrameFormat.Png, ExrDepth.Half, false), (settings.Format, settings.ExrDepth, settings.Denoise));
    }

    [Theory]
    [InlineData(FrameFormat.Png, ExrDepth.Half, true, "Denoising and an EXR depth need the EXR format")]
    [InlineData(FrameFormat.Png, ExrDepth.Float, false, "Denoising and an EXR depth need the EXR format")]
    [InlineData((FrameFormat)7, ExrDepth.Half, false, "Format must be png or exr")]
    [InlineData(FrameFormat.Exr, (ExrDepth)9, false, "Format must be png or exr")]
    public void Mismatched_or_unknown_output_settings_are_refused_in_one_line(FrameFormat format, ExrDepth depth, bool denoise, string expected)
    {
        var settings = new RenderSettings { Format = format, ExrDepth = depth, Denoise = denoise };

        var error = Assert.Throws<UserInputException>(settings.Validate);

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }
}
