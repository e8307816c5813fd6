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

    [Theory]
    [InlineData("1,3,5-9,10-20x2", new[] { 1, 3, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20 }, "1-5x2,6-10,12-20x2")]
    [InlineData("10-20x5", new[] { 10, 15, 20 }, "10-20x5")]
    [InlineData("1-10x4", new[] { 1, 5, 9 }, "1-9x4")]
    [InlineData(" 4 , 2 ,2, 1-3 ", new[] { 1, 2, 3, 4 }, "1-4")]
    [InlineData("7,9", new[] { 7, 9 }, "7,9")]
    [InlineData("5-5x3", new[] { 5 }, "5")]
    public void Parse_AcceptsBlenderStyleListsAndSteps(string text, int[] frames, string canonical)
    {
        FrameRange range = FrameRange.Parse(text);

        Assert.Equal(frames, range.Frames);
        Assert.Equal(frames.Length, range.Count);
        Assert.Equal(frames[0], range.First);
        Assert.Equal(frames[^1], range.Last);
        Assert.Equal(canonical, range.ToString());
        Assert.Equal(range, FrameRange.Parse(canonical));
        Assert.All(frames, f => Assert.True(range.Contains(f)));
    }

    // Guards: a list is hostile input on the coordinator: its parts are bounded before any is expanded, so a list of
    // huge ranges or a very long text costs little and is refused in one line.
    [Theory]
    [InlineData("1-99999,100001-199999", "more than")]
    [InlineData("1-10x0", "not a frame range")]
    [InlineData("1-10x", "not a frame range")]
    [InlineData("5x2", "not a frame range")]
    [InlineData("1,,3", "not a frame range")]
    [InlineData("1,0", "start at 1")]
    [InlineData("1,100000001", "largest frame number")]
    [InlineData("1-10x-2", "not a frame range")]
    public void Parse_RejectsBadListsWithAClearMessage(string text, string expected)
    {
        var error = Assert.Throws<UserInputException>(() => FrameRange.Parse(text));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RefusesTextPastItsLengthLimit()
    {
        string text = string.Join(',', Enumerable.Range(1, 2000));

        Assert.Contains("at most", Assert.Throws<UserInputException>(() => FrameRange.Parse(text)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chunks_NeverSpanAGapOfTheList()
    {
        FrameRange range = FrameRange.Parse("1-5,8,10-20x5");

        Assert.Equal([(1, 2), (3, 4), (5, 5), (8, 8), (10, 10), (15, 15), (20, 20)], range.Chunks(2));
        Assert.Equal(7, range.ChunkCount(2));
        Assert.Equal([(1, 24)], new FrameRange(1, 24).Chunks(100));
    }

    [Fact]
    public void A_list_round_trips_through_json_and_a_range_keeps_its_old_shape()
    {
        var web = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web);
        FrameRange list = FrameRange.Parse("2,4-6");

        string json = System.Text.Json.JsonSerializer.Serialize(list, web);

        Assert.Equal("""{"first":2,"last":6,"list":"2,4-6"}""", json);
        Assert.Equal(list, System.Text.Json.JsonSerializer.Deserialize<FrameRange>(json, web));
        Assert.Equal("""{"first":3,"last":9}""", System.Text.Json.JsonSerializer.Serialize(new FrameRange(3, 9), web));
        Assert.Equal(new FrameRange(3, 9), System.Text.Json.JsonSerializer.Deserialize<FrameRange>("""{"first":3,"last":9,"count":7}""", web));
        Assert.Throws<UserInputException>(() => System.Text.Json.JsonSerializer.Deserialize<FrameRange>("""{"first":1,"last":6,"list":"2,4-6"}""", web));
    }

    [Fact]
    public void Offset_and_Except_keep_the_shape_of_the_list()
    {
        Assert.Equal(FrameRange.Parse("1,3-5"), FrameRange.Parse("10,12-14").Offset(-9));
        Assert.Equal(new FrameRange(1, 3), new FrameRange(5, 7).Offset(-4));
        Assert.Throws<UserInputException>(() => new FrameRange(5, 7).Offset(-5));
        Assert.Equal(FrameRange.Parse("2,4"), new FrameRange(1, 5).Except([1, 3, 5]));
        Assert.Null(new FrameRange(1, 2).Except([1, 2]));
    }
}
