using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Lowering of the arithmetic-heavy operators: convolutions, matrix products, normalization, pooling, resampling.</summary>
internal sealed partial class PlanBuilder
{
    /// <summary>Spatial geometry of a 1-D or 2-D window operator, always as 2-D (1-D gets a height of 1).</summary>
    private readonly record struct Window(int KH, int KW, int SH, int SW, int DH, int DW, int PadTop, int PadLeft, int PadBottom, int PadRight);

    private static int[] SpatialOf(int[] shape, string op)
    {
        if (shape.Length is not (3 or 4))
        {
            throw new PlanException($"{op} needs an input of rank 3 or 4 (N, C, spatial...), not {ShapeMath.Format(shape)}.");
        }

        return shape.Length == 4 ? [shape[2], shape[3]] : [1, shape[2]];
    }

    /// <summary>Reads kernel, strides, dilations and pads (explicit or auto_pad) for a 1-D or 2-D window.</summary>
    private static Window ReadWindow(NodeProto node, int[] spatial, int[] kernel)
    {
        int dims = kernel.Length;
        long[] strides = node.Ints("strides") ?? Enumerable.Repeat(1L, dims).ToArray();
        long[] dilations = node.Ints("dilations") ?? Enumerable.Repeat(1L, dims).ToArray();
        long[] pads = node.Ints("pads") ?? new long[2 * dims];
        if (strides.Length != dims || dilations.Length != dims || pads.Length != 2 * dims)
        {
            throw new PlanException("strides, dilations or pads do not match the kernel's rank.");
        }

        string autoPad = node.String("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER" or "VALID")
        {
            for (int i = 0; i < dims; i++)
            {
                int input = spatial[spatial.Length - dims + i];
                if (autoPad == "VALID")
                {
                    pads[i] = 0;
                    pads[i + dims] = 0;
                    continue;
                }

                long output = (input + strides[i] - 1) / strides[i];
                long extent = ((kernel[i] - 1) * dilations[i]) + 1;
                long total = Math.Max(0, ((output - 1) * strides[i]) + extent - input);
                pads[i] = autoPad == "SAME_UPPER" ? total / 2 : total - (total / 2);
                pads[i + dims] = total - pads[i];
            }
        }
        else if (autoPad != "NOTSET")
        {
            throw new PlanException($"auto_pad '{autoPad}' is not supported.");
        }

        return dims == 2
            ? new Window(kernel[0], kernel[1], (int)strides[0], (int)strides[1], (int)dilations[0], (int)dilations[1], (int)pads[0], (int)pads[1], (int)pads[2], (int)pads[3])
            : new Window(1, kernel[0], 1, (int)strides[0], 1, (int)dilations[0], 0, (int)pads[0], 0, (int)pads[1]);
    }

    private static int OutputSize(int input, int kernel, int stride, int dilation, int padBegin, int padEnd, bool ceilMode)
    {
        long span = input + padBegin + padEnd - (((long)(kernel - 1) * dilation) + 1);
        if (span < 0)
        {
            throw new PlanException("the kernel is larger than the padded input.");
        }

        long output = ceilMode ? ((span + stride - 1) / stride) + 1 : (span / stride) + 1;
        if (ceilMode && (output - 1) * stride >= input + padBegin)
        {
            // The last window would start in the end padding only.
            output--;
        }

        return (int)output;
    }

