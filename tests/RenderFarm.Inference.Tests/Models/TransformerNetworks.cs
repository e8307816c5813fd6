using RenderFarm.Inference.Onnx;
using DataType = RenderFarm.Inference.Onnx.TensorProto.Types.DataType;

namespace RenderFarm.Inference.Tests.Models;

/// <summary>
/// Small BERT-style sentence encoders generated with seeded weights: int64 input_ids and attention_mask of dynamic
/// batch and sequence, word and position embeddings, post-norm encoder layers and masked mean pooling. One is written
/// as PyTorch exports it (standard operators, shapes computed by Shape/Gather/Concat), one as ONNX Runtime's
/// transformer optimizer leaves it (Attention, SkipLayerNormalization, BiasGelu/FastGelu in com.microsoft).
/// </summary>
internal static class TransformerNetworks
{
    public const int Vocabulary = 40;
    public const int Hidden = 16;
    public const int Heads = 2;
    public const int MaxPositions = 32;
    private const int FeedForward = 32;

    public static ModelBuilder Encoder(int seed, int layers = 2, bool fused = false)
    {
        var random = new Random(seed);
        float[] W(int count, float scale = 0.3f) => Oracle.RandomData(random, count, scale);
        var b = new ModelBuilder(17)
            .TypedInput("input_ids", DataType.Int64, null, null)
            .TypedInput("attention_mask", DataType.Int64, null, null)
            .Output("last_hidden_state")
            .Output("sentence_embedding")
            .Initializer("word_embeddings", [Vocabulary, Hidden], W(Vocabulary * Hidden))
            .Initializer("position_embeddings", [MaxPositions, Hidden], W(MaxPositions * Hidden))
            .Initializer("emb_gamma", [Hidden], W(Hidden, 1f).Select(v => 1 + (v * 0.2f)).ToArray())
            .Initializer("emb_beta", [Hidden], W(Hidden, 0.1f))
            .Int64s("axis1", 1).Int64s("zero", 0).Int64s("one", 1).Int64s("axes12", 1, 2)
            .Floats("f_one", 1f).Floats("f_filter", -10000f).Floats("sqrt_head", MathF.Sqrt(Hidden / Heads))
            .Floats("half", 0.5f).Floats("inv_sqrt2", 1f / MathF.Sqrt(2f))
            .Initializer("zero_scalar", [], [0L]).Initializer("one_scalar", [], [1L]);
        if (fused)
        {
            b.WithMicrosoftDomain();
        }

        // Positions 0..S-1 from the input's shape, folded while planning.
        b.Node("Shape", ["input_ids"], ["ids_shape"])
            .Node("Gather", ["ids_shape", "one_scalar"], ["seq_len"], a => a.Int("axis", 0))
            .Node("Range", ["zero_scalar", "seq_len", "one_scalar"], ["positions"])
            .Node("Unsqueeze", ["positions", "zero"], ["positions_2d"])
            .Node("Gather", ["word_embeddings", "input_ids"], ["words"])
            .Node("Gather", ["position_embeddings", "positions_2d"], ["places"])
            .Node("Add", ["words", "places"], ["embedded"])
            .Node("LayerNormalization", ["embedded", "emb_gamma", "emb_beta"], ["h0"], a => a.Int("axis", -1).Float("epsilon", 1e-12f));

        // The additive mask: (1 - mask) * -10000 as [B, 1, 1, S].
        b.Node("Unsqueeze", ["attention_mask", "axes12"], ["mask4"])
            .Node("Cast", ["mask4"], ["mask4f"], a => a.Int("to", (long)DataType.Float))
            .Node("Sub", ["f_one", "mask4f"], ["masked"])
            .Node("Mul", ["masked", "f_filter"], ["mask_bias"]);

        string h = "h0";
        for (int l = 0; l < layers; l++)
        {
            string p = $"l{l}_";
            b.Initializer(p + "qkv_w", [Hidden, 3 * Hidden], W(Hidden * 3 * Hidden))
                .Initializer(p + "qkv_b", [3 * Hidden], W(3 * Hidden, 0.1f))
                .Initializer(p + "out_w", [Hidden, Hidden], W(Hidden * Hidden))
                .Initializer(p + "out_b", [Hidden], W(Hidden, 0.1f))
                .Initializer(p + "ln1_g", [Hidden], W(Hidden, 0.1f).Select(v => 1 + v).ToArray())
                .Initializer(p + "ln1_b", [Hidden], W(Hidden, 0.1f))
                .Initializer(p + "ff1_w", [Hidden, FeedForward], W(Hidden * FeedForward))
                .Initializer(p + "ff1_b", [FeedForward], W(FeedForward, 0.1f))
                .Initializer(p + "ff2_w", [FeedForward, Hidden], W(FeedForward * Hidden))
                .Initializer(p + "ff2_b", [Hidden], W(Hidden, 0.1f))
                .Initializer(p + "ln2_g", [Hidden], W(Hidden, 0.1f).Select(v => 1 + v).ToArray())
                .Initializer(p + "ln2_b", [Hidden], W(Hidden, 0.1f));
            h = fused ? FusedLayer(b, p, h, l) : ExportedLayer(b, p, h);
        }

        // Masked mean pooling: sum(h * mask) / sum(mask) over the sequence.
        b.Node("Identity", [h], ["last_hidden_state"])
            .Node("Unsqueeze", ["attention_mask", "minus1"], ["mask3"])
            .Int64s("minus1", -1)
            .Node("Cast", ["mask3"], ["mask3f"], a => a.Int("to", (long)DataType.Float))
            .Node("Mul", [h, "mask3f"], ["weighted"])
            .Node("ReduceSum", ["weighted", "axis1"], ["summed"], a => a.Int("keepdims", 0))
            .Node("ReduceSum", ["mask3f", "axis1"], ["counted"], a => a.Int("keepdims", 0))
            .Floats("tiny", 1e-9f)
            .Node("Max", ["counted", "tiny"], ["count_safe"])
            .Node("Div", ["summed", "count_safe"], ["sentence_embedding"]);
        return b;
    }

