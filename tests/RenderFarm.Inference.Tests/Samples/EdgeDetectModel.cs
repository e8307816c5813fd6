using RenderFarm.Inference.Tests.Models;

namespace RenderFarm.Inference.Tests.Samples;

/// <summary>
/// Generates <c>samples/edge-detect/edge-detect.onnx</c>: the Sobel gradient magnitude of a lightly
/// blurred luma image, from fixed kernels only, for RGB images of any size and batches of any length.
/// </summary>
/// <remarks>
/// <code>
/// image [N, 3, H, W], values 0..1
///   → Conv 1×1, BT.709 luma weights             gray      [N, 1, H, W]
///   → Pad 3 on each side, mode "edge"           padded    [N, 1, H+6, W+6]  (no false edges at the borders)
///   → Conv 5×5 binomial (1 4 6 4 1)ᵀ(1 4 6 4 1)/256       blurred   [N, 1, H+2, W+2]  (tames render noise)
///   → Conv 3×3 Sobel x and y                    gradients [N, 2, H, W]
///   → Mul by itself, ReduceSum over channels    squared   [N, 1, H, W]  = gx² + gy²
///   → Sqrt, Mul ¼, Min 1                        edges     [N, 1, H, W]  0 (flat) .. 1 (a full black-to-white step)
/// </code>
/// A step from 0 to 1 gives |gx| = 4 with Sobel's weights (1 2 1), hence the ¼. All arithmetic is
/// about 110 FLOP per pixel: 2 × (3 + 25 + 2 × 9) multiply-adds in the convolutions plus the rest.
/// </remarks>
internal static class EdgeDetectModel
{
    /// <summary>The committed file, relative to the repository root.</summary>
    public const string RelativePath = "samples/edge-detect/edge-detect.onnx";

    /// <summary>Multiply-add FLOPs (2 per multiply-add) of the three convolutions per pixel.</summary>
    public const int ConvolutionFlopsPerPixel = 2 * (3 + 25 + (2 * 9));

    public static ModelBuilder Create()
    {
        float[] binomial = [1, 4, 6, 4, 1];
        var blur = new float[25];
        for (int y = 0; y < 5; y++)
        {
            for (int x = 0; x < 5; x++)
            {
                blur[(y * 5) + x] = binomial[y] * binomial[x] / 256f;
            }
        }

        float[] sobel =
        [
            -1, 0, 1, -2, 0, 2, -1, 0, 1, // ∂/∂x: right minus left
            -1, -2, -1, 0, 0, 0, 1, 2, 1, // ∂/∂y: down minus up
        ];

        return new ModelBuilder(opset: 17, graphName: "edge_detect")
            .Input("image", null, 3, null, null)
            .Initializer("luma_weights", [1, 3, 1, 1], [0.2126f, 0.7152f, 0.0722f])
            .Int64s("border", 0, 0, 3, 3, 0, 0, 3, 3)
            .Initializer("blur_weights", [1, 1, 5, 5], blur)
            .Initializer("sobel_weights", [2, 1, 3, 3], sobel)
            .Int64s("channel_axis", 1)
            .Initializer("quarter", [1], [0.25f])
            .Initializer("one", [1], [1f])
            .Node("Conv", ["image", "luma_weights"], ["gray"], a => a.Ints("kernel_shape", 1, 1), name: "to_gray")
            .Node("Pad", ["gray", "border"], ["padded"], a => a.String("mode", "edge"), name: "extend_borders")
            .Node("Conv", ["padded", "blur_weights"], ["blurred"], a => a.Ints("kernel_shape", 5, 5), name: "blur")
            .Node("Conv", ["blurred", "sobel_weights"], ["gradients"], a => a.Ints("kernel_shape", 3, 3), name: "sobel")
            .Node("Mul", ["gradients", "gradients"], ["gradients_squared"], name: "square")
            .Node("ReduceSum", ["gradients_squared", "channel_axis"], ["squared_magnitude"], a => a.Int("keepdims", 1), name: "sum_over_x_and_y")
            .Node("Sqrt", ["squared_magnitude"], ["magnitude"], name: "magnitude")
            .Node("Mul", ["magnitude", "quarter"], ["scaled"], name: "scale_to_unit_step")
            .Node("Min", ["scaled", "one"], ["edges"], name: "clip_at_one")
            .Output("edges", null, 1, null, null);
    }
}
