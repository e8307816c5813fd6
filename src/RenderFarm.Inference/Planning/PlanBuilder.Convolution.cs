using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Lowering of convolutions (direct, implicit GEMM, transposed) and their window geometry.</summary>
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
}
