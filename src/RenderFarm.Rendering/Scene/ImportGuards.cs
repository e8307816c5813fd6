using System.Globalization;
using RenderFarm.Core;

namespace RenderFarm.Rendering.Scene;

/// <summary>The importer's checks on what a file states: budgets refused in one line, names made safe to print.</summary>
internal static class ImportGuards
{
    /// <summary>Refuses a scene whose <paramref name="what"/> count <paramref name="value"/> exceeds <paramref name="limit"/>.</summary>
    /// <exception cref="UserInputException">The count exceeds the limit.</exception>
    public static void CheckBudget(string displayName, string what, long value, long limit)
    {
        if (value > limit)
        {
            throw new UserInputException(string.Create(
                CultureInfo.InvariantCulture,
                $"'{displayName}' has at least {value} {what}; the limit is {limit}."));
        }
    }

    // Names come from the file: control characters (a newline would split a report line) become '?'.
    public static string Shorten(string text) => WithoutControls(text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "..."));

    public static string WithoutControls(string text) => string.Create(text.Length, text, (span, source) =>
    {
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = char.IsControl(source[i]) ? '?' : source[i];
        }
    });
}
