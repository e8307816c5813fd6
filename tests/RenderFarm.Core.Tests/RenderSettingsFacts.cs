using RenderFarm.Core;

namespace RenderFarm.Core.Tests;

public class RenderSettingsFacts
{
    [Fact]
    public void Defaults_AreValid()
    {
        new RenderSettings().Validate();
    }

    [Fact]
    public void TimeOfFrame_PutsFrameOneAtZero()
    {
        var settings = new RenderSettings { FramesPerSecond = 24 };

        Assert.Equal(0, settings.TimeOfFrame(1));
        Assert.Equal(0.5, settings.TimeOfFrame(13), 12);
    }

    [Theory]
    [InlineData(0, 8, 24.0, 0f, "Samples per pixel")]
    [InlineData(64, -1, 24.0, 0f, "Max bounces")]
    [InlineData(64, 8, 0.0, 0f, "Frames per second")]
    [InlineData(64, 8, double.NaN, 0f, "Frames per second")]
    [InlineData(64, 8, 24.0, float.NaN, "Exposure")]
    public void Validate_NamesTheBadValue(int spp, int bounces, double fps, float exposure, string expected)
    {
        var settings = new RenderSettings { SamplesPerPixel = spp, MaxBounces = bounces, FramesPerSecond = fps, ExposureStops = exposure };

        var error = Assert.Throws<UserInputException>(settings.Validate);

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }
}

public class RenderSettingsJsonFacts
{
    private static readonly System.Text.Json.JsonSerializerOptions s_web = new(System.Text.Json.JsonSerializerDefaults.Web);

    [Fact]
    public void Settings_RoundTripThroughJson()
    {
        var settings = new RenderSettings
        {
            Size = new ImageSize(320, 200),
            SamplesPerPixel = 7,
            Seed = 99,
            ToneMapping = ToneMapping.Clamp,
            Background = new LinearColor(0.1f, 0.2f, 0.3f),
            SixteenBit = true,
        };

        string json = System.Text.Json.JsonSerializer.Serialize(settings, s_web);
        RenderSettings? back = System.Text.Json.JsonSerializer.Deserialize<RenderSettings>(json, s_web);

        Assert.Equal(settings, back);
        Assert.Contains("\"clamp\"", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void InvalidSizeInJson_IsRefusedByTheConstructor()
    {
        Assert.Throws<UserInputException>(() => System.Text.Json.JsonSerializer.Deserialize<ImageSize>("{\"width\":0,\"height\":5}", s_web));
    }

    [Fact]
    public void FrameRange_RoundTripsThroughJson()
    {
        string json = System.Text.Json.JsonSerializer.Serialize(new FrameRange(3, 9), s_web);

        Assert.Equal(new FrameRange(3, 9), System.Text.Json.JsonSerializer.Deserialize<FrameRange>(json, s_web));
    }

    [Fact]
    public void A_default_size_that_bypassed_its_constructor_is_refused()
    {
        // default(ImageSize) is 0x0 without running the constructor's checks; Validate must not let it through.
        var error = Assert.Throws<UserInputException>(() => new RenderSettings { Size = default }.Validate());

        Assert.Contains("0x0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bsdf_defaults_to_principled_and_travels_through_json()
    {
        // Jobs carry their settings to providers as JSON: the BSDF must survive the trip, or a provider would
        // render (and a verifier re-render) with the wrong surface model.
        var settings = new RenderSettings { Bsdf = BsdfModel.Gltf };

        string json = System.Text.Json.JsonSerializer.Serialize(settings, s_web);
        RenderSettings? back = System.Text.Json.JsonSerializer.Deserialize<RenderSettings>(json, s_web);

        Assert.Equal(BsdfModel.Principled, new RenderSettings().Bsdf);
        Assert.Equal(BsdfModel.Gltf, back!.Bsdf);
        Assert.Contains("\"gltf\"", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void An_undefined_bsdf_is_refused()
    {
        // A number that names no model (JSON enums also read numbers) must not reach the shader's flags.
        RenderSettings settings = System.Text.Json.JsonSerializer.Deserialize<RenderSettings>("{\"bsdf\":7}", s_web)!;

        var error = Assert.Throws<UserInputException>(settings.Validate);

        Assert.StartsWith("BSDF", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sampler_defaults_to_independent_and_travels_through_json()
    {
        // A validator re-renders a provider's tiles with the job's settings: the sampler must survive the trip, or the
        // two would draw different numbers and every honest frame would fail its spot check.
        var settings = new RenderSettings { Sampler = SamplerKind.Stratified };

        string json = System.Text.Json.JsonSerializer.Serialize(settings, s_web);
        RenderSettings? back = System.Text.Json.JsonSerializer.Deserialize<RenderSettings>(json, s_web);

        Assert.Equal(SamplerKind.Independent, new RenderSettings().Sampler);
        Assert.Equal(SamplerKind.Stratified, back!.Sampler);
        Assert.Contains("\"stratified\"", json, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void An_undefined_sampler_is_refused()
    {
        // A number that names no sampler must not reach the shader's flags.
        RenderSettings settings = System.Text.Json.JsonSerializer.Deserialize<RenderSettings>("{\"sampler\":5}", s_web)!;

        var error = Assert.Throws<UserInputException>(settings.Validate);

        Assert.StartsWith("Sampler", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SamplesPerFrame_is_exact_at_the_largest_settings()
    {
        var settings = new RenderSettings { Size = new ImageSize(ImageSize.MaxDimension, ImageSize.MaxDimension), SamplesPerPixel = RenderSettings.MaxSamplesPerPixel };

        Assert.Equal(1L << 48, settings.SamplesPerFrame);
    }
}
