using System.Globalization;

namespace RenderFarm.Core;

/// <summary>A linear-light RGB colour in scene radiance units.</summary>
/// <param name="R">Red.</param>
/// <param name="G">Green.</param>
/// <param name="B">Blue.</param>
public readonly record struct LinearColor(float R, float G, float B)
{
    /// <summary>Black: no light.</summary>
    public static LinearColor Black => default;

    /// <summary>Parses <c>V</c> (grey) or <c>R,G,B</c>; every value finite and non-negative.</summary>
    /// <exception cref="UserInputException">The text is not a valid colour.</exception>
    public static LinearColor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i])
                || !float.IsFinite(values[i]) || values[i] < 0)
            {
                values = [];
                break;
            }
        }

        return values.Length switch
        {
            1 => new LinearColor(values[0], values[0], values[0]),
            3 => new LinearColor(values[0], values[1], values[2]),
            _ => throw new UserInputException($"'{text}' is not a colour; write V or R,G,B with non-negative numbers, e.g. 0.5 or 1,0.9,0.8."),
        };
    }
}
