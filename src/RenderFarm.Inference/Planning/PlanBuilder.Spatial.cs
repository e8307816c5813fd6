using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Lowering of the operators that move pixels: DepthToSpace/SpaceToDepth, Pad and Resize.</summary>
internal sealed partial class PlanBuilder
{
    private PlanValue DepthSpace(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        if (x.Shape.Length != 4)
        {
            throw new PlanException($"the input must be 4-D, not {ShapeMath.Format(x.Shape)}.");
        }

        int b = (int)node.Int("blocksize", 0);
        (int n, int c, int h, int w) = (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]);
        if (b <= 0)
        {
            throw new PlanException("blocksize must be positive.");
        }

        if (node.OpType == "DepthToSpace")
        {
            if (c % (b * b) != 0)
            {
                throw new PlanException($"{c} channels are not divisible by blocksize² = {b * b}.");
            }

            int depth = c / (b * b);
            int[] outShape = [n, depth, h * b, w * b];
            return node.String("mode", "DCR") == "CRD"
                ? Permute(x, [n, depth, b, b, h, w], [0, 1, 4, 2, 5, 3], outShape)
                : Permute(x, [n, b, b, depth, h, w], [0, 3, 4, 1, 5, 2], outShape);
        }

        if (h % b != 0 || w % b != 0)
        {
            throw new PlanException($"{h}x{w} is not divisible by blocksize {b}.");
        }

        return Permute(x, [n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4], [n, c * b * b, h / b, w / b]);
    }

    private PlanValue Pad(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        string mode = node.String("mode", "constant");
        long[] raw = ConstantInput(node, 1).ToLongs();
        float value = (float)(OptionalConstant(node, 2)?.Data.FirstOrDefault() ?? 0);
        long[] axes = OptionalConstant(node, 3)?.ToLongs() ?? Enumerable.Range(0, rank).Select(a => (long)a).ToArray();
        if (raw.Length != 2 * axes.Length)
        {
            throw new PlanException($"pads has {raw.Length} values for {axes.Length} axes.");
        }

        var begin = new int[rank];
        var shape = (int[])x.Shape.Clone();
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = ShapeMath.Axis(axes[i], rank, "Pad");
            begin[axis] = (int)raw[i];
            shape[axis] = (int)(x.Shape[axis] + raw[i] + raw[i + axes.Length]);
            if (shape[axis] < 0)
            {
                throw new PlanException("negative pads remove more than the whole axis.");
            }

            if (mode == "reflect" && (raw[i] >= x.Shape[axis] || raw[i + axes.Length] >= x.Shape[axis]))
            {
                throw new PlanException($"reflect padding of {raw[i]}/{raw[i + axes.Length]} needs an axis longer than {x.Shape[axis]}.");
            }

            if (mode != "constant" && x.Shape[axis] == 0 && shape[axis] > 0)
            {
                throw new PlanException($"{mode} padding of an empty axis.");
            }
        }

        PlanValue output = NewGpu(shape);
        var push = new PushConstants().U(output.Count).U(mode switch { "reflect" => 1u, "edge" => 2u, _ => 0u }).F(value)
            .Array(x.Shape, 6, 1, signed: false).Array(shape, 6, 1, signed: false).Array(begin, 6, 0, signed: true);
        Emit1D(KernelKind.Pad, [Gpu(x), output.Slot!], push, output.Count);
        return output;
    }

    private PlanValue Resize(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        CpuTensor? scales = OptionalConstant(node, 2);
        CpuTensor? sizes = OptionalConstant(node, 3);
        var outShape = new int[rank];
        var scale = new float[rank];
        if (scales is not null && scales.Length > 0)
        {
            if (scales.Length != rank)
            {
                throw new PlanException($"scales has {scales.Length} values for a rank {rank} input.");
            }

            for (int i = 0; i < rank; i++)
            {
                scale[i] = (float)scales.Data[i];
                outShape[i] = (int)Math.Floor(x.Shape[i] * (double)scale[i]);
            }
        }
        else if (sizes is not null && sizes.Length > 0)
        {
            if (sizes.Length != rank)
            {
                throw new PlanException($"sizes has {sizes.Length} values for a rank {rank} input.");
            }

            outShape = ToShape(sizes);
            for (int i = 0; i < rank; i++)
            {
                scale[i] = x.Shape[i] == 0 ? 1f : (float)outShape[i] / x.Shape[i];
            }
        }
        else
        {
            throw new PlanException("neither scales nor sizes is given.");
        }

        if (rank < 2)
        {
            throw new PlanException("inputs of rank below 2 are not supported.");
        }

        for (int i = 0; i < rank - 2; i++)
        {
            if (outShape[i] != x.Shape[i])
            {
                throw new PlanException("only the last two dimensions may be resized.");
            }
        }

        string mode = node.String("mode", "nearest");
        uint coordinates = node.String("coordinate_transformation_mode", "half_pixel") switch
        {
            "asymmetric" => 1u,
            "align_corners" => 2u,
            "pytorch_half_pixel" => 3u,
            _ => 0u,
        };
        uint nearest = node.String("nearest_mode", "round_prefer_floor") switch
        {
            "round_prefer_ceil" => 1u,
            "floor" => 2u,
            "ceil" => 3u,
            _ => 0u,
        };

        PlanValue output = NewGpu(outShape);
        var push = new PushConstants().U(output.Count).U(x.Shape[rank - 2]).U(x.Shape[rank - 1]).U(outShape[rank - 2]).U(outShape[rank - 1])
            .U(mode == "linear" ? 1u : 0u).U(coordinates).U(nearest).F(scale[rank - 2]).F(scale[rank - 1]);
        Emit1D(KernelKind.Resize, [Gpu(x), output.Slot!], push, output.Count);
        return output;
    }
}
