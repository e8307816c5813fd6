using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>One batch item: a .npy file or an image, and the shape it has once fitted to the model's input.</summary>
/// <param name="Path">The file.</param>
/// <param name="Stem">The file name without its extension: outputs are named after it.</param>
/// <param name="Shape">The item's tensor shape as the model receives it (batch dimension of 1 included where the model has one).</param>
/// <param name="Entry">The array's name inside a .npz archive; null for a .npy file or an image.</param>
public sealed record InputItem(string Path, string Stem, IReadOnlyList<int> Shape, string? Entry = null);

/// <summary>
/// Fits files to a model's single input and groups them into batches. An item is a .npy array or a
/// PNG/JPEG image (through an <see cref="ImagePreprocessing"/>); the model receives one item per file.
/// </summary>
/// <remarks>
/// A model input of rank 2 or more whose first dimension is 1 or dynamic has a batch dimension: an
/// item may then leave it out (a <c>[3, 224, 224]</c> array for a <c>[N, 3, 224, 224]</c> input) or
/// give it as 1. Where it is dynamic, consecutive items of the same shape are stacked along it into
/// batches; where it is 1, or the input has no batch dimension, items run one at a time. Every fixed
/// dimension must match; a dynamic one takes any size.
/// </remarks>
public sealed class InputBatching
{
    /// <summary>The option that overrides <see cref="Layout"/>.</summary>
    public const string LayoutOption = "--layout";

    private readonly ImagePreprocessing _preprocessing;

    /// <summary>Fits items to <paramref name="input"/>, reading images through <paramref name="preprocessing"/>.</summary>
    /// <param name="input">The model input.</param>
    /// <param name="preprocessing">How images become tensors.</param>
    /// <param name="layout">Where images put their channels; null recognises it from the input's shape (<see cref="DetectLayout"/>).</param>
    public InputBatching(TensorInfo input, ImagePreprocessing preprocessing, ImageLayout? layout = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(preprocessing);
        Input = input;
        _preprocessing = preprocessing;
        Layout = layout ?? DetectLayout(input.Shape);
    }

    /// <summary>The model input the items are for.</summary>
    public TensorInfo Input { get; }

    /// <summary>Where images fed to this input put their channels.</summary>
    public ImageLayout Layout { get; }

    /// <summary>
    /// Channels-last for a rank-4 input whose last dimension is 1 or 3 and whose second is not (e.g.
    /// <c>[?, 224, 224, 3]</c> or <c>[?, ?, ?, 3]</c>); channels-first otherwise, including when the shape says nothing.
    /// </summary>
    public static ImageLayout DetectLayout(IReadOnlyList<int?> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return shape.Count == 4 && shape[3] is 1 or 3 && shape[1] is not (1 or 3) ? ImageLayout.Nhwc : ImageLayout.Nchw;
    }

    /// <summary>Parses <c>nchw</c> or <c>nhwc</c>.</summary>
    /// <exception cref="UserInputException">The text is neither.</exception>
    public static ImageLayout ParseLayout(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Trim().ToLowerInvariant() switch
        {
            "nchw" => ImageLayout.Nchw,
            "nhwc" => ImageLayout.Nhwc,
            _ => throw new UserInputException($"{LayoutOption} must be nchw or nhwc; got '{text}'."),
        };
    }

    /// <summary>Whether the input's first dimension is a batch dimension (rank ≥ 2, first dimension 1 or dynamic).</summary>
    public bool HasBatchDimension => Input.Shape.Count >= 2 && Input.Shape[0] is null or 1;

    /// <summary>Whether items can be stacked: the batch dimension is dynamic.</summary>
    public bool CanStack => HasBatchDimension && Input.Shape[0] is null;

    /// <summary>
    /// Describes every file and checks that it fits the input, reading only .npy headers and image
    /// headers, so that a bad item is reported before any work starts.
    /// </summary>
    /// <exception cref="UserInputException">A file is missing, unreadable, of an unknown kind or does not fit, or two files share a stem.</exception>
    public IReadOnlyList<InputItem> DescribeAll(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var items = new List<InputItem>(paths.Count);
        var stems = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string path in paths)
        {
            InputItem item = Describe(path);
            if (!stems.TryAdd(item.Stem, path))
            {
                throw new UserInputException($"{stems[item.Stem]} and {path} would write outputs of the same name ('{item.Stem}.*'); rename one.");
            }

            items.Add(item);
        }