    private static string ExportedLayer(ModelBuilder b, string p, string h)
    {
        int headSize = Hidden / Heads;

        // Reshape targets computed from the input's shape, as exporters write them.
        b.Node("Shape", [h], [p + "shape"])
            .Node("Gather", [p + "shape", "zero_scalar"], [p + "batch"], a => a.Int("axis", 0))
            .Node("Gather", [p + "shape", "one_scalar"], [p + "seq"], a => a.Int("axis", 0))
            .Node("Unsqueeze", [p + "batch", "zero"], [p + "batch1"])
            .Node("Unsqueeze", [p + "seq", "zero"], [p + "seq1"])
            .Int64s(p + "heads_dims", Heads, headSize)
            .Int64s(p + "hidden_dim", Hidden)
            .Node("Concat", [p + "batch1", p + "seq1", p + "heads_dims"], [p + "split_shape"], a => a.Int("axis", 0))
            .Node("Concat", [p + "batch1", p + "seq1", p + "hidden_dim"], [p + "merge_shape"], a => a.Int("axis", 0))
            .Node("MatMul", [h, p + "qkv_w"], [p + "qkv_raw"])
            .Node("Add", [p + "qkv_raw", p + "qkv_b"], [p + "qkv"])
            .Int64s(p + "split3", Hidden, Hidden, Hidden)
            .Node("Split", [p + "qkv", p + "split3"], [p + "q", p + "k", p + "v"], a => a.Int("axis", -1));
        foreach (string part in new[] { "q", "k", "v" })
        {
            b.Node("Reshape", [p + part, p + "split_shape"], [p + part + "4"])
                .Node("Transpose", [p + part + "4"], [p + part + "t"], a => a.Ints("perm", part == "k" ? [0, 2, 3, 1] : [0, 2, 1, 3]));
        }

        b.Node("MatMul", [p + "qt", p + "kt"], [p + "scores_raw"])
            .Node("Div", [p + "scores_raw", "sqrt_head"], [p + "scores_scaled"])
            .Node("Add", [p + "scores_scaled", "mask_bias"], [p + "scores"])
            .Node("Softmax", [p + "scores"], [p + "probs"], a => a.Int("axis", -1))
            .Node("MatMul", [p + "probs", p + "vt"], [p + "context4"])
            .Node("Transpose", [p + "context4"], [p + "context_t"], a => a.Ints("perm", 0, 2, 1, 3))
            .Node("Reshape", [p + "context_t", p + "merge_shape"], [p + "context"])
            .Node("MatMul", [p + "context", p + "out_w"], [p + "attn_raw"])
            .Node("Add", [p + "attn_raw", p + "out_b"], [p + "attn"])
            .Node("Add", [p + "attn", h], [p + "res1"])
            .Node("LayerNormalization", [p + "res1", p + "ln1_g", p + "ln1_b"], [p + "h1"], a => a.Float("epsilon", 1e-12f))
            .Node("MatMul", [p + "h1", p + "ff1_w"], [p + "ff1_raw"])
            .Node("Add", [p + "ff1_raw", p + "ff1_b"], [p + "ff1"])

            // GELU as exported: x * 0.5 * (1 + erf(x / sqrt 2)).
            .Node("Mul", [p + "ff1", "inv_sqrt2"], [p + "g_scaled"])
            .Node("Erf", [p + "g_scaled"], [p + "g_erf"])
            .Node("Add", [p + "g_erf", "f_one"], [p + "g_one"])
            .Node("Mul", [p + "ff1", p + "g_one"], [p + "g_prod"])
            .Node("Mul", [p + "g_prod", "half"], [p + "gelu"])
            .Node("MatMul", [p + "gelu", p + "ff2_w"], [p + "ff2_raw"])
            .Node("Add", [p + "ff2_raw", p + "ff2_b"], [p + "ff2"])
            .Node("Add", [p + "ff2", p + "h1"], [p + "res2"])
            .Node("LayerNormalization", [p + "res2", p + "ln2_g", p + "ln2_b"], [p + "h2"], a => a.Float("epsilon", 1e-12f));
        return p + "h2";
    }

