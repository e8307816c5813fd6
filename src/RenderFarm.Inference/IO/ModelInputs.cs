using System.Globalization;
using RenderFarm.Core;

namespace RenderFarm.Inference.IO;

/// <summary>One batch item of a model: one file, or .npz array, per model input.</summary>
/// <param name="Stem">Names the item's output files.</param>
/// <param name="Inputs">The item of each model input, by input name.</param>
public sealed record ItemSet(string Stem, IReadOnlyDictionary<string, InputItem> Inputs);

/// <summary>
/// Fits files to every input of a model and groups them into batches. Items come as files for a model with one
/// input, as .npz archives whose arrays are named after the inputs, or as one list of files per input
/// (<c>NAME=FILE,FILE...</c>) paired by position. Consecutive items whose inputs all have the same shapes stack into
/// one run where every input's batch dimension is dynamic.
/// </summary>
public sealed class ModelInputs
{
    private readonly Dictionary<string, InputBatching> _inputs = new(StringComparer.Ordinal);

    /// <summary>Fits items to <paramref name="inputs"/>, reading images through <paramref name="preprocessing"/>.</summary>
    /// <param name="inputs">The model's inputs.</param>
    /// <param name="preprocessing">How images become tensors.</param>
    /// <param name="layout">Where images put their channels; null recognises it from each input's shape.</param>
    public ModelInputs(IReadOnlyList<TensorInfo> inputs, ImagePreprocessing preprocessing, ImageLayout? layout = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(preprocessing);
        foreach (TensorInfo input in inputs)
        {
            _inputs[input.Name] = new InputBatching(input, preprocessing, layout);
        }

        Inputs = [.. inputs.Select(i => _inputs[i.Name])];
    }

    /// <summary>The batching of each model input, in declaration order.</summary>
    public IReadOnlyList<InputBatching> Inputs { get; }

    /// <summary>Whether items stack into batches: every input has a dynamic batch dimension.</summary>
    public bool CanStack => Inputs.Count > 0 && Inputs.All(i => i.CanStack);

    /// <summary>Whether every input has a batch dimension (1 or dynamic).</summary>
    public bool HasBatchDimension => Inputs.Count > 0 && Inputs.All(i => i.HasBatchDimension);

    /// <summary>
    /// Describes every item and checks that it fits, reading only headers, so that a bad item is reported before any
    /// work starts.
    /// </summary>
    /// <param name="files">Items given as files: .npz archives, or .npy arrays and images for a model with one input.</param>
    /// <param name="named">Items given per input, each <c>NAME=FILE[,FILE...]</c>; a name may repeat to add files.</param>
    /// <exception cref="UserInputException">A file is missing, of an unknown kind, or does not fit; an input has no files or
    /// a different count of them than the others; a name is not an input; two items share a stem.</exception>
    public IReadOnlyList<ItemSet> DescribeAll(IReadOnlyList<string> files, IReadOnlyList<string> named)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(named);
        var items = new List<ItemSet>();
        foreach (string file in files)
        {
            if (Path.GetExtension(file).Equals(NpzFile.Extension, StringComparison.OrdinalIgnoreCase))
            {
                items.Add(DescribeArchive(file));
            }
            else if (Inputs.Count == 1)
            {
                InputItem item = Inputs[0].Describe(file);
                items.Add(new ItemSet(item.Stem, new Dictionary<string, InputItem>(StringComparer.Ordinal) { [Inputs[0].Input.Name] = item }));
            }
            else
            {
                throw new UserInputException(
                    $"{file}: the model has {Inputs.Count} inputs ({string.Join(", ", Inputs.Select(i => i.Input))}); give each item as a .npz with one array per input, or the files of each input with --input NAME=FILE,FILE...");
            }
        }

        items.AddRange(DescribeNamed(named));
        var stems = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (ItemSet item in items)
        {
            string source = item.Inputs.Values.First().Path;
            if (!stems.TryAdd(item.Stem, source))
            {
                throw new UserInputException($"{stems[item.Stem]} and {source} would write outputs of the same name ('{item.Stem}.*'); rename one.");
            }
        }