        return items;
    }

    /// <summary>Describes one file and checks that it fits the input, reading only its header.</summary>
    /// <exception cref="UserInputException">The file is missing, unreadable, of an unknown kind or does not fit.</exception>
    public InputItem Describe(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        IReadOnlyList<int> shape;
        bool image = ImageInput.IsImagePath(path);
        if (image)
        {
            shape = Arrange(ImageInput.IdentifyShape(path, _preprocessing));
        }
        else if (Path.GetExtension(path).Equals(NpyFile.Extension, StringComparison.OrdinalIgnoreCase))
        {
            shape = NpyFile.ReadHeader(path).Shape;
        }
        else
        {
            throw new UserInputException($"{path}: inputs must be .npy arrays or .png/.jpg/.jpeg images.");
        }

        return new InputItem(path, Path.GetFileNameWithoutExtension(path), Fit(path, shape, image));
    }

    /// <summary>Describes the array <paramref name="entry"/> of a .npz archive, from its header, and checks that it fits the input.</summary>
    /// <exception cref="UserInputException">The array does not fit.</exception>
    public InputItem Describe(string path, string entry, NpyHeader header)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(header);
        return new InputItem(path, Path.GetFileNameWithoutExtension(path), Fit($"{path}:{entry}", header.Shape, false), entry);
    }

    /// <summary>Reads an item described by <see cref="Describe(string)"/>, shaped as the model receives it.</summary>
    /// <exception cref="UserInputException">The file is unreadable or has changed so that it no longer fits.</exception>
    public Tensor Load(InputItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        bool image = item.Entry is null && ImageInput.IsImagePath(item.Path);
        Tensor tensor = item.Entry is not null ? NpzFile.ReadArray(item.Path, item.Entry)
            : image ? ToLayout(ImageInput.Load(item.Path, _preprocessing), Layout)
            : NpyFile.Read(item.Path);
        IReadOnlyList<int> shape = Fit(item.Path, tensor.Shape, image);
        return shape.SequenceEqual(item.Shape)
            ? new Tensor(shape, tensor.Data, tensor.ElementType)
            : throw new UserInputException($"{item.Path}: changed while running; it was [{string.Join(", ", item.Shape)}] and is now [{string.Join(", ", shape)}].");
    }

    /// <summary>
    /// Groups <paramref name="items"/>, in order, into batches of at most <paramref name="batchSize"/>
    /// consecutive items of one shape where the input's batch dimension is dynamic; else one item each.
    /// </summary>
    public IEnumerable<IReadOnlyList<InputItem>> Batches(IReadOnlyList<InputItem> items, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        int limit = CanStack ? batchSize : 1;
        var batch = new List<InputItem>(limit);
        foreach (InputItem item in items)
        {
            if (batch.Count == limit || (batch.Count > 0 && !batch[0].Shape.SequenceEqual(item.Shape)))
            {
                yield return batch;
                batch = new List<InputItem>(limit);
            }

            batch.Add(item);
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>Concatenates tensors of one shape <c>[1, …]</c> along the first dimension; a single tensor is returned as it is.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0)
        {
            throw new ArgumentException("Nothing to stack.", nameof(items));
        }

        if (items.Count == 1)
        {
            return items[0];
        }

        IReadOnlyList<int> shape = items[0].Shape;
        if (shape.Count == 0 || shape[0] != 1 || items.Any(t => !t.Shape.SequenceEqual(shape)))
        {
            throw new ArgumentException("Only tensors of one shape [1, …] stack.", nameof(items));
        }

        var data = new float[items.Count * items[0].Length];
        for (int i = 0; i < items.Count; i++)
        {
            items[i].Data.CopyTo(data, i * items[0].Length);
        }

        return new Tensor([items.Count, .. shape.Skip(1)], data, items[0].ElementType);
    }

    /// <summary>
    /// Item <paramref name="index"/> of a batch output of <paramref name="count"/> items, with a first dimension of 1;
    /// with a count of 1 the output is returned as it is.
    /// </summary>
    /// <exception cref="UserInputException">The output's first dimension is not the batch size, so it cannot be split per item.</exception>
    public static Tensor Slice(Tensor output, string outputName, int index, int count)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        if (count == 1)
        {
            return output;
        }

        if (output.Shape.Count == 0 || output.Shape[0] != count)
        {
            throw new UserInputException(
                $"Output '{outputName}' has shape [{string.Join(", ", output.Shape)}] for a batch of {count}, so it cannot be split per item; use --batch-size 1.");
        }

        int length = output.Length / count;
        return new Tensor([1, .. output.Shape.Skip(1)], output.Data.AsSpan(index * length, length).ToArray(), output.ElementType);
    }

    /// <summary>A <c>[1, C, H, W]</c> image tensor in <paramref name="layout"/>: as it is, or transposed to <c>[1, H, W, C]</c>.</summary>
    public static Tensor ToLayout(Tensor image, ImageLayout layout)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (layout == ImageLayout.Nchw)
        {
            return image;
        }

        (int c, int h, int w) = (image.Shape[1], image.Shape[2], image.Shape[3]);
        var data = new float[image.Length];
        for (int ch = 0; ch < c; ch++)
        {
            for (int i = 0; i < h * w; i++)
            {
                data[(i * c) + ch] = image.Data[(ch * h * w) + i];
            }
        }

        return new Tensor([image.Shape[0], h, w, c], data, image.ElementType);
    }

    private IReadOnlyList<int> Arrange(IReadOnlyList<int> nchw) =>
        Layout == ImageLayout.Nhwc ? [nchw[0], nchw[2], nchw[3], nchw[1]] : nchw;

    private int[] Fit(string path, IReadOnlyList<int> shape, bool image)
    {
        IReadOnlyList<int?> wanted = Input.Shape;
        if (wanted.Count == 0)
        {
            // The model declares no shape: nothing to check or adapt.
            return [.. shape];
        }

        int[] fitted = shape.Count == wanted.Count - 1 && HasBatchDimension ? [1, .. shape]
            : image && shape.Count == wanted.Count + 1 && shape[0] == 1 ? [.. shape.Skip(1)]
            : [.. shape];
        bool fits = fitted.Length == wanted.Count
            && (!HasBatchDimension || fitted[0] == 1)
            && fitted.Zip(wanted).All(pair => pair.Second is not int fixedSize || pair.First == fixedSize);
        if (fits)
        {
            return fitted;
        }

        string message = $"{path}: its shape [{string.Join(", ", shape)}] does not fit the model's input {Input}";
        if (HasBatchDimension && fitted.Length == wanted.Count && fitted[0] != 1)
        {
            message += "; give one item per file";
        }
        else if (image && fitted.Length == wanted.Count && wanted.Count == 4)
        {
            message += ImageHint(fitted, wanted, Layout);
        }

        throw new UserInputException(message + ".");
    }

    private static string ImageHint(int[] fitted, IReadOnlyList<int?> wanted, ImageLayout layout)
    {
        // Axes of channels, height and width in the input's layout.
        (int c, int h, int w) = layout == ImageLayout.Nhwc ? (3, 1, 2) : (1, 2, 3);
        var hints = new List<string>();
        if (wanted[c] is int channels && channels != fitted[c])
        {
            hints.Add(channels == 1 ? $"{ImagePreprocessing.ChannelsOption} gray" : $"{ImagePreprocessing.ChannelsOption} rgb (or bgr)");
        }

        if ((wanted[h] is int height0 && height0 != fitted[h]) || (wanted[w] is int width0 && width0 != fitted[w]))
        {
            int height = wanted[h] ?? fitted[h];
            int width = wanted[w] ?? fitted[w];
            hints.Add($"{ImagePreprocessing.SizeOption} {width}x{height}");
        }

        return hints.Count == 0 ? "" : $"; use {string.Join(" and ", hints)}";
    }
}

/// <summary>Where an image tensor keeps its channels.</summary>
public enum ImageLayout
{
    /// <summary>Channels first: <c>[N, C, H, W]</c> (PyTorch exports).</summary>
    Nchw,

    /// <summary>Channels last: <c>[N, H, W, C]</c> (TensorFlow and Keras exports).</summary>
    Nhwc,
}
