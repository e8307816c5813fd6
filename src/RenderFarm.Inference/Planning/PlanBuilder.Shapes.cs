using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Lowering of the operators that reshape, join and cut tensors: Reshape, Squeeze, Unsqueeze, Concat, Slice, Split.</summary>
internal sealed partial class PlanBuilder
{
    private PlanValue Reshape(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        long[] requested = ConstantInput(node, 1).ToLongs();
        bool allowZero = node.Int("allowzero", 0) != 0;
        var shape = new int[requested.Length];
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < requested.Length; i++)
        {
            long d = requested[i];
            if (d == -1)
            {
                if (inferred >= 0)
                {
                    throw new PlanException("more than one dimension is -1.");
                }

                inferred = i;
                continue;
            }

            if (d == 0 && !allowZero)
            {
                if (i >= x.Shape.Length)
                {
                    throw new PlanException($"dimension {i} is 0 (copy) but the input has rank {x.Shape.Length}.");
                }

                d = x.Shape[i];
            }

            if (d < 0 || d > int.MaxValue)
            {
                throw new PlanException($"dimension {d} is invalid.");
            }

            shape[i] = (int)d;
            known *= d;
        }

        if (inferred >= 0)
        {
            if (known == 0 || x.Count % known != 0)
            {
                throw new PlanException($"{ShapeMath.Format(x.Shape)} cannot be reshaped to [{string.Join(", ", requested)}].");
            }

            shape[inferred] = (int)(x.Count / known);
        }

