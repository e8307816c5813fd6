using System.Globalization;
using System.Text;
using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>The channels an image becomes, in tensor order.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue: three channels.</summary>
    Rgb,

    /// <summary>Blue, green, red: three channels (Caffe and OpenCV models).</summary>
    Bgr,

    /// <summary>One channel of BT.709 luma, 0.2126 R + 0.7152 G + 0.0722 B of the stored (gamma-encoded) values.</summary>
    Gray,
}

/// <summary>
/// How an image becomes a model input, declared rather than guessed: resize to
/// <see cref="Size"/> (or keep the image's size), take <see cref="Channels"/>, and map every 8-bit
/// value <c>v</c> of channel <c>c</c> to <c>(v × Scale − Mean[c]) / Std[c]</c>.
/// </summary>
/// <remarks>
/// The text form is the command line's options, e.g.
/// <c>--image-size 224x224 --channels rgb --scale 0.00392157 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225</c>;
/// <see cref="Parse"/> reads it and <see cref="ToString"/> writes it, so a job can carry its
/// preprocessing as one line. <see cref="Mean"/> and <see cref="Std"/> hold one value for every
/// channel or one per channel, in tensor order (for <see cref="ChannelOrder.Bgr"/>: blue first).
/// </remarks>
public sealed record ImagePreprocessing
{
    /// <summary>The option that sets <see cref="Size"/>.</summary>
    public const string SizeOption = "--image-size";

    /// <summary>The option that sets <see cref="Channels"/>.</summary>
    public const string ChannelsOption = "--channels";

    /// <summary>The option that sets <see cref="Scale"/>.</summary>
    public const string ScaleOption = "--scale";

    /// <summary>The option that sets <see cref="Mean"/>.</summary>
    public const string MeanOption = "--mean";

    /// <summary>The option that sets <see cref="Std"/>.</summary>
    public const string StdOption = "--std";

    private readonly float _scale = 1f / 255;
    private readonly IReadOnlyList<float> _mean = [0f];
    private readonly IReadOnlyList<float> _std = [1f];

    /// <summary>RGB, original size, values scaled to 0..1, no normalization.</summary>
    public static ImagePreprocessing Default { get; } = new();

    /// <summary>Stretch the image to exactly this size (bilinear, aspect ratio not kept); <see langword="null"/> keeps the image's size.</summary>
    public ImageSize? Size { get; init; }

    /// <summary>The channels of the tensor, in order.</summary>
    public ChannelOrder Channels { get; init; } = ChannelOrder.Rgb;

    /// <summary>Multiplies the 8-bit value (0..255) first: 1/255 gives 0..1, 1 keeps 0..255.</summary>
    /// <exception cref="UserInputException">Set to a value that is not finite or zero.</exception>
    public float Scale
    {
        get => _scale;
        init => _scale = float.IsFinite(value) && value != 0
            ? value
            : throw new UserInputException($"{ScaleOption} must be a finite number other than 0; got {Format(value)}.");
    }

    /// <summary>Subtracted after scaling: one value for every channel, or one per channel.</summary>
    /// <exception cref="UserInputException">Set to an empty list or to values that are not finite.</exception>
    public IReadOnlyList<float> Mean
    {
        get => _mean;
        init => _mean = CheckValues(value, MeanOption, allowZero: true);
    }

    /// <summary>Divides after the mean is subtracted: one value for every channel, or one per channel.</summary>
    /// <exception cref="UserInputException">Set to an empty list or to values that are zero or not finite.</exception>
    public IReadOnlyList<float> Std
    {
        get => _std;
        init => _std = CheckValues(value, StdOption, allowZero: false);
    }

    /// <summary>The number of tensor channels: 1 for <see cref="ChannelOrder.Gray"/>, else 3.</summary>
    public int ChannelCount => Channels == ChannelOrder.Gray ? 1 : 3;

    /// <summary>
    /// Builds the preprocessing from the values of the command line's options; a <see langword="null"/>
    /// value keeps the default. Checks that <see cref="Mean"/> and <see cref="Std"/> fit the channels.
    /// </summary>
    /// <exception cref="UserInputException">A value is malformed or does not fit.</exception>
    public static ImagePreprocessing FromOptions(string? size, string? channels, string? scale, string? mean, string? std)
    {
        var result = new ImagePreprocessing
        {
            Size = size is null ? null : ImageSize.Parse(size),
            Channels = channels is null ? ChannelOrder.Rgb : ParseChannels(channels),
            Scale = scale is null ? Default.Scale : ParseNumber(scale, ScaleOption),
            Mean = mean is null ? Default.Mean : ParseNumbers(mean, MeanOption),
            Std = std is null ? Default.Std : ParseNumbers(std, StdOption),
        };
        result.Validate();
        return result;
    }

