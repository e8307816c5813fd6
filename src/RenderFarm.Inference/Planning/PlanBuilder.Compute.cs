using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Lowering of the arithmetic-heavy operators: matrix products, normalization, pooling, softmax and reductions.</summary>
internal sealed partial class PlanBuilder
{
    private PlanValue Gemm(NodeProto node)
    {
        PlanValue a = Input(node, 0);
        PlanValue b = Input(node, 1);
        PlanValue? c = OptionalInput(node, 2);
        bool transA = node.Int("transA", 0) != 0;
        bool transB = node.Int("transB", 0) != 0;
        float alpha = node.Float("alpha", 1f);
        float beta = node.Float("beta", 1f);
        if (a.Shape.Length != 2 || b.Shape.Length != 2)
        {
            throw new PlanException($"inputs must be matrices, not {ShapeMath.Format(a.Shape)} and {ShapeMath.Format(b.Shape)}.");
        }

        int m = transA ? a.Shape[1] : a.Shape[0];
        int k = transA ? a.Shape[0] : a.Shape[1];
        int kb = transB ? b.Shape[1] : b.Shape[0];
        int n = transB ? b.Shape[0] : b.Shape[1];
        if (k != kb)
        {
            throw new PlanException($"inner dimensions differ: {ShapeMath.Format(a.Shape)} and {ShapeMath.Format(b.Shape)} (transA={transA}, transB={transB}).");
        }

        int cRow = 0;
        int cCol = 0;
        if (c is not null)
        {
            int[] cs = c.Shape;
            ShapeMath.Broadcast(cs, [m, n], "Gemm bias");
            if (cs.Length == 2)
            {
                cRow = cs[0] == 1 ? 0 : cs[1];
                cCol = cs[1] == 1 ? 0 : 1;
            }
            else if (cs.Length == 1)
            {
                cCol = cs[0] == 1 ? 0 : 1;
            }
        }

        return MatMulCore(
            a, b, c, m, n, k,
            transA ? 1 : k, transA ? m : 1, transB ? 1 : n, transB ? k : 1, cRow, cCol, alpha, beta,
            [], [], [], [m, n]);
    }

    private PlanValue MatMul(PlanValue a, PlanValue b)
    {
        if (a.Shape.Length == 0 || b.Shape.Length == 0)
        {
            throw new PlanException("MatMul inputs must have rank 1 or more.");
        }

        int[] sa = a.Shape.Length == 1 ? [1, a.Shape[0]] : a.Shape;
        int[] sb = b.Shape.Length == 1 ? [b.Shape[0], 1] : b.Shape;
        int m = sa[^2];
        int k = sa[^1];
        int n = sb[^1];
        if (sb[^2] != k)
        {
            throw new PlanException($"inner dimensions differ: {ShapeMath.Format(a.Shape)} and {ShapeMath.Format(b.Shape)}.");
        }

        int[] batchA = sa[..^2];
        int[] batchB = sb[..^2];
        int[] batch = ShapeMath.Broadcast(batchA, batchB, "MatMul batch");
        var outShape = new List<int>(batch);
        if (a.Shape.Length > 1)
        {
            outShape.Add(m);
        }

        if (b.Shape.Length > 1)
        {
            outShape.Add(n);
        }

        int[] stridesA = ShapeMath.BroadcastStrides(batchA, batch.Length).Select(s => s * m * k).ToArray();
        int[] stridesB = ShapeMath.BroadcastStrides(batchB, batch.Length).Select(s => s * k * n).ToArray();
        return MatMulCore(a, b, null, m, n, k, k, 1, n, 1, 0, 0, 1f, 0f, batch, stridesA, stridesB, [.. outShape]);
    }