        return items;
    }

    /// <summary>
    /// Groups <paramref name="items"/>, in order, into batches of at most <paramref name="batchSize"/> consecutive items
    /// whose inputs have the same shapes where every batch dimension is dynamic; else one item each.
    /// </summary>
    public IEnumerable<IReadOnlyList<ItemSet>> Batches(IReadOnlyList<ItemSet> items, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        int limit = CanStack ? batchSize : 1;
        var batch = new List<ItemSet>(limit);
        foreach (ItemSet item in items)
        {
            if (batch.Count == limit || (batch.Count > 0 && !SameShapes(batch[0], item)))
            {
                yield return batch;
                batch = new List<ItemSet>(limit);
            }

            batch.Add(item);
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>Reads a batch and stacks each input along its batch dimension.</summary>
    /// <exception cref="UserInputException">A file is unreadable or has changed so that it no longer fits.</exception>
    public Dictionary<string, Tensor> Load(IReadOnlyList<ItemSet> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (InputBatching input in Inputs)
        {
            tensors[input.Input.Name] = InputBatching.Stack([.. batch.Select(item => input.Load(item.Inputs[input.Input.Name]))]);
        }

        return tensors;
    }

    private static bool SameShapes(ItemSet a, ItemSet b) => a.Inputs.All(pair => b.Inputs[pair.Key].Shape.SequenceEqual(pair.Value.Shape));

    private ItemSet DescribeArchive(string path)
    {
        IReadOnlyDictionary<string, NpyHeader> headers = NpzFile.ReadHeaders(path);
        string[] unknown = [.. headers.Keys.Where(k => !_inputs.ContainsKey(k))];
        string[] missing = [.. Inputs.Select(i => i.Input.Name).Where(n => !headers.ContainsKey(n))];
        if (unknown.Length > 0 || missing.Length > 0)
        {
            throw new UserInputException(
                $"{path}: its arrays ({string.Join(", ", headers.Keys)}) must be named after the model's inputs ({string.Join(", ", Inputs.Select(i => i.Input.Name))})" +
                (missing.Length > 0 ? $"; missing: {string.Join(", ", missing)}" : string.Empty) +
                (unknown.Length > 0 ? $"; unknown: {string.Join(", ", unknown)}" : string.Empty) + ".");
        }

        var inputs = new Dictionary<string, InputItem>(StringComparer.Ordinal);
        foreach (InputBatching input in Inputs)
        {
            inputs[input.Input.Name] = input.Describe(path, input.Input.Name, headers[input.Input.Name]);
        }

        return new ItemSet(Path.GetFileNameWithoutExtension(path), inputs);
    }

    private List<ItemSet> DescribeNamed(IReadOnlyList<string> named)
    {
        var files = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string option in named)
        {
            int equals = option.IndexOf('=', StringComparison.Ordinal);
            string name = equals > 0 ? option[..equals] : string.Empty;
            if (name.Length == 0 || !_inputs.ContainsKey(name))
            {
                throw new UserInputException(
                    $"--input '{option}' must be NAME=FILE[,FILE...] with NAME one of the model's inputs: {string.Join(", ", Inputs.Select(i => i.Input))}.");
            }

            string[] paths = option[(equals + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (paths.Length == 0)
            {
                throw new UserInputException($"--input '{option}' names no files.");
            }

            if (!files.TryGetValue(name, out List<string>? list))
            {
                files[name] = list = [];
            }

            list.AddRange(paths);
        }

        if (files.Count == 0)
        {
            return [];
        }

        string[] missing = [.. Inputs.Select(i => i.Input.Name).Where(n => !files.ContainsKey(n))];
        if (missing.Length > 0)
        {
            throw new UserInputException($"--input gives no files for {string.Join(", ", missing)}; every input of the model needs them.");
        }

        int count = files.Values.First().Count;
        if (files.Values.Any(l => l.Count != count))
        {
            throw new UserInputException(
                "--input lists pair files by position, so every input needs as many: " +
                string.Join(", ", files.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key} has {f.Value.Count}"))) + ".");
        }

        var items = new List<ItemSet>(count);
        for (int i = 0; i < count; i++)
        {
            var inputs = new Dictionary<string, InputItem>(StringComparer.Ordinal);
            foreach (InputBatching input in Inputs)
            {
                inputs[input.Input.Name] = input.Describe(files[input.Input.Name][i]);
            }

            // Outputs are named after the first input's file.
            items.Add(new ItemSet(inputs[Inputs[0].Input.Name].Stem, inputs));
        }

        return items;
    }
}
