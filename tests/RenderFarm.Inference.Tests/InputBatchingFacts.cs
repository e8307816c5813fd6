using RenderFarm.Core;
using RenderFarm.Inference.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RenderFarm.Inference.Tests;

public sealed class InputBatchingFacts : IDisposable
{
    private static readonly TensorInfo s_dynamicBatch = new("image", [null, 3, null, null]);
    private static readonly TensorInfo s_fixedBatch = new("image", [1, 3, 4, 4]);

    private readonly string _folder = Directory.CreateTempSubdirectory("input-batching-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void An_array_without_the_batch_dimension_gets_one_and_an_image_fits_as_it_is()
    {
        var batching = new InputBatching(s_fixedBatch, ImagePreprocessing.Default);
        string npy = SaveNpy("a", Tensor.Zeros(3, 4, 4));
        string png = SavePng("b", 4, 4);

        IReadOnlyList<InputItem> items = batching.DescribeAll([npy, png]);

        Assert.Equal([1, 3, 4, 4], items[0].Shape);
        Assert.Equal([1, 3, 4, 4], items[1].Shape);
        Assert.Equal(["a", "b"], items.Select(i => i.Stem));
        Assert.Equal([1, 3, 4, 4], batching.Load(items[0]).Shape);
        Assert.False(batching.CanStack);
    }

    [Fact]
    public void A_wrong_image_size_says_which_option_fixes_it()
    {
        var batching = new InputBatching(new TensorInfo("x", [1, 1, 224, 224]), ImagePreprocessing.Default);
        string png = SavePng("photo", 640, 480);

        var error = Assert.Throws<UserInputException>(() => batching.Describe(png));

        Assert.Equal($"{png}: its shape [1, 3, 480, 640] does not fit the model's input x [1, 1, 224, 224]; use --channels gray and --image-size 224x224.", error.Message);
    }

    [Fact]
    public void An_array_holding_several_items_is_refused()
    {
        var batching = new InputBatching(s_dynamicBatch, ImagePreprocessing.Default);
        string npy = SaveNpy("many", Tensor.Zeros(4, 3, 8, 8));

        var error = Assert.Throws<UserInputException>(() => batching.Describe(npy));

        Assert.EndsWith("does not fit the model's input image [?, 3, ?, ?]; give one item per file.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_files_and_clashing_stems_are_refused_before_any_work()
    {
        var batching = new InputBatching(s_dynamicBatch, ImagePreprocessing.Default);
        string text = Path.Combine(_folder, "notes.txt");
        File.WriteAllText(text, "x");
        string first = SaveNpy("same", Tensor.Zeros(1, 3, 2, 2));
        Directory.CreateDirectory(Path.Combine(_folder, "other"));
        string second = SavePng("other/same", 2, 2);

        var kind = Assert.Throws<UserInputException>(() => batching.Describe(text));
        var clash = Assert.Throws<UserInputException>(() => batching.DescribeAll([first, second]));

        Assert.Equal($"{text}: inputs must be .npy arrays or .png/.jpg/.jpeg images.", kind.Message);
        Assert.Equal($"{first} and {second} would write outputs of the same name ('same.*'); rename one.", clash.Message);
    }

    [Fact]
    public void A_dynamic_batch_stacks_consecutive_items_of_one_shape_up_to_the_batch_size()
    {
        var batching = new InputBatching(s_dynamicBatch, ImagePreprocessing.Default);
        InputItem[] items =
        [
            new("a", "a", [1, 3, 8, 8]), new("b", "b", [1, 3, 8, 8]), new("c", "c", [1, 3, 8, 8]),
            new("d", "d", [1, 3, 16, 16]), new("e", "e", [1, 3, 8, 8]),
        ];

        string[] batches = [.. batching.Batches(items, 2).Select(b => string.Concat(b.Select(i => i.Stem)))];

        Assert.Equal(["ab", "c", "d", "e"], batches);
        Assert.Equal(["a", "b", "c", "d", "e"], new InputBatching(s_fixedBatch, ImagePreprocessing.Default).Batches(items, 8).Select(b => b.Single().Stem));
    }

    [Fact]
    public void Stacked_items_come_back_out_of_the_batch_output_unchanged()
    {
        var first = new Tensor([1, 2, 2], [1, 2, 3, 4]);
        var second = new Tensor([1, 2, 2], [5, 6, 7, 8]);

        Tensor batch = InputBatching.Stack([first, second]);

        Assert.Equal([2, 2, 2], batch.Shape);
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], batch.Data);
        Assert.Equal(second.Data, InputBatching.Slice(batch, "y", 1, 2).Data);
        Assert.Equal([1, 2, 2], InputBatching.Slice(batch, "y", 1, 2).Shape);
        var error = Assert.Throws<UserInputException>(() => InputBatching.Slice(Tensor.Zeros(1, 10), "score", 0, 2));
        Assert.Equal("Output 'score' has shape [1, 10] for a batch of 2, so it cannot be split per item; use --batch-size 1.", error.Message);
    }

    [Fact]
    public void Output_file_names_keep_only_safe_characters_and_are_written_whole()
    {
        Assert.Equal("cat.edges.npy", OutputFiles.FileName("cat", "edges", ".npy"));
        Assert.Equal("cat.resnet_fc_1_0.png", OutputFiles.FileName("cat", "resnet/fc:1 0", ".png"));

        string path = Path.Combine(_folder, "out.bin");
        File.WriteAllText(path, "old");
        OutputFiles.WriteAtomically(path, [1, 2, 3]);

        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_folder, "*out.bin*"));
    }

    private string SaveNpy(string stem, Tensor tensor)
    {
        string path = Path.Combine(_folder, stem + ".npy");
        File.WriteAllBytes(path, NpyFile.Format(tensor));
        return path;
    }

    private string SavePng(string stem, int width, int height)
    {
        string path = Path.Combine(_folder, stem + ".png");
        using var image = new Image<Rgb24>(width, height);
        image.SaveAsPng(path);
        return path;
    }
}