        return Alias(x, shape);
    }

    private long[] AxesOf(NodeProto node, int inputIndex, int opsetWithInput)
    {
        if (Opset >= opsetWithInput)
        {
            CpuTensor? axes = OptionalConstant(node, inputIndex);
            return axes?.ToLongs() ?? [];
        }

        return node.Ints("axes") ?? [];
    }

    private PlanValue Squeeze(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        var axes = AxesOf(node, 1, 13).Select(a => ShapeMath.Axis(a, rank, "Squeeze")).ToHashSet();
        var shape = new List<int>();
        for (int i = 0; i < rank; i++)
        {
            bool squeeze = axes.Count == 0 ? x.Shape[i] == 1 : axes.Contains(i);
            if (squeeze && x.Shape[i] != 1)
            {
                throw new PlanException($"axis {i} of {ShapeMath.Format(x.Shape)} is not 1.");
            }

            if (!squeeze)
            {
                shape.Add(x.Shape[i]);
            }
        }

        return Alias(x, [.. shape]);
    }

    private PlanValue Unsqueeze(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        long[] requested = AxesOf(node, 1, 13);
        int rank = x.Shape.Length + requested.Length;
        var axes = requested.Select(a => ShapeMath.Axis(a, rank, "Unsqueeze")).ToHashSet();
        if (axes.Count != requested.Length)
        {
            throw new PlanException("axes repeat.");
        }

        var shape = new int[rank];
        int source = 0;
        for (int i = 0; i < rank; i++)
        {
            shape[i] = axes.Contains(i) ? 1 : x.Shape[source++];
        }

        return Alias(x, shape);
    }

    private PlanValue Concat(NodeProto node)
    {
        var inputs = new List<PlanValue>();
        for (int i = 0; i < node.Input.Count; i++)
        {
            inputs.Add(Input(node, i));
        }

        int rank = inputs[0].Shape.Length;
        int axis = ShapeMath.Axis(node.Int("axis", 0), rank, "Concat");
        int[] shape = (int[])inputs[0].Shape.Clone();
        shape[axis] = 0;
        foreach (PlanValue input in inputs)
        {
            if (input.Shape.Length != rank)
            {
                throw new PlanException($"inputs of ranks {rank} and {input.Shape.Length} cannot be concatenated.");
            }

            for (int d = 0; d < rank; d++)
            {
                if (d != axis && input.Shape[d] != inputs[0].Shape[d])
                {
                    throw new PlanException($"shapes {ShapeMath.Format(inputs[0].Shape)} and {ShapeMath.Format(input.Shape)} differ off axis {axis}.");
                }
            }

            shape[axis] += input.Shape[axis];
        }

        int[] outStrides = ShapeMath.Strides(shape);
        if (inputs.All(i => i.Constant is not null))
        {
            var data = new double[ShapeMath.Count(shape)];
            int offset = 0;
            int outer = ShapeMath.Product(shape, 0, axis);
            int inner = ShapeMath.Product(shape, axis + 1, rank);
            foreach (PlanValue input in inputs)
            {
                int block = input.Shape[axis] * inner;
                for (int o = 0; o < outer; o++)
                {
                    Array.Copy(input.Constant!.Data, o * block, data, (o * shape[axis] * inner) + offset, block);
                }

                offset += block;
            }

            return PlanValue.Of(new CpuTensor(shape, data, inputs.All(i => i.Constant!.IsInteger)));
        }

        PlanValue output = NewGpu(shape);
        int start = 0;
        foreach (PlanValue input in inputs)
        {
            if (input.Count > 0)
            {
                CopyInto(input, output.Slot!, input.Shape, 0, ShapeMath.Strides(input.Shape), start * outStrides[axis], outStrides);
            }

            start += input.Shape[axis];
        }

        return output;
    }

    private PlanValue Slice(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        long[] starts = ConstantInput(node, 1).ToLongs();
        long[] ends = ConstantInput(node, 2).ToLongs();
        long[] axes = OptionalConstant(node, 3)?.ToLongs() ?? Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
        long[] steps = OptionalConstant(node, 4)?.ToLongs() ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
        {
            throw new PlanException("starts, ends, axes and steps differ in length.");
        }

        int[] strides = ShapeMath.Strides(x.Shape);
        int[] shape = (int[])x.Shape.Clone();
        int[] inStrides = (int[])strides.Clone();
        int offset = 0;
        for (int i = 0; i < starts.Length; i++)
        {
            int axis = ShapeMath.Axis(axes[i], rank, "Slice");
            long dim = x.Shape[axis];
            long step = steps[i];
            if (step == 0)
            {
                throw new PlanException("a step is 0.");
            }

            long start = starts[i] < 0 ? starts[i] + dim : starts[i];
            long end = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (step > 0)
            {
                start = Math.Clamp(start, 0, dim);
                end = Math.Clamp(end, 0, dim);
            }
            else
            {
                start = Math.Clamp(start, 0, dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
            }

            long length = step > 0 ? (end - start + step - 1) / step : (start - end + (-step) - 1) / (-step);
            shape[axis] = (int)Math.Max(0, length);
            if (shape[axis] > 0)
            {
                offset += (int)start * strides[axis];
            }

            inStrides[axis] = (int)(strides[axis] * step);
        }

        return StridedCopy(x, shape, shape, offset, inStrides);
    }

    private void Split(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        int axis = ShapeMath.Axis(node.Int("axis", 0), rank, "Split");
        int length = x.Shape[axis];
        int outputs = node.Output.Count;
        long[]? sizes = Opset >= 13 ? OptionalConstant(node, 1)?.ToLongs() : node.Ints("split");
        if (sizes is null || sizes.Length == 0)
        {
            // Equal parts; from opset 18 (num_outputs) the last part may be smaller.
            int part = (length + outputs - 1) / outputs;
            if (Opset < 18 && length % outputs != 0)
            {
                throw new PlanException($"an axis of {length} does not split into {outputs} equal parts.");
            }

            sizes = Enumerable.Range(0, outputs).Select(i => (long)Math.Max(0, Math.Min(part, length - (i * part)))).ToArray();
        }

        if (sizes.Length != outputs || sizes.Sum() != length)
        {
            throw new PlanException($"split sizes [{string.Join(", ", sizes)}] do not divide an axis of {length} into {outputs} outputs.");
        }

        int[] strides = ShapeMath.Strides(x.Shape);
        int start = 0;
        for (int i = 0; i < outputs; i++)
        {
            int[] shape = (int[])x.Shape.Clone();
            shape[axis] = (int)sizes[i];
            SetOutput(node, StridedCopy(x, shape, shape, start * strides[axis], strides), i);
            start += (int)sizes[i];
        }
    }
}
