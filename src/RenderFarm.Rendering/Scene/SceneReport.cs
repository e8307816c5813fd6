using System.Globalization;

namespace RenderFarm.Rendering.Scene;

/// <summary>
/// Collects one line per thing a scene holds that the renderer does not draw, so that nothing is dropped without a
/// word. Lines repeat nothing and stop at <see cref="MaxLines"/> (a hostile file could otherwise produce one per mesh),
/// with a last line that counts the rest.
/// </summary>
internal sealed class SceneReport
{
    /// <summary>Most lines kept; further distinct items are counted in one closing line.</summary>
    public const int MaxLines = 40;

    private readonly List<string> _lines = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private int _more;

    /// <summary>Adds <paramref name="line"/> unless it is already there.</summary>
    public void Add(string line)
    {
        if (!_seen.Add(line))
        {
            return;
        }

        if (_lines.Count < MaxLines)
        {
            _lines.Add(line);
        }
        else
        {
            _more++;
        }
    }

    /// <summary>The lines, with a count of those left out.</summary>
    public IReadOnlyList<string> ToList() => _more == 0
        ? _lines.AsReadOnly()
        : [.. _lines, string.Create(CultureInfo.InvariantCulture, $"... and {_more} more item(s) not drawn.")];
}
