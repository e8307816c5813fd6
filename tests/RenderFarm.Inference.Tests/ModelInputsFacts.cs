using System.IO.Compression;
using RenderFarm.Core;
using RenderFarm.Inference.IO;

namespace RenderFarm.Inference.Tests;

/// <summary>Items of models with several inputs: .npz archives, NAME=FILES lists, typed .npy files.</summary>
public sealed class ModelInputsFacts : IDisposable
{
    private static readonly TensorInfo[] s_text =
    [
        new("input_ids", [null, null], TensorElementType.Int64),
        new("attention_mask", [null, null], TensorElementType.Int64),
    ];

    private readonly string _folder = Directory.CreateTempSubdirectory("renderfarm-inputs-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Npy(string name, Tensor tensor)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, NpyFile.Format(tensor));
        return path;
    }

    private string Npz(string name, params (string Array, Tensor Tensor)[] arrays)
    {
        string path = Path.Combine(_folder, name);
        using (ZipArchive zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            foreach ((string array, Tensor tensor) in arrays)
            {
                using Stream stream = zip.CreateEntry(array + ".npy").Open();
                stream.Write(NpyFile.Format(tensor));
            }
        }

        return path;
    }

    private static Tensor Ids(params float[] values) => new([values.Length], values, TensorElementType.Int64);

    [Theory]
    [InlineData(TensorElementType.Float32)]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.Int64)]
    [InlineData(TensorElementType.Int32)]
    [InlineData(TensorElementType.UInt8)]
    [InlineData(TensorElementType.Bool)]
    public void Npy_files_keep_their_element_type(TensorElementType type)
    {
        var tensor = new Tensor([2, 2], [0f, 1f, 1f, 0f], type);
        Tensor read = NpyFile.Parse(NpyFile.Format(tensor), "t.npy");
        Assert.Equal(type, read.ElementType);
        Assert.Equal(tensor.Data, read.Data);
    }

    [Fact]
    public void Npz_items_stack_when_their_shapes_agree_and_keep_int64()
    {
        var inputs = new ModelInputs(s_text, ImagePreprocessing.Default);
        string a = Npz("a.npz", ("input_ids", Ids(5, 6, 7)), ("attention_mask", Ids(1, 1, 0)));
        string b = Npz("b.npz", ("attention_mask", Ids(1, 1, 1)), ("input_ids", Ids(8, 9, 10)));
        string c = Npz("c.npz", ("input_ids", Ids(1, 2)), ("attention_mask", Ids(1, 1)));

        IReadOnlyList<ItemSet> items = inputs.DescribeAll([a, b, c], []);
        List<IReadOnlyList<ItemSet>> batches = [.. inputs.Batches(items, 8)];

        Assert.Equal([2, 1], batches.Select(x => x.Count));
        Dictionary<string, Tensor> first = inputs.Load(batches[0]);
        Assert.Equal([2, 3], first["input_ids"].Shape);
        Assert.Equal([5f, 6, 7, 8, 9, 10], first["input_ids"].Data);
        Assert.Equal(TensorElementType.Int64, first["attention_mask"].ElementType);
        Assert.Equal(["a", "b", "c"], items.Select(i => i.Stem));
    }

    [Fact]
    public void Named_lists_pair_files_by_position_and_name_outputs_after_the_first_input()
    {
        var inputs = new ModelInputs(s_text, ImagePreprocessing.Default);
        string[] ids = [Npy("one.npy", Ids(1, 2)), Npy("two.npy", Ids(3, 4))];
        string[] masks = [Npy("m1.npy", Ids(1, 0)), Npy("m2.npy", Ids(1, 1))];

        IReadOnlyList<ItemSet> items = inputs.DescribeAll([], [$"input_ids={ids[0]}", $"attention_mask={masks[0]},{masks[1]}", $"input_ids={ids[1]}"]);

        Assert.Equal(["one", "two"], items.Select(i => i.Stem));
        Assert.Equal(masks[1], items[1].Inputs["attention_mask"].Path);
    }

    [Theory]
    [InlineData("unknown", "must be NAME=FILE[,FILE...] with NAME one of the model's inputs")]
    [InlineData("uneven", "every input needs as many: input_ids has 2, attention_mask has 1")]
    [InlineData("missing", "--input gives no files for attention_mask")]
    [InlineData("npz-names", "must be named after the model's inputs (input_ids, attention_mask); missing: attention_mask; unknown: mask")]
    [InlineData("plain-file", "give each item as a .npz with one array per input, or the files of each input with --input NAME=FILE,FILE...")]
    public void Mistakes_in_items_are_refused_in_one_line(string problem, string expected)
    {
        var inputs = new ModelInputs(s_text, ImagePreprocessing.Default);
        string ids = Npy("ids.npy", Ids(1, 2));
        string other = Npy("other.npy", Ids(3, 4));
        var error = Assert.Throws<UserInputException>(() => problem switch
        {
            "unknown" => inputs.DescribeAll([], [$"token_ids={ids}"]),
            "uneven" => inputs.DescribeAll([], [$"input_ids={ids},{other}", $"attention_mask={ids}"]),
            "missing" => inputs.DescribeAll([], [$"input_ids={ids}"]),
            "npz-names" => inputs.DescribeAll([Npz("bad.npz", ("input_ids", Ids(1)), ("mask", Ids(1)))], []),
            _ => inputs.DescribeAll([ids], []),
        });
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_npz_is_refused_as_a_user_error()
    {
        // A damaged archive is a user mistake (one line, exit code 2), never an unhandled zip exception.
        string path = Npz("ok.npz", ("input_ids", Ids(1, 2, 3)), ("attention_mask", Ids(1, 1, 1)));
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(2, NpzFile.ReadHeaders(path).Count);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        Assert.Throws<UserInputException>(() => NpzFile.ReadHeaders(path));
    }
}
