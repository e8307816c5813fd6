using System.Collections.Concurrent;
using System.Globalization;
using RenderFarm.Core;
using RenderFarm.Core.Storage;
using RenderFarm.Inference;
using RenderFarm.Inference.IO;
using RenderFarm.Rendering.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Decides whether an uploaded output is what its task asked for, whatever the farm's check settings: a PNG must
/// decode whole to the job's width × height in 8- or 16-bit RGB or RGBA as the job asks; an inference output must be
/// the item file of the model's outputs (<see cref="ItemFiles"/>): each output once, in its element type and shape.
/// Headers are read and checked before anything is decoded, so the decode never allocates more than the job's own
/// frame size.
/// </summary>
internal static class OutputAcceptance
{
    // At most this many frames decode at once: a decode holds a whole frame in memory (about 100 MB at 8K).
    private static readonly SemaphoreSlim s_decodes = new(2, 2);

    // Models are content-addressed, so a model's outputs never change; bounded, and cleared when full.
    private const int MaxCachedModels = 256;
    private static readonly ConcurrentDictionary<string, IReadOnlyList<TensorInfo>> s_modelOutputs = new(StringComparer.Ordinal);

    /// <summary>The outputs of the model stored at <paramref name="key"/>.</summary>
    public static async Task<IReadOnlyList<TensorInfo>> GetModelOutputsAsync(IObjectStore objects, string key, string sha256, CancellationToken cancellationToken)
    {
        if (s_modelOutputs.TryGetValue(sha256, out IReadOnlyList<TensorInfo>? cached))
        {
            return cached;
        }

        using var bytes = new MemoryStream();
        await using (Stream stream = await objects.OpenReadAsync(key, cancellationToken))
        {
            await stream.CopyToAsync(bytes, cancellationToken);
        }

        IReadOnlyList<TensorInfo> output = OnnxModel.Parse(bytes.GetBuffer().AsSpan(0, (int)bytes.Length)).Outputs;
        if (s_modelOutputs.Count >= MaxCachedModels)
        {
            s_modelOutputs.Clear();
        }

        s_modelOutputs[sha256] = output;
        return output;
    }

