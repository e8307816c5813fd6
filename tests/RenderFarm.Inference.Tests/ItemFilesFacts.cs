using System.IO.Compression;
using RenderFarm.Core;
using RenderFarm.Inference.IO;

namespace RenderFarm.Inference.Tests;

/// <summary>The farm's item files: one .npy per item for one tensor, an .npz of named tensors for several.</summary>
public sealed class ItemFilesFacts
{
    private static readonly TensorInfo[] s_textInputs =
    [
        new("input_ids", [null, null], TensorElementType.Int64),
        new("attention_mask", [null, null], TensorElementType.Int64),
    ];

    [Fact]
    public void Several_typed_tensors_round_trip_through_one_archive_named_and_in_order()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["attention_mask"] = new([1, 3], [1, 1, 0], TensorElementType.Int64),
            ["input_ids"] = new([1, 3], [2, 16777216, 0], TensorElementType.Int64),
        };

        byte[] file = ItemFiles.Format(s_textInputs, tensors);
        Dictionary<string, Tensor> read = ItemFiles.Parse(file, s_textInputs, "item");

        Assert.Equal(NpzFile.Extension, ItemFiles.Extension(2));
        Assert.Equal(["input_ids", "attention_mask"], ItemFiles.ParseAny(file, "item").Select(p => p.Key));
        foreach ((string name, Tensor tensor) in tensors)
        {
            Assert.Equal(TensorElementType.Int64, read[name].ElementType);
            Assert.Equal(tensor.Shape, read[name].Shape);
            Assert.Equal(tensor.Data, read[name].Data);
        }

        // The same tensors give the same bytes, so an item's SHA-256 names its content.
        Assert.Equal(file, ItemFiles.Format(s_textInputs, tensors));
    }

    [Fact]
    public void One_tensor_travels_as_a_plain_npy_named_after_the_model()
    {
        TensorInfo[] one = [new("image", [1, 3, null, null])];
        var image = new Tensor([1, 3, 2, 2], [.. Enumerable.Range(0, 12).Select(i => i * 0.25f)]);

        byte[] file = ItemFiles.Format(one, new Dictionary<string, Tensor> { ["image"] = image });

        Assert.Equal(NpyFile.Format(image), file);
        Assert.Equal(image.Data, ItemFiles.Parse(file, one, "item")["image"].Data);
        Assert.Equal(string.Empty, Assert.Single(ItemFiles.ParseAny(file, "item")).Key);
    }

    /// <summary>
    /// Outputs a model leaves to shape inference (the tiny encoder's, as exporters often write them) take any shape;
    /// read as declared scalars, every honest provider's output was refused.
    /// </summary>
    [Fact]
    public void An_output_without_a_declared_shape_takes_any_shape()
    {
        TensorInfo[] outputs = [.. OnnxModel.Load(Testing.RepositoryPaths.Combine(SampleModelFacts.TinyEncoderPath)).Outputs];
        var tensors = outputs.ToDictionary(o => o.Name, o => new Tensor([1, 5, 16], new float[80]));

        Assert.All(outputs, o => Assert.False(o.HasShape));
        Assert.Equal(2, ItemFiles.Parse(ItemFiles.Format(outputs, tensors), outputs, "item").Count);
        Assert.True(new TensorInfo("y", [null, 4]).HasShape);
    }

    [Theory]
    [InlineData("missing", "holds 'input_ids' but the model's are 'input_ids', 'attention_mask'")]
    [InlineData("float", "'attention_mask' is float32; the model's is int64")]
    [InlineData("rank", "'attention_mask' has shape [3]; the model's is [?, ?]")]
    [InlineData("npy", "the model has several tensors here, so the item must be an .npz archive")]
    [InlineData("twice", "holds array 'input_ids' twice")]
    public void An_item_that_is_not_exactly_the_models_tensors_is_refused_in_one_line(string kind, string expected)
    {
        var ids = new Tensor([1, 3], [2, 5, 3], TensorElementType.Int64);
        byte[] file = kind switch
        {
            "missing" => NpzFile.Format([new("input_ids", ids)]),
            "float" => NpzFile.Format([new("input_ids", ids), new("attention_mask", new Tensor([1, 3], [1, 1, 1]))]),
            "rank" => NpzFile.Format([new("input_ids", ids), new("attention_mask", new Tensor([3], [1, 1, 1], TensorElementType.Int64))]),
            "npy" => NpyFile.Format(ids),
            _ => NpzFile.Format([new("input_ids", ids), new("input_ids", ids)]),
        };

        string message = Assert.Throws<UserInputException>(() => ItemFiles.Parse(file, s_textInputs, "item 7")).Message;

        Assert.StartsWith("item 7", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
    }

    /// <summary>
    /// Guards the reader's memory: a compressed archive of a few kilobytes declaring 64 MiB of arrays is refused before
    /// anything that size is allocated, because an item's arrays may not inflate past the archive's own size.
    /// </summary>
    [Fact]
    public void A_small_archive_inflating_to_much_more_than_itself_is_refused()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            using Stream entry = zip.CreateEntry("input_ids.npy", CompressionLevel.SmallestSize).Open();
            entry.Write(NpyFile.Format(new Tensor([1, 16 << 20], new float[16 << 20], TensorElementType.Int32)));
        }

        byte[] bomb = buffer.ToArray();

        Assert.True(bomb.Length < 256 << 10, $"the archive is {bomb.Length} bytes");
        Assert.Contains("inflate to more than the archive's", Assert.Throws<UserInputException>(() => ItemFiles.ParseAny(bomb, "upload")).Message, StringComparison.Ordinal);
        Assert.Contains("neither a .npy array nor an .npz archive", Assert.Throws<UserInputException>(() => ItemFiles.ParseAny("not a tensor"u8.ToArray(), "upload")).Message, StringComparison.Ordinal);
    }
}
