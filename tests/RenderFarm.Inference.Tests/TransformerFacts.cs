using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;
using DataType = RenderFarm.Inference.Onnx.TensorProto.Types.DataType;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// Operators of transformer encoders and detector heads, and whole BERT-style encoders, against ONNX Runtime with
/// seeded random cases. Before these, such models were refused (int64 inputs, several inputs, comparisons and
/// Gather on computed tensors, ArgMax, TopK, CumSum, Einsum and the com.microsoft operators).
/// </summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class TransformerFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public TransformerFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    private static Tensor Ids(Random random, int batch, int sequence, int vocabulary)
    {
        var data = new float[batch * sequence];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = random.Next(vocabulary);
        }

        return new Tensor([batch, sequence], data, TensorElementType.Int64);
    }

    /// <summary>A mask of 1s followed by 0s (padding) per row, each row at least one token long.</summary>
    private static Tensor Mask(Random random, int batch, int sequence)
    {
        var data = new float[batch * sequence];
        for (int b = 0; b < batch; b++)
        {
            int length = b == 0 ? sequence : random.Next(1, sequence + 1);
            for (int s = 0; s < length; s++)
            {
                data[(b * sequence) + s] = 1;
            }
        }

        return new Tensor([batch, sequence], data, TensorElementType.Int64);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_BERT_style_encoder_matches_the_oracle_for_several_batch_and_sequence_sizes(bool fused)
    {
        var random = new Random(fused ? 21 : 20);
        ModelBuilder builder = TransformerNetworks.Encoder(seed: 5, layers: 2, fused: fused);
        OnnxModel model = builder.Build();
        Assert.Empty(model.UnsupportedOperators);
        using var session = new InferenceSession(_gpu.Device, model);
        foreach ((int batch, int sequence) in new[] { (1, 5), (3, 9) })
        {
            var inputs = new Dictionary<string, Tensor>
            {
                ["input_ids"] = Ids(random, batch, sequence, TransformerNetworks.Vocabulary),
                ["attention_mask"] = Mask(random, batch, sequence),
            };
            Dictionary<string, Tensor> expected = Oracle.Run(builder.ToBytes(), inputs);
            IReadOnlyDictionary<string, Tensor> actual = session.Run(inputs);
            foreach (string name in new[] { "last_hidden_state", "sentence_embedding" })
            {
                Oracle.AssertClose(expected[name], actual[name], OracleCheck.DefaultTolerance, _output, $"encoder fused={fused} {batch}x{sequence} {name}");
            }
        }
    }

    [Theory]
    [InlineData("ArgMax", 1, 1, 0)]
    [InlineData("ArgMax", -1, 0, 1)]
    [InlineData("ArgMin", 0, 0, 0)]
    [InlineData("ArgMin", 2, 1, 1)]
    public void ArgMax_and_ArgMin_give_int64_indices(string op, int axis, int keepDims, int last)
    {
        var random = new Random(axis + 10);
        var builder = new ModelBuilder(17).Input("x", 3, 4, 5).TypedOutput("y", DataType.Int64)
            .Floats("four", 4f)
            .Node("Mul", ["x", "four"], ["x4"])
            .Node("Round", ["x4"], ["rounded"])
            .Node(op, ["rounded"], ["y"], a => a.Int("axis", axis).Int("keepdims", keepDims).Int("select_last_index", last));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 3, 4, 5) }, _output, $"{op} axis {axis}", 0);
    }

    [Theory]
    [InlineData(-1, 3, 1)]
    [InlineData(1, 2, 0)]
    [InlineData(0, 3, 1)]
    public void TopK_gives_values_and_indices(int axis, int k, int largest)
    {
        var random = new Random(k * 3 + axis);
        var builder = new ModelBuilder(17).Input("x", 3, 4, 6).Output("values").TypedOutput("indices", DataType.Int64)
            .Int64s("k", k)
            .Node("TopK", ["x", "k"], ["values", "indices"], a => a.Int("axis", axis).Int("largest", largest));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(random, 3, 4, 6) }, _output, $"TopK axis {axis} k {k}", 0);
    }

    [Theory]
    [InlineData(0, 0, 1)]
    [InlineData(1, 0, -1)]
    [InlineData(0, 1, 0)]
    [InlineData(1, 1, 2)]
    public void CumSum_scans_forward_backward_inclusive_and_exclusive(int exclusive, int reverse, int axis)
    {
        var builder = new ModelBuilder(17).Input("x", 2, 5, 3).Output("y")
            .Initializer("axis", [], [(long)axis])
            .Node("CumSum", ["x", "axis"], ["y"], a => a.Int("exclusive", exclusive).Int("reverse", reverse));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["x"] = Oracle.Random(new Random(axis + 7), 2, 5, 3) }, _output, $"CumSum {exclusive}{reverse} axis {axis}");
    }

    [Theory]
    [InlineData("ij,jk->ik", new[] { 3, 4 }, new[] { 4, 5 })]
    [InlineData("bhqd,bhkd->bhqk", new[] { 2, 3, 4, 5 }, new[] { 2, 3, 6, 5 })]
    [InlineData("bqk,bkd->bqd", new[] { 2, 4, 3 }, new[] { 2, 3, 5 })]
    [InlineData("ik,jk", new[] { 3, 4 }, new[] { 5, 4 })]
    [InlineData("nchw,kc->nkhw", new[] { 2, 3, 2, 2 }, new[] { 4, 3 })]
    public void Einsum_that_is_a_matrix_product_matches_the_oracle(string equation, int[] a, int[] b)
    {
        var random = new Random(equation.Length);
        var builder = new ModelBuilder(17).Input("a", a).Input("b", b).Output("y").Node("Einsum", ["a", "b"], ["y"], x => x.String("equation", equation));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["a"] = Oracle.Random(random, a), ["b"] = Oracle.Random(random, b) }, _output, $"Einsum {equation}");
    }

    [Theory]
    [InlineData("ii->i")]
    [InlineData("ij->i")]
    [InlineData("...ij,...jk->...ik")]
    public void Einsum_that_is_no_matrix_product_is_refused_by_name(string equation)
    {
        OnnxModel model = new ModelBuilder(17).Input("a", 3, 3).Output("y").Node("Einsum", ["a"], ["y"], x => x.String("equation", equation), name: "odd_einsum").Build();
        Assert.Contains(model.UnsupportedOperators, u => u.Contains("odd_einsum", StringComparison.Ordinal) && u.Contains("Einsum", StringComparison.Ordinal));
    }

    [Fact]
    public void Contrib_operators_the_engine_does_not_run_are_named_with_their_domain()
    {
        OnnxModel model = new ModelBuilder(17).WithMicrosoftDomain().Input("x", 2, 4).Output("y")
            .Node("EmbedLayerNormalization", ["x"], ["y"], domain: "com.microsoft", name: "embed").Build();
        Assert.Contains(model.UnsupportedOperators, u => u.Contains("EmbedLayerNormalization", StringComparison.Ordinal) && u.Contains("com.microsoft", StringComparison.Ordinal));
    }
}