    private static string FusedLayer(ModelBuilder b, string p, string h, int layer)
    {
        const string Ms = "com.microsoft";
        b.Node("Cast", ["attention_mask"], [p + "mask_i32"], a => a.Int("to", (long)DataType.Int32))
            .Node("Attention", [h, p + "qkv_w", p + "qkv_b", p + "mask_i32"], [p + "context"], a => a.Int("num_heads", Heads), domain: Ms)
            .Node("MatMul", [p + "context", p + "out_w"], [p + "attn_raw"])
            .Node("SkipLayerNormalization", [p + "attn_raw", h, p + "ln1_g", p + "ln1_b", p + "out_b"], [p + "h1"], a => a.Float("epsilon", 1e-12f), domain: Ms)
            .Node("MatMul", [p + "h1", p + "ff1_w"], [p + "ff1_raw"])

            // Alternate layers take the exact and the tanh GELU, as different optimizer settings write them.
            .Node(layer % 2 == 0 ? "BiasGelu" : "FastGelu", [p + "ff1_raw", p + "ff1_b"], [p + "gelu"], domain: Ms)
            .Node("MatMul", [p + "gelu", p + "ff2_w"], [p + "ff2_raw"])
            .Node("SkipLayerNormalization", [p + "ff2_raw", p + "h1", p + "ln2_g", p + "ln2_b", p + "ff2_b"], [p + "h2"], a => a.Float("epsilon", 1e-12f), domain: Ms);
        return p + "h2";
    }
}
