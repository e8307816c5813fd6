using System.Globalization;
using System.Text.Json.Serialization;

namespace RenderFarm.Core;

/// <summary>The pixel size of a rendered frame, e.g. <c>512x512</c>.</summary>
public readonly record struct ImageSize
{
    /// <summary>The largest width or height accepted.</summary>
    public const int MaxDimension = 16384;

    /// <summary>Creates a size; both sides must be between 1 and <see cref="MaxDimension"/>.</summary>
    [JsonConstructor]
    public ImageSize(int width, int height)
    {
        if (width < 1 || height < 1 || width > MaxDimension || height > MaxDimension)
        {
            throw new UserInputException(
                $"Image size {width}x{height} is out of range; each side must be between 1 and {MaxDimension}.");
        }

        Width = width;
        Height = height;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Number of pixels.</summary>
    public long PixelCount => checked((long)Width * Height);

    /// <summary>Width divided by height.</summary>
    public float AspectRatio => (float)Width / Height;

    /// <summary>Parses <c>WIDTHxHEIGHT</c>.</summary>
    /// <exception cref="UserInputException">The text is not a valid size.</exception>
    public static ImageSize Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Trim().ToLowerInvariant().Split('x');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int width)
            || !int.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int height))
        {
            throw new UserInputException($"'{text}' is not an image size; write WIDTHxHEIGHT, e.g. 512x512.");
        }

        return new ImageSize(width, height);
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Width}x{Height}");
}
