using RenderFarm.Core;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RenderFarm.Inference.IO;

/// <summary>
/// Turns PNG and JPEG images into NCHW float tensors <c>[1, C, H, W]</c> following an
/// <see cref="ImagePreprocessing"/>. Pixels are read as 8-bit RGB: 16-bit PNGs are reduced to
/// 8 bits, alpha is dropped (not composited), and EXIF orientation is not applied.
/// </summary>
public static class ImageInput
{
    /// <summary>The file extensions read as images, with their dots.</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg"];

    /// <summary>Whether <paramref name="path"/> has one of the <see cref="Extensions"/> (any case).</summary>
    public static bool IsImagePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string extension = Path.GetExtension(path);
        return Extensions.Any(e => e.Equals(extension, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The shape <see cref="Load"/> will give for the image at <paramref name="path"/>, read from
    /// its header only: enough to check every input before any work starts.
    /// </summary>
    /// <exception cref="UserInputException">The file is missing, unreadable or not a PNG or JPEG image.</exception>
    public static IReadOnlyList<int> IdentifyShape(string path, ImagePreprocessing preprocessing)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(preprocessing);
        IImageInfo? info;
        try
        {
            info = Image.Identify(path);
        }
        catch (Exception exception) when (IsDecodeFailure(exception))
        {
            throw Unreadable(path, exception);
        }

        if (info is null)
        {
            throw new UserInputException($"{path}: not an image this program reads (PNG or JPEG).");
        }

        return ShapeOf(info.Width, info.Height, preprocessing);
    }

    /// <summary>Decodes the image at <paramref name="path"/> and preprocesses it into a <c>[1, C, H, W]</c> tensor.</summary>
    /// <exception cref="UserInputException">The file is missing, unreadable or not a PNG or JPEG image.</exception>
    public static Tensor Load(string path, ImagePreprocessing preprocessing)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(preprocessing);
        Image<Rgb24> image;
        try
        {
            image = Image.Load<Rgb24>(path);
        }
        catch (Exception exception) when (IsDecodeFailure(exception))
        {
            throw Unreadable(path, exception);
        }

        using (image)
        {
            return FromImage(image, preprocessing);
        }
    }

    /// <summary>Preprocesses <paramref name="image"/> into a <c>[1, C, H, W]</c> tensor (the image itself is not changed).</summary>
    public static Tensor FromImage(Image<Rgb24> image, ImagePreprocessing preprocessing)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(preprocessing);
        preprocessing.Validate();
        Image<Rgb24>? resized = null;
        if (preprocessing.Size is ImageSize size && (size.Width != image.Width || size.Height != image.Height))
        {
            resized = image.Clone(context => context.Resize(new ResizeOptions
            {
                Size = new Size(size.Width, size.Height),
                Mode = ResizeMode.Stretch,
                Sampler = KnownResamplers.Triangle,
            }));
        }

        try
        {
            return ToTensor(resized ?? image, preprocessing);
        }
        finally
        {
            resized?.Dispose();
        }
    }

    private static Tensor ToTensor(Image<Rgb24> image, ImagePreprocessing preprocessing)
    {
        int width = image.Width;
        int height = image.Height;
        int plane = width * height;
        int channels = preprocessing.ChannelCount;
        var data = new float[channels * plane];

        // value = (v × scale − mean) / std = v × (scale / std) − mean / std, per tensor channel.
        var multiply = new float[channels];
        var add = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            multiply[c] = preprocessing.Scale / preprocessing.StdOf(c);
            add[c] = -preprocessing.MeanOf(c) / preprocessing.StdOf(c);
        }

        ChannelOrder order = preprocessing.Channels;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<Rgb24> row = rows.GetRowSpan(y);
                int offset = y * width;
                for (int x = 0; x < row.Length; x++)
                {
                    Rgb24 pixel = row[x];
                    int index = offset + x;
                    switch (order)
                    {
                        case ChannelOrder.Rgb:
                            data[index] = (pixel.R * multiply[0]) + add[0];
                            data[plane + index] = (pixel.G * multiply[1]) + add[1];
                            data[(2 * plane) + index] = (pixel.B * multiply[2]) + add[2];
                            break;
                        case ChannelOrder.Bgr:
                            data[index] = (pixel.B * multiply[0]) + add[0];
                            data[plane + index] = (pixel.G * multiply[1]) + add[1];
                            data[(2 * plane) + index] = (pixel.R * multiply[2]) + add[2];
                            break;
                        default:
                            float luma = (0.2126f * pixel.R) + (0.7152f * pixel.G) + (0.0722f * pixel.B);
                            data[index] = (luma * multiply[0]) + add[0];
                            break;
                    }
                }
            }
        });
        return new Tensor([1, channels, height, width], data);
    }

    private static int[] ShapeOf(int width, int height, ImagePreprocessing preprocessing) => preprocessing.Size is ImageSize size
        ? [1, preprocessing.ChannelCount, size.Height, size.Width]
        : [1, preprocessing.ChannelCount, height, width];

    private static bool IsDecodeFailure(Exception exception) =>
        exception is ImageFormatException or NotSupportedException or IOException or UnauthorizedAccessException;

    private static UserInputException Unreadable(string path, Exception exception) => exception switch
    {
        FileNotFoundException or DirectoryNotFoundException => new UserInputException($"{path}: no such file.", exception),
        UnknownImageFormatException => new UserInputException($"{path}: not an image this program reads (PNG or JPEG).", exception),
        _ => new UserInputException($"{path}: cannot read the image: {OneLine(exception.Message)}", exception),
    };

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
