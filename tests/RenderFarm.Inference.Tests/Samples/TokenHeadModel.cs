using RenderFarm.Inference.Onnx;
using RenderFarm.Inference.Tests.Models;

namespace RenderFarm.Inference.Tests.Samples;

/// <summary>
/// Generates <c>tests/RenderFarm.Inference.Tests/Samples/token-head.onnx</c>: a model of one int64 input and outputs
/// of three element types, for the farm's typed items. Its weights are fixed small whole numbers, so every score is
/// exact and no two are equal by construction of the tests' inputs.
/// </summary>
/// <remarks>
/// <code>
/// tokens int64 [N, 6]
///   → Cast float, MatMul W [6, 4]   scores float [N, 4]
///   → ArgMax axis 1                 label int64 [N]
///   → Greater 0                     positive bool [N, 4]
/// tokens + 100                      shifted int64 [N, 6]
/// </code>
/// </remarks>
internal static class TokenHeadModel
{
    /// <summary>The committed file, relative to the repository root.</summary>
    public const string RelativePath = "tests/RenderFarm.Inference.Tests/Samples/token-head.onnx";

    public static ModelBuilder Create()
    {
        float[] weights = [.. Enumerable.Range(0, 24).Select(i => (float)((i * 7 % 11) - 5))];
        return new ModelBuilder(opset: 17, graphName: "token-head")
            .TypedInput("tokens", TensorProto.Types.DataType.Int64, null, 6)
            .Initializer("weights", [6, 4], weights)
            .Int64s("hundred", 100)
            .Floats("zero", 0f)
            .Node("Cast", ["tokens"], ["as_float"], a => a.Int("to", (long)TensorProto.Types.DataType.Float))
            .Node("MatMul", ["as_float", "weights"], ["scores"])
            .Node("ArgMax", ["scores"], ["label"], a => a.Int("axis", 1).Int("keepdims", 0))
            .Node("Greater", ["scores", "zero"], ["positive"])
            .Node("Add", ["tokens", "hundred"], ["shifted"])
            .Output("scores", null, 4)
            .TypedOutput("label", TensorProto.Types.DataType.Int64, [null])
            .TypedOutput("positive", TensorProto.Types.DataType.Bool, null, 4)
            .TypedOutput("shifted", TensorProto.Types.DataType.Int64, null, 6);
    }
}