    private PlanValue MatMulCore(
        PlanValue a, PlanValue b, PlanValue? c, int m, int n, int k, int aRow, int aCol, int bRow, int bCol, int cRow, int cCol,
        float alpha, float beta, int[] batch, int[] batchStridesA, int[] batchStridesB, int[] outShape)
    {
        // Batch dims beyond 3 are merged where both operands stride through them alike.
        var shape = new List<int>();
        var sa = new List<int>();
        var sb = new List<int>();
        for (int d = 0; d < batch.Length; d++)
        {
            if (batch[d] == 1)
            {
                continue;
            }

            int last = shape.Count - 1;
            if (last >= 0 && sa[last] == batchStridesA[d] * batch[d] && sb[last] == batchStridesB[d] * batch[d])
            {
                shape[last] *= batch[d];
                sa[last] = batchStridesA[d];
                sb[last] = batchStridesB[d];
            }
            else
            {
                shape.Add(batch[d]);
                sa.Add(batchStridesA[d]);
                sb.Add(batchStridesB[d]);
            }
        }

        if (shape.Count > 3)
        {
            throw new PlanException("more than 3 independent broadcast batch dimensions are not supported.");
        }

        long batches = ShapeMath.Count(batch);
        PlanValue output = NewGpu(outShape);
        if (output.Count == 0)
        {
            return output;
        }

        uint gx = (uint)((n + 63) / 64);
        uint gy = (uint)((m + 63) / 64);
        if (gx > KernelGroups.MaxGroups || gy > KernelGroups.MaxGroups)
        {
            throw new PlanException($"a {m}x{n} matrix product is too large for one dispatch.");
        }

        Slot cSlot = c is null ? Gpu(a) : Gpu(c);
        for (long start = 0; start < batches; start += KernelGroups.MaxGroups)
        {
            uint count = (uint)Math.Min(KernelGroups.MaxGroups, batches - start);
            var push = new PushConstants().U(m).U(n).U(k).U(aRow).U(aCol).U(bRow).U(bCol).U(cRow).U(cCol)
                .U(c is null ? 0 : 1).F(alpha).F(beta).U(start)
                .Array(shape, 3, 1, signed: false).Array(sa, 3, 0, signed: false).Array(sb, 3, 0, signed: false);
            Emit(KernelKind.MatMul, [Gpu(a), Gpu(b), cSlot, output.Slot!], push, gx, gy, count, (long)k + (c is null ? 1 : 2));
        }

        return output;
    }

    private PlanValue BatchNormalization(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        CpuTensor scale = ConstantInput(node, 1);
        CpuTensor bias = ConstantInput(node, 2);
        CpuTensor mean = ConstantInput(node, 3);
        CpuTensor variance = ConstantInput(node, 4);
        double epsilon = node.Float("epsilon", 1e-5f);
        if (x.Shape.Length < 2)
        {
            throw new PlanException($"the input {ShapeMath.Format(x.Shape)} has no channel axis.");
        }

        int channels = x.Shape[1];
        if (scale.Length != channels || bias.Length != channels || mean.Length != channels || variance.Length != channels)
        {
            throw new PlanException($"parameters must have {channels} elements, one per channel.");
        }

        // y = (x - mean) / sqrt(var + eps) * scale + bias = x * s + t, folded once.
        var s = new float[channels];
        var t = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double factor = scale.Data[c] / Math.Sqrt(variance.Data[c] + epsilon);
            s[c] = (float)factor;
            t[c] = (float)(bias.Data[c] - (mean.Data[c] * factor));
        }

