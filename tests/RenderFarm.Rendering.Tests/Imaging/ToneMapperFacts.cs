using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Tests.Imaging;

public class ToneMapperFacts
{
    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(1f, 1f)]
    [InlineData(0.0031308f, 0.04045f)]
    [InlineData(0.214041f, 0.5f)]
    public void LinearToSrgb_FollowsTheStandard(float linear, float encoded)
    {
        Assert.Equal(encoded, ToneMapper.LinearToSrgb(linear), 4);
        Assert.Equal(linear, ToneMapper.SrgbToLinear(encoded), 4);
    }

    [Fact]
    public void Clamp_ClipsAndEncodes()
    {
        Assert.Equal(1f, ToneMapper.ToDisplay(7f, ToneMapping.Clamp), 5);
        Assert.Equal(0f, ToneMapper.ToDisplay(-1f, ToneMapping.Clamp));
        Assert.Equal(0f, ToneMapper.ToDisplay(float.NaN, ToneMapping.Clamp));
        Assert.Equal(0.5f, ToneMapper.ToDisplay(0.214041f, ToneMapping.Clamp), 4);
    }

    [Fact]
    public void Aces_IsMonotonicAndCompressesHighlights()
    {
        float previous = -1f;
        for (float x = 0f; x < 64f; x += 0.05f)
        {
            float mapped = ToneMapper.ToDisplay(x, ToneMapping.Aces);
            Assert.True(mapped >= previous, $"curve falls at {x}");
            previous = mapped;
        }

        Assert.True(ToneMapper.Aces(2f) < 1f);
        Assert.Equal(1f, ToneMapper.Aces(1000f), 3);
        Assert.Equal(0f, ToneMapper.Aces(0f));
    }
}
