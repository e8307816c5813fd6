using RenderFarm.Inference.Tests.Models;
using Xunit.Abstractions;
using DataType = RenderFarm.Inference.Onnx.TensorProto.Types.DataType;

namespace RenderFarm.Inference.Tests;

/// <summary>
/// A ViT-style image encoder and a YOLO-style detector head, generated with seeded weights, against ONNX Runtime:
/// the operator mixes of today's image encoders and detectors, end to end.
/// </summary>
[Collection(GpuCollection.Name)]
[Trait("Category", "Gpu")]
public sealed class VisionNetworkFacts
{
    private readonly GpuFixture _gpu;
    private readonly ITestOutputHelper _output;

    public VisionNetworkFacts(GpuFixture gpu, ITestOutputHelper output)
    {
        _gpu = gpu;
        _output = output;
    }

    /// <summary>
    /// Patch embedding (stride-4 Conv), a class token expanded over the batch, position embeddings, one pre-norm
    /// encoder layer with Einsum attention and tanh GELU, and a linear head on the class token.
    /// </summary>
    [Fact]
    public void A_ViT_style_encoder_matches_the_oracle()
    {
        const int Hidden = 8;
        const int Patches = 4; // a 8×8 image in 4×4 patches
        var random = new Random(30);
        float[] W(int count, float scale = 0.3f) => Oracle.RandomData(random, count, scale);
        var builder = new ModelBuilder(20).Input("pixels", null, 3, 8, 8).Output("logits")
            .Initializer("patch_w", [Hidden, 3, 4, 4], W(Hidden * 48))
            .Initializer("patch_b", [Hidden], W(Hidden, 0.1f))
            .Initializer("cls", [1, 1, Hidden], W(Hidden))
            .Initializer("pos", [1, Patches + 1, Hidden], W((Patches + 1) * Hidden))
            .Initializer("ln_g", [Hidden], W(Hidden, 0.1f).Select(v => 1 + v).ToArray())
            .Initializer("ln_b", [Hidden], W(Hidden, 0.1f))
            .Initializer("wq", [Hidden, Hidden], W(Hidden * Hidden))
            .Initializer("wk", [Hidden, Hidden], W(Hidden * Hidden))
            .Initializer("wv", [Hidden, Hidden], W(Hidden * Hidden))
            .Initializer("w1", [Hidden, 2 * Hidden], W(2 * Hidden * Hidden))
            .Initializer("w2", [2 * Hidden, Hidden], W(2 * Hidden * Hidden))
            .Initializer("head", [Hidden, 5], W(Hidden * 5))
            .Floats("scale", 1f / MathF.Sqrt(Hidden))
            .Int64s("ones_tail", 1, 1)
            .Initializer("zero_index", [], [0L])
            .Node("Conv", ["pixels", "patch_w", "patch_b"], ["patches"], a => a.Ints("kernel_shape", 4, 4).Ints("strides", 4, 4))
            .Int64s("keep_two", 0, 0, -1)
            .Node("Reshape", ["patches", "keep_two"], ["flat_all"])
            .Node("Shape", ["patches"], ["pshape"])
            .Node("Gather", ["pshape", "zero_index"], ["batch"])
            .Int64s("zero_axis", 0)
            .Node("Unsqueeze", ["batch", "zero_axis"], ["batch1"])
            .Node("Concat", ["batch1", "ones_tail"], ["cls_shape"], a => a.Int("axis", 0))
            .Node("Expand", ["cls", "cls_shape"], ["cls_batch"])
            .Node("Transpose", ["flat_all"], ["tokens_raw"], a => a.Ints("perm", 0, 2, 1))
            .Node("Concat", ["cls_batch", "tokens_raw"], ["tokens"], a => a.Int("axis", 1))
            .Node("Add", ["tokens", "pos"], ["embedded"])
            .Node("LayerNormalization", ["embedded", "ln_g", "ln_b"], ["normed"], a => a.Float("epsilon", 1e-6f))
            .Node("MatMul", ["normed", "wq"], ["q"]).Node("MatMul", ["normed", "wk"], ["k"]).Node("MatMul", ["normed", "wv"], ["v"])
            .Node("Einsum", ["q", "k"], ["scores_raw"], a => a.String("equation", "bqd,bkd->bqk"))
            .Node("Mul", ["scores_raw", "scale"], ["scores"])
            .Node("Softmax", ["scores"], ["probs"], a => a.Int("axis", -1))
            .Node("Einsum", ["probs", "v"], ["attended"], a => a.String("equation", "bqk,bkd->bqd"))
            .Node("Add", ["attended", "embedded"], ["res1"])
            .Node("LayerNormalization", ["res1", "ln_g", "ln_b"], ["normed2"], a => a.Float("epsilon", 1e-6f))
            .Node("MatMul", ["normed2", "w1"], ["ff1"])
            .Node("Gelu", ["ff1"], ["act"], a => a.String("approximate", "tanh"))
            .Node("MatMul", ["act", "w2"], ["ff2"])
            .Node("Add", ["ff2", "res1"], ["res2"])
            .Node("Gather", ["res2", "zero_index"], ["cls_out"], a => a.Int("axis", 1))
            .Node("MatMul", ["cls_out", "head"], ["logits"]);
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["pixels"] = Oracle.Random(random, 2, 3, 8, 8) }, _output, "ViT-style encoder");
    }

    /// <summary>
    /// One YOLO-style detection level: a 1×1 Conv to anchors × (4 + 1 + classes), reshaped and transposed to
    /// [batch, anchors·cells, outputs], sigmoid, box decoding against a grid, the class with the best score (ArgMax)
    /// and the top detections by confidence (TopK).
    /// </summary>
    [Fact]
    public void A_YOLO_style_detector_head_matches_the_oracle()
    {
        const int Anchors = 2;
        const int Classes = 3;
        const int Outputs = 5 + Classes;
        const int Side = 4;
        var random = new Random(31);
        var grid = new float[Side * Side * 2];
        for (int y = 0; y < Side; y++)
        {
            for (int x = 0; x < Side; x++)
            {
                grid[(((y * Side) + x) * 2) + 0] = x;
                grid[(((y * Side) + x) * 2) + 1] = y;
            }
        }

        var builder = new ModelBuilder(17).Input("features", 1, 6, Side, Side)
            .Output("boxes").TypedOutput("classes", DataType.Int64).Output("top_scores").TypedOutput("top_indices", DataType.Int64)
            .Initializer("w", [Anchors * Outputs, 6, 1, 1], Oracle.RandomData(random, Anchors * Outputs * 6))
            .Initializer("b", [Anchors * Outputs], Oracle.RandomData(random, Anchors * Outputs, 0.2f))
            .Int64s("split_shape", 1, Anchors, Outputs, Side * Side)
            .Int64s("flat_shape", 1, Anchors * Side * Side, Outputs)
            .Initializer("grid", [1, 1, Side * Side, 2], grid)
            .Int64s("sizes", 2, 2, 1, Classes)
            .Floats("two", 2f).Floats("half", 0.5f).Floats("stride", 8f)
            .Int64s("k", 5)
            .Node("Conv", ["features", "w", "b"], ["raw"])
            .Node("Reshape", ["raw", "split_shape"], ["per_anchor"])
            .Node("Transpose", ["per_anchor"], ["cells"], a => a.Ints("perm", 0, 1, 3, 2))
            .Node("Sigmoid", ["cells"], ["act"])
            .Node("Split", ["act", "sizes"], ["xy", "wh", "conf", "cls"], a => a.Int("axis", -1))
            .Node("Mul", ["xy", "two"], ["xy2"]).Node("Sub", ["xy2", "half"], ["xy_off"])
            .Node("Add", ["xy_off", "grid"], ["xy_cell"]).Node("Mul", ["xy_cell", "stride"], ["xy_px"])
            .Node("Mul", ["wh", "two"], ["wh2"]).Node("Mul", ["wh2", "wh2"], ["wh_sq"]).Node("Mul", ["wh_sq", "stride"], ["wh_px"])
            .Node("Concat", ["xy_px", "wh_px", "conf", "cls"], ["decoded"], a => a.Int("axis", -1))
            .Node("Reshape", ["decoded", "flat_shape"], ["boxes"])
            .Node("ArgMax", ["cls"], ["classes"], a => a.Int("axis", -1).Int("keepdims", 0))
            .Node("Flatten", ["conf"], ["conf_flat"], a => a.Int("axis", 1))
            .Node("TopK", ["conf_flat", "k"], ["top_scores", "top_indices"], a => a.Int("axis", -1));
        OracleCheck.Compare(_gpu.Device, builder, new Dictionary<string, Tensor> { ["features"] = Oracle.Random(random, 1, 6, Side, Side) }, _output, "YOLO-style head");
    }
}