    /// <summary>
    /// Parses the option form, e.g. <c>--image-size 224x224 --scale 0.00392157 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225</c>
    /// (<c>--option=value</c> works too); options left out keep their defaults.
    /// </summary>
    /// <exception cref="UserInputException">An option is unknown, repeated, has no value, or a value is malformed.</exception>
    public static ImagePreprocessing Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] tokens = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < tokens.Length; i++)
        {
            string name = tokens[i];
            string? value = null;
            int equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < tokens.Length)
            {
                value = tokens[++i];
            }

            if (name is not (SizeOption or ChannelsOption or ScaleOption or MeanOption or StdOption))
            {
                throw new UserInputException(
                    $"'{name}' is not an image preprocessing option; use {SizeOption}, {ChannelsOption}, {ScaleOption}, {MeanOption} and {StdOption}.");
            }

            if (value is null || value.StartsWith("--", StringComparison.Ordinal))
            {
                throw new UserInputException($"{name} needs a value.");
            }

            if (!values.TryAdd(name, value))
            {
                throw new UserInputException($"{name} is given twice.");
            }
        }

        return FromOptions(
            values.GetValueOrDefault(SizeOption),
            values.GetValueOrDefault(ChannelsOption),
            values.GetValueOrDefault(ScaleOption),
            values.GetValueOrDefault(MeanOption),
            values.GetValueOrDefault(StdOption));
    }

    /// <summary>Parses <c>rgb</c>, <c>bgr</c> or <c>gray</c> (also <c>grey</c>, <c>grayscale</c>).</summary>
    /// <exception cref="UserInputException">The text is none of those.</exception>
    public static ChannelOrder ParseChannels(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "rgb" => ChannelOrder.Rgb,
            "bgr" => ChannelOrder.Bgr,
            "gray" or "grey" or "grayscale" or "greyscale" => ChannelOrder.Gray,
            _ => throw new UserInputException($"{ChannelsOption} must be rgb, bgr or gray; got '{text}'."),
        };
    }

    /// <summary>Checks that <see cref="Mean"/> and <see cref="Std"/> have one value or one per channel.</summary>
    /// <exception cref="UserInputException">They do not.</exception>
    public void Validate()
    {
        foreach ((string option, IReadOnlyList<float> values) in new[] { (MeanOption, Mean), (StdOption, Std) })
        {
            if (values.Count != 1 && values.Count != ChannelCount)
            {
                throw new UserInputException(
                    $"{option} has {values.Count} values; give one, or one per channel ({ChannelCount} for {Channels.ToString().ToLowerInvariant()}).");
            }
        }
    }

    /// <summary>The mean subtracted from channel <paramref name="channel"/>.</summary>
    public float MeanOf(int channel) => Mean.Count == 1 ? Mean[0] : Mean[channel];

    /// <summary>The divisor of channel <paramref name="channel"/>.</summary>
    public float StdOf(int channel) => Std.Count == 1 ? Std[0] : Std[channel];

    /// <summary>The option form that <see cref="Parse"/> reads back to an equal value.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        if (Size is ImageSize size)
        {
            text.Append(SizeOption).Append(' ').Append(size).Append(' ');
        }

        text.Append(ChannelsOption).Append(' ').Append(Channels.ToString().ToLowerInvariant())
            .Append(' ').Append(ScaleOption).Append(' ').Append(Format(Scale))
            .Append(' ').Append(MeanOption).Append(' ').Append(string.Join(',', Mean.Select(Format)))
            .Append(' ').Append(StdOption).Append(' ').Append(string.Join(',', Std.Select(Format)));
        return text.ToString();
    }

    /// <summary>Equal when every setting is equal (the lists compared element by element).</summary>
    public bool Equals(ImagePreprocessing? other) => other is not null
        && Size == other.Size
        && Channels == other.Channels
        && Scale.Equals(other.Scale)
        && Mean.SequenceEqual(other.Mean)
        && Std.SequenceEqual(other.Std);

    /// <inheritdoc />
    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);

    private static IReadOnlyList<float> CheckValues(IReadOnlyList<float> values, string option, bool allowZero)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new UserInputException($"{option} needs at least one value.");
        }

        foreach (float value in values)
        {
            if (!float.IsFinite(value) || (!allowZero && value == 0))
            {
                throw new UserInputException($"{option} values must be finite{(allowZero ? "" : " and not 0")}; got {Format(value)}.");
            }
        }

        return [.. values];
    }

    private static float[] ParseNumbers(string text, string option) =>
        [.. text.Split(',').Select(part => ParseNumber(part, option))];

    private static float ParseNumber(string text, string option) =>
        float.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out float value)
            ? value
            : throw new UserInputException($"{option}: '{text}' is not a number.");

    // "R" keeps every bit of a float, so ToString and Parse round-trip.
    private static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
