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