        int inner = ShapeMath.Product(x.Shape, 2, x.Shape.Length);
        PlanValue output = NewGpu(x.Shape);
        var push = new PushConstants().U(output.Count).U(channels).U(Math.Max(inner, 1));
        Emit1D(KernelKind.Affine, [Gpu(x), Gpu(s), Gpu(t), output.Slot!], push, output.Count, roundings: 2);
        return output;
    }

    private PlanValue InstanceNormalization(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        PlanValue scale = Input(node, 1);
        PlanValue bias = Input(node, 2);
        if (x.Shape.Length < 3)
        {
            throw new PlanException($"the input {ShapeMath.Format(x.Shape)} needs N, C and spatial axes.");
        }

        int channels = x.Shape[1];
        if (scale.Count != channels || bias.Count != channels)
        {
            throw new PlanException($"scale and B must have {channels} elements, one per channel.");
        }

        long planes = (long)x.Shape[0] * channels;
        int size = ShapeMath.Product(x.Shape, 2, x.Shape.Length);
        PlanValue output = NewGpu(x.Shape);
        if (output.Count == 0)
        {
            return output;
        }

        var push = new PushConstants().U(planes).U(channels).U(size).F(node.Float("epsilon", 1e-5f)).U(0);
        (uint gx, uint gy) = KernelGroups.Groups(planes, 1);
        Emit(KernelKind.InstanceNorm, [Gpu(x), Gpu(scale), Gpu(bias), output.Slot!], push, gx, gy, roundings: size + 8);
        return output;
    }

    private PlanValue LayerNormalization(NodeProto node) =>
        LayerNorm(Input(node, 0), Input(node, 1), OptionalInput(node, 2), node.Int("axis", -1), node.Float("epsilon", 1e-5f));

    /// <summary>Normalizes <paramref name="x"/> over the axes from <paramref name="axisAttribute"/> on, then scales and shifts.</summary>
    private PlanValue LayerNorm(PlanValue x, PlanValue scale, PlanValue? bias, long axisAttribute, float epsilon)
    {
        int rank = x.Shape.Length;
        int axis = ShapeMath.Axis(axisAttribute, rank, "LayerNormalization");
        long planes = ShapeMath.Product(x.Shape, 0, axis);
        int size = ShapeMath.Product(x.Shape, axis, rank);
        int[] normalized = x.Shape[axis..];
        bias ??= PlanValue.Of(new CpuTensor(normalized, new double[size], false));
        scale = ExpandTo(scale, normalized);
        bias = ExpandTo(bias, normalized);
        PlanValue output = NewGpu(x.Shape);
        if (output.Count == 0)
        {
            return output;
        }

        var push = new PushConstants().U(planes).U(1).U(size).F(epsilon).U(1);
        (uint gx, uint gy) = KernelGroups.Groups(planes, 1);
        Emit(KernelKind.InstanceNorm, [Gpu(x), Gpu(scale), Gpu(bias), output.Slot!], push, gx, gy, roundings: size + 8);
        return output;
    }

    /// <summary>Broadcasts <paramref name="value"/> to exactly <paramref name="shape"/> (a copy only when it is smaller).</summary>
    private PlanValue ExpandTo(PlanValue value, int[] shape)
    {
        int[] broadcast = ShapeMath.Broadcast(value.Shape, shape, "LayerNormalization parameter");
        if (!broadcast.SequenceEqual(shape))
        {
            throw new PlanException($"a parameter of shape {ShapeMath.Format(value.Shape)} does not fit the normalized shape {ShapeMath.Format(shape)}.");
        }

        return value.Count == ShapeMath.Count(shape)
            ? value
            : StridedCopy(value, shape, shape, 0, ShapeMath.BroadcastStrides(value.Shape, shape.Length));
    }

    private PlanValue Pool(NodeProto node, bool global)
    {
        PlanValue x = Input(node, 0);
        int[] spatial = SpatialOf(x.Shape, node.OpType);
        bool max = node.OpType is "MaxPool" or "GlobalMaxPool";
        Window win;
        bool ceilMode = node.Int("ceil_mode", 0) != 0;
        if (global)
        {
            win = new Window(spatial[0], spatial[1], 1, 1, 1, 1, 0, 0, 0, 0);
        }
        else
        {
            int[] kernel = (node.Ints("kernel_shape") ?? throw new PlanException("kernel_shape is missing.")).Select(k => (int)k).ToArray();
            if (kernel.Length != x.Shape.Length - 2)
            {
                throw new PlanException($"a {kernel.Length}-D kernel does not fit input {ShapeMath.Format(x.Shape)}.");
            }

            win = ReadWindow(node, spatial, kernel);
        }

        int oh = OutputSize(spatial[0], win.KH, win.SH, win.DH, win.PadTop, win.PadBottom, ceilMode);
        int ow = OutputSize(spatial[1], win.KW, win.SW, win.DW, win.PadLeft, win.PadRight, ceilMode);
        int[] shape = x.Shape.Length == 4 ? [x.Shape[0], x.Shape[1], oh, ow] : [x.Shape[0], x.Shape[1], ow];
        uint op = max ? 0u : node.Int("count_include_pad", 0) != 0 ? 2u : 1u;
        PlanValue output = NewGpu(shape);
        var push = new PushConstants().U(output.Count).U(spatial[0]).U(spatial[1]).U(oh).U(ow).U(win.KH).U(win.KW)
            .U(win.SH).U(win.SW).I(win.PadTop).I(win.PadLeft).I(win.PadBottom).I(win.PadRight).U(win.DH).U(win.DW).U(op);
        Emit1D(KernelKind.Pool, [Gpu(x), output.Slot!], push, output.Count, max ? 0 : ((long)win.KH * win.KW) + 2);
        return output;
    }

    private PlanValue Softmax(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        int axis = ShapeMath.Axis(node.Int("axis", Opset >= 13 ? -1 : 1), rank, node.OpType);
        int outer = ShapeMath.Product(x.Shape, 0, axis);
        int length;
        int inner;
        if (Opset >= 13)
        {
            length = x.Shape[axis];
            inner = ShapeMath.Product(x.Shape, axis + 1, rank);
        }
        else
        {
            // Before opset 13 the input is coerced to 2-D at the axis: softmax runs over all trailing dims at once.
            length = ShapeMath.Product(x.Shape, axis, rank);
            inner = 1;
        }

        PlanValue output = NewGpu(x.Shape);
        var push = new PushConstants().U((long)outer * inner).U(length).U(inner).U(node.OpType == "Softmax" ? 10u : 11u);
        Emit1D(KernelKind.Reduce, [Gpu(x), output.Slot!], push, (long)outer * inner, SoftmaxRoundings(length));
        return output;
    }

    private PlanValue Reduce(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        int axesInputOpset = node.OpType == "ReduceSum" ? 13 : 18;
        long[] requested = AxesOf(node, 1, axesInputOpset);
        bool keepDims = node.Int("keepdims", 1) != 0;
        if (requested.Length == 0 && node.Int("noop_with_empty_axes", 0) != 0)
        {
            return x;
        }

        int[] axes = requested.Length == 0
            ? Enumerable.Range(0, rank).ToArray()
            : requested.Select(a => ShapeMath.Axis(a, rank, node.OpType)).Distinct().OrderBy(a => a).ToArray();
        uint op = node.OpType switch
        {
            "ReduceMean" => 0u,
            "ReduceSum" => 1u,
            "ReduceMax" => 2u,
            _ => 3u,
        };

        // One reduction per axis: means of means over equal-sized groups are the mean over all of them.
        PlanValue current = x;
        int[] shape = (int[])x.Shape.Clone();
        foreach (int axis in axes)
        {
            int outer = ShapeMath.Product(shape, 0, axis);
            int length = shape[axis];
            int inner = ShapeMath.Product(shape, axis + 1, rank);
            int[] reduced = (int[])shape.Clone();
            reduced[axis] = 1;
            if (length == 0)
            {
                throw new PlanException("reducing an empty axis is not supported.");
            }

            PlanValue output = NewGpu(reduced);
            var push = new PushConstants().U((long)outer * inner).U(length).U(inner).U(op);
            Emit1D(KernelKind.Reduce, [Gpu(current), output.Slot!], push, (long)outer * inner, op is 2u or 3u ? 0 : length + 2);
            current = output;
            shape = reduced;
        }

        int[] final = keepDims ? shape : shape.Where((_, i) => !axes.Contains(i)).ToArray();
        return Alias(current, final);
    }
}
