using RenderFarm.Core;

namespace RenderFarm.Core.Tests;

public class LinearColorFacts
{
    [Theory]
    [InlineData("0.5", 0.5f, 0.5f, 0.5f)]
    [InlineData("1, 0.9,0.8", 1f, 0.9f, 0.8f)]
    public void Parse_AcceptsGreyOrRgb(string text, float r, float g, float b)
    {
        Assert.Equal(new LinearColor(r, g, b), LinearColor.Parse(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1,2")]
    [InlineData("-1")]
    [InlineData("red")]
    [InlineData("NaN")]
    public void Parse_RejectsBadColours(string text)
    {
        var error = Assert.Throws<UserInputException>(() => LinearColor.Parse(text));

        Assert.Contains("not a colour", error.Message, StringComparison.Ordinal);
    }
}
