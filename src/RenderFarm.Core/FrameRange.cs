using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace RenderFarm.Core;

/// <summary>
/// The frames of a job, written as Blender writes them: <c>N</c>, <c>FIRST-LAST</c>, <c>FIRST-LASTxSTEP</c>, or a
/// comma-separated list of those, e.g. <c>1,3,5-9,10-20x2</c>. Frame 1 is at time zero. A contiguous range is the
/// common case and keeps its two-number form; a list is kept as its sorted, distinct frames.
/// </summary>
public readonly record struct FrameRange
{
    /// <summary>The largest number of frames one range may hold.</summary>
    public const int MaxFrameCount = 100_000;

    /// <summary>
    /// The largest frame number any range may name. Far below <see cref="int.MaxValue"/>, so a frame number plus a
    /// chunk or a count of frames never overflows; a farm may allow less (the coordinator's job limits).
    /// </summary>
    public const int MaxFrameNumber = 100_000_000;

    /// <summary>The longest frame list text accepted, so parsing a hostile request costs little.</summary>
    public const int MaxTextLength = 4096;

    // Sorted, distinct frames of a list that is not one contiguous range; null for a contiguous range.
    private readonly int[]? _frames;

    /// <summary>Creates a contiguous range; <paramref name="first"/> must be at least 1, not after <paramref name="last"/>, and <paramref name="last"/> at most <see cref="MaxFrameNumber"/>.</summary>
    public FrameRange(int first, int last)
    {
        Check(first, last);
        First = first;
        Last = last;
        _frames = null;
    }

    /// <summary>
    /// Creates a range from its stored form: <paramref name="list"/>, when given, is the Blender-style list and must
    /// span <paramref name="first"/> to <paramref name="last"/>.
    /// </summary>
    [JsonConstructor]
    public FrameRange(int first, int last, string? list)
    {
        if (list is null)
        {
            this = new FrameRange(first, last);
            return;
        }

        FrameRange parsed = Parse(list);
        if (parsed.First != first || parsed.Last != last)
        {
            throw new UserInputException($"Frame list '{Shorten(list)}' spans {parsed.First}-{parsed.Last}, not {first}-{last}.");
        }

        this = parsed;
    }

    private FrameRange(int[] frames)
    {
        First = frames[0];
        Last = frames[^1];
        _frames = frames.Length == Last - First + 1 ? null : frames;
    }

    /// <summary>The first frame.</summary>
    public int First { get; }

    /// <summary>The last frame (inclusive).</summary>
    public int Last { get; }

    /// <summary>The list in its shortest Blender form when the frames are not one contiguous range; otherwise null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? List => _frames is null ? null : Format(_frames);

    /// <summary>Whether the frames run from <see cref="First"/> to <see cref="Last"/> without a gap.</summary>
    [JsonIgnore]
    public bool IsContiguous => _frames is null;

    /// <summary>How many frames the range holds.</summary>
    [JsonIgnore]
    public int Count => _frames?.Length ?? checked(Last - First + 1);

    /// <summary>The frame numbers in order.</summary>
    [JsonIgnore]
    public IEnumerable<int> Frames => _frames ?? Enumerable.Range(First, Count);

    /// <summary>Whether <paramref name="frame"/> is one of the frames.</summary>
    public bool Contains(int frame) => _frames is null ? frame >= First && frame <= Last : Array.BinarySearch(_frames, frame) >= 0;

    /// <summary>
    /// The frames as runs of consecutive frames, each cut into chunks of at most <paramref name="chunkSize"/>: the
    /// first and last frame of each farm task. A task always covers consecutive frames, so a stepped list makes a task
    /// per frame.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkSize"/> is below 1.</exception>
    public IReadOnlyList<(int First, int Last)> Chunks(int chunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var chunks = new List<(int First, int Last)>();
        foreach ((int runFirst, int runLast) in Runs())
        {
            for (long first = runFirst; first <= runLast; first += chunkSize)
            {
                long last = Math.Min(first + chunkSize - 1, runLast);
                chunks.Add(((int)first, (int)last));
            }
        }

        return chunks;
    }

    /// <summary>How many chunks <see cref="Chunks"/> makes, without listing them.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkSize"/> is below 1.</exception>
    public int ChunkCount(int chunkSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        long count = 0;
        foreach ((int first, int last) in Runs())
        {
            count += (((long)last - first + 1) + chunkSize - 1) / chunkSize;
        }

        return checked((int)count);
    }

    /// <summary>The frames of this range that <paramref name="done"/> does not name, or null when none is left.</summary>
    public FrameRange? Except(IEnumerable<int> done)
    {
        ArgumentNullException.ThrowIfNull(done);
        var finished = new HashSet<int>(done);
        int[] left = [.. Frames.Where(f => !finished.Contains(f))];
        return left.Length == 0 ? null : new FrameRange(left);
    }

    /// <summary>The same frames moved by <paramref name="delta"/> (e.g. a scene's own frame numbers to the farm's, which start at 1).</summary>
    /// <exception cref="UserInputException">A moved frame falls outside 1 to <see cref="MaxFrameNumber"/>.</exception>
    public FrameRange Offset(int delta)
    {
        long first = (long)First + delta;
        long last = (long)Last + delta;
        if (first < 1 || last > MaxFrameNumber)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture, $"Frames {this} moved by {delta} would be {first}-{last}, outside 1-{MaxFrameNumber}."));
        }

        if (_frames is null)
        {
            return new FrameRange((int)first, (int)last);
        }

        return new FrameRange([.. _frames.Select(f => f + delta)]);
    }

    /// <summary>Parses <c>N</c>, <c>FIRST-LAST</c>, <c>FIRST-LASTxSTEP</c> or a comma-separated list of them.</summary>
    /// <exception cref="UserInputException">The text is not a valid range or list.</exception>
    public static FrameRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxTextLength)
        {
            throw new UserInputException($"A frame list may be at most {MaxTextLength} characters long; got {text.Length}.");
        }

        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 1)
        {
            (int first, int last, int step) = ParsePart(parts[0], text);
            if (step == 1)
            {
                return new FrameRange(first, last);
            }
        }

        // Every part is bounded before any is expanded, so a list of huge ranges cannot allocate much.
        var segments = new List<(int First, int Last, int Step)>(parts.Length);
        long total = 0;
        foreach (string part in parts)
        {
            (int first, int last, int step) = ParsePart(part, text);
            total += ((long)last - first) / step + 1;
            if (total > MaxFrameCount)
            {
                throw new UserInputException($"Frame list '{Shorten(text)}' holds more than {MaxFrameCount} frames.");
            }

            segments.Add((first, last, step));
        }

        var frames = new SortedSet<int>();
        foreach ((int first, int last, int step) in segments)
        {
            for (long frame = first; frame <= last; frame += step)
            {
                frames.Add((int)frame);
            }
        }

        return new FrameRange([.. frames]);
    }

    /// <inheritdoc/>
    public bool Equals(FrameRange other) =>
        First == other.First && Last == other.Last && (_frames is null ? other._frames is null : other._frames is not null && _frames.AsSpan().SequenceEqual(other._frames));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(First, Last, Count);

    /// <inheritdoc/>
    public override string ToString() => _frames is not null
        ? Format(_frames)
        : First == Last
            ? First.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");

    private IEnumerable<(int First, int Last)> Runs()
    {
        if (_frames is null)
        {
            yield return (First, Last);
            yield break;
        }

        int start = 0;
        for (int index = 1; index <= _frames.Length; index++)
        {
            if (index == _frames.Length || _frames[index] != _frames[index - 1] + 1)
            {
                yield return (_frames[start], _frames[index - 1]);
                start = index;
            }
        }
    }

    private static void Check(int first, int last)
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
    }

    // One part of a list: N, FIRST-LAST or FIRST-LASTxSTEP (a step of at least 1).
    private static (int First, int Last, int Step) ParsePart(string part, string text)
    {
        int step = 1;
        int x = part.IndexOfAny(['x', 'X']);
        string range = part;
        if (x >= 0)
        {
            if (!int.TryParse(part.AsSpan(x + 1), NumberStyles.None, CultureInfo.InvariantCulture, out step) || step < 1)
            {
                throw NotAList(text);
            }

            range = part[..x];
        }

        int dash = range.IndexOf('-', 1 < range.Length ? 1 : 0);
        string firstText = dash < 0 ? range : range[..dash];
        string lastText = dash < 0 ? range : range[(dash + 1)..];
        if ((x >= 0 && dash < 0)
            || !int.TryParse(firstText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int first)
            || !int.TryParse(lastText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int last))
        {
            throw NotAList(text);
        }

        Check(first, last);
        return (first, last, step);
    }

    private static UserInputException NotAList(string text) =>
        new($"'{Shorten(text)}' is not a frame range; write N, FIRST-LAST, FIRST-LASTxSTEP or a comma-separated list of them, e.g. 1,3,5-9,10-20x2.");

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";

    // The shortest form: runs of equal steps become FIRST-LAST or FIRST-LASTxSTEP, and the rest single frames.
    private static string Format(int[] frames)
    {
        var text = new StringBuilder();
        int index = 0;
        while (index < frames.Length)
        {
            if (text.Length > 0)
            {
                text.Append(',');
            }

            int end = index;
            if (index + 1 < frames.Length)
            {
                int step = frames[index + 1] - frames[index];
                while (end + 1 < frames.Length && frames[end + 1] - frames[end] == step)
                {
                    end++;
                }

                if (step == 1 || end - index >= 2)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{frames[index]}-{frames[end]}");
                    if (step > 1)
                    {
                        text.Append(CultureInfo.InvariantCulture, $"x{step}");
                    }

                    index = end + 1;
                    continue;
                }
            }

            text.Append(frames[index].ToString(CultureInfo.InvariantCulture));
            index++;
        }

        return text.ToString();
    }
}