    /// <summary>Why the PNG at <paramref name="path"/> is not a frame of <paramref name="size"/> at the asked depth, or null when it is.</summary>
    public static async Task<string?> CheckPngAsync(string path, ImageSize size, bool sixteenBit, CancellationToken cancellationToken)
    {
        IImageInfo? info;
        IImageFormat? format;
        try
        {
            info = Image.Identify(path, out format);
        }
        catch (Exception ex) when (IsDecodeError(ex))
        {
            return $"the upload is not a readable PNG ({ex.Message.TrimEnd('.')})";
        }

        if (info is null || format is not PngFormat)
        {
            return "the upload is not a PNG file";
        }

        if (info.Width != size.Width || info.Height != size.Height)
        {
            return string.Create(CultureInfo.InvariantCulture, $"the PNG is {info.Width}x{info.Height}; the job's frames are {size}");
        }

        PngMetadata png = info.Metadata.GetPngMetadata();
        PngBitDepth depth = sixteenBit ? PngBitDepth.Bit16 : PngBitDepth.Bit8;
        if (png.BitDepth != depth || png.ColorType is not (PngColorType.Rgb or PngColorType.RgbWithAlpha))
        {
            return $"the PNG is {png.ColorType?.ToString() ?? "unknown colour type"} at {(png.BitDepth is { } bits ? ((int)bits).ToString(CultureInfo.InvariantCulture) : "?")} bits; the job asks for {(int)depth}-bit RGB or RGBA";
        }

        await s_decodes.WaitAsync(cancellationToken);
        try
        {
            // Every row must decode: a valid header over truncated or corrupt image data is refused here.
            using Image<Rgb24> decoded = await Image.LoadAsync<Rgb24>(path, cancellationToken);
            return decoded.Width == size.Width && decoded.Height == size.Height
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"the PNG decodes to {decoded.Width}x{decoded.Height}; the job's frames are {size}");
        }
        catch (Exception ex) when (IsDecodeError(ex))
        {
            return $"the PNG does not decode ({ex.Message.TrimEnd('.')})";
        }
        finally
        {
            s_decodes.Release();
        }
    }

    /// <summary>
    /// Why the file at <paramref name="path"/> is not the EXR frame an EXR job asks for (<see cref="FarmFrame"/>: the
    /// job's size, exactly its channels at its depth), or null when it is; with it, the PNG that the job's view
    /// transform makes of the frame, which the checks judge and the thumbnails show.
    /// </summary>
    public static async Task<(string? Wrong, byte[]? Preview)> CheckExrAsync(string path, RenderSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        // Bounded before it is read: the file is no larger than FarmFrame.WorstCaseBytes (checked by the caller from
        // its stored size), and the reader decodes no more values than the job's frame holds.
        byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken);
        await s_decodes.WaitAsync(cancellationToken);
        try
        {
            (HdrImage image, _) = FarmFrame.Read(bytes, settings.Size, settings.ExrDepth);
            return (null, FarmFrame.ToPng(image, settings));
        }
        catch (UserInputException ex)
        {
            return (ex.Message.TrimEnd('.'), null);
        }
        finally
        {
            s_decodes.Release();
        }
    }

    /// <summary>
    /// Why the PNG in <paramref name="bytes"/> is not <paramref name="width"/> × <paramref name="height"/>, read from its
    /// header alone, or null when it is: checked before a decode, so a small file declaring a huge image is never decoded.
    /// </summary>
    public static string? CheckPngHeader(byte[] bytes, int width, int height)
    {
        try
        {
            IImageInfo? info = Image.Identify(bytes, out IImageFormat? format);
            if (info is null || format is not PngFormat)
            {
                return "it is not a PNG file";
            }

            return info.Width == width && info.Height == height
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"it is {info.Width}x{info.Height}; {width}x{height} is needed");
        }
        catch (Exception ex) when (IsDecodeError(ex))
        {
            return $"it is not a readable PNG ({ex.Message.TrimEnd('.')})";
        }
    }

    /// <summary>
    /// Why the item file at <paramref name="path"/> is not the outputs <paramref name="expected"/> (a .npy array for
    /// one output, an .npz archive of them by name for several), or null when it is.
    /// </summary>
    public static string? CheckTensors(string path, IReadOnlyList<TensorInfo> expected)
    {
        IReadOnlyDictionary<string, NpyHeader> headers;
        try
        {
            // Headers and data lengths only; the values themselves are any bits. An upload is bounded by its lease, and
            // an archive's arrays may not inflate past its own size.
            headers = ItemFiles.ParseHeaders(File.ReadAllBytes(path), expected, "the upload");
        }
        catch (UserInputException ex)
        {
            return $"the upload is not a readable item file ({ex.Message.TrimEnd('.')})";
        }

        // Outputs are written in their model's type, little-endian, as the engine writes them: nothing else is taken.
        if (headers.FirstOrDefault(h => !h.Value.LittleEndian || h.Value.DataType == NpyDataType.Float64) is { Value: not null } odd)
        {
            return $"'{odd.Key}' holds {(odd.Value.LittleEndian ? "little" : "big")}-endian {odd.Value.DataType}; outputs are little-endian, of their model's type";
        }

        string? wrong = ItemFiles.Misfit(headers.ToDictionary(p => p.Key, p => (p.Value.ElementType, p.Value.Shape), StringComparer.Ordinal), expected, emptyDimensions: false);
        return wrong is null ? null : $"the upload does not hold the model's outputs: {wrong}";
    }

    private static bool IsDecodeError(Exception ex) =>
        ex is ImageFormatException or UnknownImageFormatException or InvalidImageContentException or NotSupportedException
            or InvalidOperationException or ArgumentException or IndexOutOfRangeException or EndOfStreamException;
}