    private void Conv(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        PlanValue w = Input(node, 1);
        PlanValue? bias = OptionalInput(node, 2);
        int[] spatial = SpatialOf(x.Shape, "Conv");
        int group = (int)node.Int("group", 1);
        int channels = x.Shape[1];
        int outputs = w.Shape[0];
        if (w.Shape.Length != x.Shape.Length || group <= 0 || channels % group != 0 || outputs % group != 0 || w.Shape[1] != channels / group)
        {
            throw new PlanException($"weights {ShapeMath.Format(w.Shape)} do not fit input {ShapeMath.Format(x.Shape)} with group {group}.");
        }

        int[] kernel = w.Shape.Skip(2).ToArray();
        Window win = ReadWindow(node, spatial, kernel);
        int oh = OutputSize(spatial[0], win.KH, win.SH, win.DH, win.PadTop, win.PadBottom, false);
        int ow = OutputSize(spatial[1], win.KW, win.SW, win.DW, win.PadLeft, win.PadRight, false);
        int[] shape = x.Shape.Length == 4 ? [x.Shape[0], outputs, oh, ow] : [x.Shape[0], outputs, ow];

        // Peephole fusion: a following BatchNormalization with constant statistics is folded into constant weights,
        // and a following Relu/LeakyRelu runs in the convolution's epilogue.
        string result = node.Output[0];
        if (w.Constant is CpuTensor constantWeights && (bias is null || bias.Constant is not null) && SoleConsumer(result) is NodeProto bn &&
            bn.OpType == "BatchNormalization" && bn.Input.Skip(1).All(i => _values.TryGetValue(i, out PlanValue? v) && v.Constant is not null) &&
            bn.Output.Count(o => o.Length > 0) == 1)
        {
            CpuTensor? constantBias = bias?.Constant;
            (CpuTensor foldedWeights, CpuTensor foldedBias) = _memo.Get(bn, () => FoldBatchNormalization(constantWeights, constantBias, bn, outputs));
            (w, bias) = (PlanValue.Of(foldedWeights), PlanValue.Of(foldedBias));
            _absorbed.Add(bn);
            result = bn.Output[0];
        }

        uint activation = 0;
        float alpha = 0;
        if (SoleConsumer(result) is NodeProto act && act.OpType is "Relu" or "LeakyRelu")
        {
            activation = act.OpType == "Relu" ? 1u : 2u;
            alpha = act.Float("alpha", 0.01f);
            _absorbed.Add(act);
            result = act.Output[0];
        }

        PlanValue output = NewGpu(shape);
        var push = new PushConstants().U(output.Count).U(channels).U(spatial[0]).U(spatial[1]).U(outputs).U(oh).U(ow)
            .U(win.KH).U(win.KW).U(win.SH).U(win.SW).U(win.DH).U(win.DW).I(win.PadTop).I(win.PadLeft)
            .U(group).U(bias is null ? 0 : 1).U(activation).F(alpha);
        Slot biasSlot = bias is null ? Gpu(w) : Gpu(bias);
        Slot[] buffers = [Gpu(x), Gpu(w), biasSlot, output.Slot!];
        int outputsPerGroup = outputs / group;

        // Terms summed into each output: input channels of its group times the window, and the bias.
        long depth = ((long)channels / group * win.KH * win.KW) + 1;
        if (outputsPerGroup >= 16 && output.Count > 0)
        {
            // Enough output channels per group to fill 64-row tiles at least a quarter: the implicit GEMM kernel.
            long pixels = (long)oh * ow;
            long planes = (long)x.Shape[0] * group;
            uint gx = (uint)((pixels + 63) / 64);
            uint gy = (uint)((outputsPerGroup + 63) / 64);
            if (gx > KernelGroups.MaxGroups)
            {
                throw new PlanException($"an output of {pixels} pixels is too large for one dispatch.");
            }

            for (long start = 0; start < planes; start += KernelGroups.MaxGroups)
            {
                uint count = (uint)Math.Min(KernelGroups.MaxGroups, planes - start);
                Emit(KernelKind.ConvGemm, buffers, new PushConstants().Append(push).U(start), gx, gy, count, depth);
            }
        }
        else
        {
            Emit1D(KernelKind.Conv, buffers, push, output.Count, depth);
        }

        _values[result] = output;
    }

    /// <summary>Folds y = (conv(x) - mean) / sqrt(var + eps) * scale + B into the convolution's weights and bias.</summary>
    private (CpuTensor Weights, CpuTensor Bias) FoldBatchNormalization(CpuTensor weights, CpuTensor? bias, NodeProto bn, int outputs)
    {
        CpuTensor scale = _values[bn.Input[1]].Constant!;
        CpuTensor shift = _values[bn.Input[2]].Constant!;
        CpuTensor mean = _values[bn.Input[3]].Constant!;
        CpuTensor variance = _values[bn.Input[4]].Constant!;
        if (scale.Length != outputs || shift.Length != outputs || mean.Length != outputs || variance.Length != outputs)
        {
            throw new PlanException($"BatchNormalization parameters after the convolution must have {outputs} elements.");
        }

        double epsilon = bn.Float("epsilon", 1e-5f);
        int perOutput = weights.Length / outputs;
        var folded = new double[weights.Length];
        var foldedBias = new double[outputs];
        for (int m = 0; m < outputs; m++)
        {
            double factor = scale.Data[m] / Math.Sqrt(variance.Data[m] + epsilon);
            for (int i = 0; i < perOutput; i++)
            {
                folded[(m * perOutput) + i] = (float)(weights.Data[(m * perOutput) + i] * factor);
            }

            foldedBias[m] = (float)((((bias?.Data[m] ?? 0) - mean.Data[m]) * factor) + shift.Data[m]);
        }

        return (new CpuTensor(weights.Shape, folded, false), new CpuTensor([outputs], foldedBias, false));
    }

