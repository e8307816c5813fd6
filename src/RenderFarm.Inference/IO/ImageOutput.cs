using System.Globalization;
using RenderFarm.Core;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Inference.IO;

/// <summary>
/// How an output value becomes an 8-bit pixel: <c>clamp(round(v × Scale + Offset), 0, 255)</c>.
/// The default (255, 0) shows values in 0..1; NaN becomes 0.
/// </summary>
/// <param name="Scale">Multiplies the value first.</param>
/// <param name="Offset">Added after scaling.</param>
public sealed record ImagePostprocessing(float Scale = 255f, float Offset = 0f)
{
    /// <summary>The option that sets <see cref="Scale"/>.</summary>
    public const string ScaleOption = "--output-scale";

    /// <summary>The option that sets <see cref="Offset"/>.</summary>
    public const string OffsetOption = "--output-offset";

    /// <summary>Values in 0..1 to 0..255.</summary>
    public static ImagePostprocessing Default { get; } = new();

    /// <summary>Builds the mapping from the command line's option values; <see langword="null"/> keeps a default.</summary>
    /// <exception cref="UserInputException">A value is not a finite number.</exception>
    public static ImagePostprocessing FromOptions(string? scale, string? offset) =>
        new(scale is null ? Default.Scale : ParseFinite(scale, ScaleOption), offset is null ? Default.Offset : ParseFinite(offset, OffsetOption));

    /// <summary>The 8-bit value of <paramref name="value"/>, and whether it had to be clamped (NaN counts as clamped).</summary>
    public byte ToByte(float value, out bool clamped)
    {
        float scaled = MathF.Round((value * Scale) + Offset, MidpointRounding.AwayFromZero);
        if (scaled >= 0 && scaled <= 255)
        {
            clamped = false;
            return (byte)scaled;
        }

        clamped = true;
        return scaled > 255 ? (byte)255 : (byte)0;
    }

    private static float ParseFinite(string text, string option) =>
        float.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && float.IsFinite(value)
            ? value
            : throw new UserInputException($"{option}: '{text}' is not a finite number.");
}

/// <summary>
/// Writes image-shaped model outputs — <c>[1, C, H, W]</c> or <c>[C, H, W]</c> with C = 1 (gray)
/// or 3 (RGB) and H, W ≥ 2 — as 8-bit PNGs through an <see cref="ImagePostprocessing"/>.
/// </summary>
public static class ImageOutput
{
    /// <summary>
    /// Whether a tensor of <paramref name="shape"/> is an image: <c>[1, C, H, W]</c> with C of 1 or 3 and both sides
    /// at least 2 (a 1-pixel-wide "image" is more likely a vector of scores). Rank-3 tensors are not taken for images:
    /// <c>[1, 40, 6625]</c> is a sequence of class scores, <c>[1, 5, 16]</c> a sequence of embeddings.
    /// </summary>
    public static bool IsImageShaped(IReadOnlyList<int> shape) => IsImageShaped(shape, ImageLayout.Nchw);

    /// <summary>Whether a tensor of <paramref name="shape"/> is an image in <paramref name="layout"/> (<c>[1, H, W, C]</c> for channels-last).</summary>
    public static bool IsImageShaped(IReadOnlyList<int> shape, ImageLayout layout)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count != 4 || shape[0] != 1)
        {
            return false;
        }

        (int c, int h, int w) = layout == ImageLayout.Nhwc ? (shape[3], shape[1], shape[2]) : (shape[1], shape[2], shape[3]);
        return c is 1 or 3 && h >= 2 && w >= 2;
    }

    /// <summary>A channels-last <c>[1, H, W, C]</c> tensor as <c>[1, C, H, W]</c>, for <see cref="EncodePng"/>.</summary>
    public static Tensor ToChannelsFirst(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        (int h, int w, int c) = (tensor.Shape[1], tensor.Shape[2], tensor.Shape[3]);
        var data = new float[tensor.Length];
        for (int i = 0; i < h * w; i++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                data[(ch * h * w) + i] = tensor.Data[(i * c) + ch];
            }
        }

        return new Tensor([1, c, h, w], data, tensor.ElementType);
    }

    /// <summary>Encodes <paramref name="tensor"/> as an 8-bit PNG (gray for one channel, RGB for three).</summary>
    /// <returns>The PNG's bytes and how many values were clamped to 0 or 255.</returns>
    /// <exception cref="ArgumentException">The tensor is not image-shaped (see <see cref="IsImageShaped(IReadOnlyList{int})"/>).</exception>
    public static (byte[] Png, long ClampedValues) EncodePng(Tensor tensor, ImagePostprocessing postprocessing)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(postprocessing);
        if (!IsImageShaped(tensor.Shape))
        {
            throw new ArgumentException($"A tensor of shape [{string.Join(", ", tensor.Shape)}] is not an image ([1, C, H, W], C = 1 or 3).", nameof(tensor));
        }

        int rank = tensor.Shape.Count;
        int channels = tensor.Shape[rank - 3];
        int height = tensor.Shape[rank - 2];
        int width = tensor.Shape[rank - 1];
        using var stream = new MemoryStream();
        long clamped;
        if (channels == 1)
        {
            using var image = new Image<L8>(width, height);
            clamped = Fill(image, tensor.Data, postprocessing, (planes, i, p, ref count) => new L8(Convert(planes[i], p, ref count)));
            image.SaveAsPng(stream, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
        }
        else
        {
            int plane = width * height;
            using var image = new Image<Rgb24>(width, height);
            clamped = Fill(image, tensor.Data, postprocessing, (planes, i, p, ref count) => new Rgb24(
                Convert(planes[i], p, ref count),
                Convert(planes[plane + i], p, ref count),
                Convert(planes[(2 * plane) + i], p, ref count)));
            image.SaveAsPng(stream, new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 });
        }

        return (stream.ToArray(), clamped);
    }

    private delegate TPixel PixelOf<TPixel>(float[] planes, int index, ImagePostprocessing postprocessing, ref long clamped);

    private static long Fill<TPixel>(Image<TPixel> image, float[] planes, ImagePostprocessing postprocessing, PixelOf<TPixel> pixelOf)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        long clamped = 0;
        int width = image.Width;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<TPixel> row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    row[x] = pixelOf(planes, (y * width) + x, postprocessing, ref clamped);
                }
            }
        });
        return clamped;
    }

    private static byte Convert(float value, ImagePostprocessing postprocessing, ref long clamped)
    {
        byte result = postprocessing.ToByte(value, out bool wasClamped);
        if (wasClamped)
        {
            clamped++;
        }

        return result;
    }
}
