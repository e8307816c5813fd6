using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;

namespace RenderFarm.Coordinator.Web;

/// <summary>
/// A piece of HTML. Built only from literals and encoded values: every hole of <see cref="Of"/> is HTML-encoded unless
/// it is itself <see cref="Html"/>, so text from clients and providers (scene names, failure reasons) can never become
/// markup. Numbers and dates are formatted with the invariant culture.
/// </summary>
internal readonly record struct Html(string Value)
{
    public static Html Empty { get; } = new("");

    /// <summary>Builds HTML from an interpolated string whose holes are encoded.</summary>
    public static Html Of(ref HtmlBuilder builder) => builder.ToHtml();

    /// <summary>Encoded text.</summary>
    public static Html Text(string? text) => new(HtmlEncoder.Default.Encode(text ?? ""));

    /// <summary>The pieces one after another.</summary>
    public static Html Join(IEnumerable<Html> pieces) => new(string.Concat(pieces.Select(p => p.Value)));

    /// <summary>The piece when <paramref name="condition"/> holds, else nothing.</summary>
    public static Html If(bool condition, Html piece) => condition ? piece : Empty;

    public override string ToString() => Value;
}

/// <summary>The interpolated-string handler behind <see cref="Html.Of"/>.</summary>
[InterpolatedStringHandler]
internal ref struct HtmlBuilder
{
    private readonly StringBuilder _builder;

    public HtmlBuilder(int literalLength, int formattedCount)
    {
        _builder = new StringBuilder(literalLength + (formattedCount * 16));
    }

    public readonly void AppendLiteral(string literal) => _builder.Append(literal);

    public readonly void AppendFormatted(Html html) => _builder.Append(html.Value);

    public readonly void AppendFormatted(IEnumerable<Html> pieces)
    {
        foreach (Html piece in pieces)
        {
            _builder.Append(piece.Value);
        }
    }

    public readonly void AppendFormatted(string? text) => _builder.Append(HtmlEncoder.Default.Encode(text ?? ""));

    public readonly void AppendFormatted<T>(T value) => AppendFormatted(value, null);

    public readonly void AppendFormatted<T>(T value, string? format)
    {
        // Lists and arrays of HTML bind here rather than to the IEnumerable overload.
        if (value is IEnumerable<Html> pieces)
        {
            AppendFormatted(pieces);
            return;
        }

        string text = value switch
        {
            null => "",
            IFormattable formattable => formattable.ToString(format, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        _builder.Append(HtmlEncoder.Default.Encode(text));
    }

    public readonly Html ToHtml() => new(_builder.ToString());
}
