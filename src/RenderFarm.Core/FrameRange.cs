using System.Globalization;
using System.Text.Json.Serialization;

namespace RenderFarm.Core;

/// <summary>An inclusive range of frame numbers, e.g. <c>1-24</c>. Frame 1 is at time zero.</summary>
public readonly record struct FrameRange
{
    /// <summary>The largest number of frames one range may hold.</summary>
    public const int MaxFrameCount = 100_000;

    /// <summary>
    /// The largest frame number any range may name. Far below <see cref="int.MaxValue"/>, so a frame number plus a
    /// chunk or a count of frames never overflows; a farm may allow less (the coordinator's job limits).
    /// </summary>
    public const int MaxFrameNumber = 100_000_000;

    /// <summary>Creates a range; <paramref name="first"/> must be at least 1, not after <paramref name="last"/>, and <paramref name="last"/> at most <see cref="MaxFrameNumber"/>.</summary>
    [JsonConstructor]
    public FrameRange(int first, int last)
    {
        if (first < 1)
        {
            throw new UserInputException($"Frame numbers start at 1; got {first}.");
        }

        if (last < first)
        {
            throw new UserInputException($"Frame range {first}-{last} ends before it starts.");
        }

        if (last > MaxFrameNumber)
        {
            throw new UserInputException($"Frame {last} is past the largest frame number, {MaxFrameNumber}.");
        }

        if ((long)last - first + 1 > MaxFrameCount)
        {
            throw new UserInputException($"Frame range {first}-{last} holds more than {MaxFrameCount} frames.");
        }

        First = first;
        Last = last;
    }

    /// <summary>The first frame.</summary>
    public int First { get; }

    /// <summary>The last frame (inclusive).</summary>
    public int Last { get; }

    /// <summary>How many frames the range holds.</summary>
    public int Count => checked(Last - First + 1);

    /// <summary>The frame numbers in order.</summary>
    public IEnumerable<int> Frames => Enumerable.Range(First, Count);

    /// <summary>Parses <c>N</c> or <c>FIRST-LAST</c>.</summary>
    /// <exception cref="UserInputException">The text is not a valid range.</exception>
    public static FrameRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        int dash = trimmed.IndexOf('-', 1 < trimmed.Length ? 1 : 0);
        string firstText = dash < 0 ? trimmed : trimmed[..dash];
        string lastText = dash < 0 ? trimmed : trimmed[(dash + 1)..];
        if (!int.TryParse(firstText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int first)
            || !int.TryParse(lastText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int last))
        {
            throw new UserInputException($"'{text}' is not a frame range; write N or FIRST-LAST, e.g. 1-24.");
        }

        return new FrameRange(first, last);
    }

    /// <inheritdoc/>
    public override string ToString() => First == Last
        ? First.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");
}