    private PlanValue ConvTranspose(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        PlanValue w = Input(node, 1);
        PlanValue? bias = OptionalInput(node, 2);
        int[] spatial = SpatialOf(x.Shape, "ConvTranspose");
        int group = (int)node.Int("group", 1);
        int channels = x.Shape[1];
        if (w.Shape.Length != x.Shape.Length || w.Shape[0] != channels || group <= 0 || channels % group != 0)
        {
            throw new PlanException($"weights {ShapeMath.Format(w.Shape)} do not fit input {ShapeMath.Format(x.Shape)} with group {group}.");
        }

        int outputs = w.Shape[1] * group;
        int dims = x.Shape.Length - 2;
        int[] kernel = w.Shape.Skip(2).ToArray();
        long[] strides = node.Ints("strides") ?? Enumerable.Repeat(1L, dims).ToArray();
        long[] dilations = node.Ints("dilations") ?? Enumerable.Repeat(1L, dims).ToArray();
        long[] outputPadding = node.Ints("output_padding") ?? new long[dims];
        long[] pads = node.Ints("pads") ?? new long[2 * dims];
        long[]? outputShape = node.Ints("output_shape");
        string autoPad = node.String("auto_pad", "NOTSET");
        int[] inSpatial = spatial.Skip(2 - dims).ToArray();
        var outSpatial = new int[dims];
        for (int i = 0; i < dims; i++)
        {
            long extent = ((kernel[i] - 1) * dilations[i]) + 1;
            long full = (strides[i] * (inSpatial[i] - 1)) + outputPadding[i] + extent;
            if (outputShape is not null || autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                long target = outputShape is not null ? outputShape[outputShape.Length - dims + i] : inSpatial[i] * strides[i];
                long total = Math.Max(0, full - target);
                bool upper = autoPad == "SAME_UPPER";
                pads[i] = upper ? total / 2 : total - (total / 2);
                pads[i + dims] = total - pads[i];
            }
            else if (autoPad == "VALID")
            {
                pads[i] = 0;
                pads[i + dims] = 0;
            }

            outSpatial[i] = (int)(full - pads[i] - pads[i + dims]);
        }

        int oh = dims == 2 ? outSpatial[0] : 1;
        int ow = outSpatial[dims - 1];
        int padTop = dims == 2 ? (int)pads[0] : 0;
        int padLeft = (int)pads[dims - 1];
        int sh = dims == 2 ? (int)strides[0] : 1;
        int dh = dims == 2 ? (int)dilations[0] : 1;
        int kh = dims == 2 ? kernel[0] : 1;
        int[] shape = dims == 2 ? [x.Shape[0], outputs, oh, ow] : [x.Shape[0], outputs, ow];
        PlanValue output = NewGpu(shape);
        var push = new PushConstants().U(output.Count).U(channels).U(spatial[0]).U(spatial[1]).U(outputs).U(oh).U(ow)
            .U(kh).U(kernel[dims - 1]).U(sh).U(strides[dims - 1]).U(dh).U(dilations[dims - 1]).I(padTop).I(padLeft)
            .U(group).U(bias is null ? 0 : 1);
        Slot biasSlot = bias is null ? Gpu(w) : Gpu(bias);
        Emit1D(KernelKind.ConvTranspose, [Gpu(x), Gpu(w), biasSlot, output.Slot!], push, output.Count, ((long)channels / group * kh * kernel[dims - 1]) + 1);
        return output;
    }

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
