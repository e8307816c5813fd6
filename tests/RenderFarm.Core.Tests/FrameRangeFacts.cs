using RenderFarm.Core;

namespace RenderFarm.Core.Tests;

public class FrameRangeFacts
{
    [Theory]
    [InlineData("1-24", 1, 24)]
    [InlineData("7", 7, 7)]
    [InlineData(" 3-5 ", 3, 5)]
    [InlineData("10-10", 10, 10)]
    public void Parse_AcceptsSingleFramesAndRanges(string text, int first, int last)
    {
        FrameRange range = FrameRange.Parse(text);

        Assert.Equal(first, range.First);
        Assert.Equal(last, range.Last);
        Assert.Equal(last - first + 1, range.Count);
        Assert.Equal(Enumerable.Range(first, last - first + 1), range.Frames);
    }

    [Theory]
    [InlineData("", "not a frame range")]
    [InlineData("a-b", "not a frame range")]
    [InlineData("5-", "not a frame range")]
    [InlineData("0-4", "start at 1")]
    [InlineData("-3", "start at 1")]
    [InlineData("-3-5", "start at 1")]
    [InlineData("9-2", "ends before it starts")]
    [InlineData("2147483647", "largest frame number")]
    [InlineData("2147483000-2147483647", "largest frame number")]
    [InlineData("1-1000000", "more than")]
    [InlineData("1-99999999999", "not a frame range")]
    public void Parse_RejectsBadRangesWithAClearMessage(string text, string expected)
    {
        var error = Assert.Throws<UserInputException>(() => FrameRange.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_RoundTrips()
    {
        Assert.Equal("1-24", new FrameRange(1, 24).ToString());
        Assert.Equal("5", new FrameRange(5, 5).ToString());
    }
}
