using RenderFarm.Inference.Onnx;

namespace RenderFarm.Inference.Planning;

/// <summary>Shape inference and lowering of each ONNX operator.</summary>
internal sealed partial class PlanBuilder
{
    private int Opset => _model.Opset;

    private PlanValue Variadic(NodeProto node, BinaryOp op, bool mean)
    {
        PlanValue result = Input(node, 0);
        for (int i = 1; i < node.Input.Count; i++)
        {
            result = Binary(op, result, Input(node, i));
        }

        return mean && node.Input.Count > 1 ? Unary(UnaryOp.Affine, result, 1f / node.Input.Count, 0f) : result;
    }

    private PlanValue Flatten(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int axis = (int)node.Int("axis", 1);
        axis = axis < 0 ? axis + x.Shape.Length : axis;
        if (axis < 0 || axis > x.Shape.Length)
        {
            throw new PlanException($"axis {node.Int("axis", 1)} is out of range for rank {x.Shape.Length}.");
        }

        return Alias(x, [ShapeMath.Product(x.Shape, 0, axis), ShapeMath.Product(x.Shape, axis, x.Shape.Length)]);
    }

    private PlanValue Transpose(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int rank = x.Shape.Length;
        int[] perm = node.Ints("perm")?.Select(p => ShapeMath.Axis(p, rank, "Transpose")).ToArray()
            ?? Enumerable.Range(0, rank).Reverse().ToArray();
        if (perm.Length != rank || perm.Distinct().Count() != rank)
        {
            throw new PlanException($"perm [{string.Join(", ", perm)}] is not a permutation of {rank} axes.");
        }

        return Permute(x, x.Shape, perm, perm.Select(p => x.Shape[p]).ToArray());
    }

    private PlanValue Expand(NodeProto node)
    {
        PlanValue x = Input(node, 0);
        int[] target = ToShape(ConstantInput(node, 1));
        int[] shape = ShapeMath.Broadcast(x.Shape, target, "Expand");
        return StridedCopy(x, shape, shape, 0, ShapeMath.BroadcastStrides(x.Shape, shape.Length));
    }

    private static CpuTensor ConstantAttribute(NodeProto node)
    {
        foreach (AttributeProto attribute in node.Attribute)
        {
            switch (attribute.Name)
            {
                case "value":
                    return CpuTensor.FromProto(attribute.T);
                case "value_float":
                    return CpuTensor.Scalar(attribute.F, false);
                case "value_int":
                    return CpuTensor.Scalar(attribute.I, true);
                case "value_floats":
                    return new CpuTensor([attribute.Floats.Count], attribute.Floats.Select(f => (double)f).ToArray(), false);
                case "value_ints":
                    return CpuTensor.Vector(attribute.Ints);
                default:
                    break;
            }
        }

        throw new PlanException("it has no supported value attribute (sparse and string constants are not supported).");
    }

    private static int[] ToShape(CpuTensor tensor)
    {
        long[] values = tensor.ToLongs();
        var shape = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] < 0 || values[i] > int.MaxValue)
            {
                throw new PlanException($"shape [{string.Join(", ", values)}] has an invalid dimension.");
            }

            shape[i] = (int)values[i];
        }

        return shape;
    }

    private PlanValue Cast(PlanValue x, long to)
    {
        var type = (TensorProto.Types.DataType)to;
        bool integer = type is not (TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double or
            TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16);
        if (x.Constant is not CpuTensor c)
        {
            // Every tensor is float32 on the device: a cast to a float type keeps the values (float16 and bfloat16 are
            // computed at single precision), one to an integer type truncates toward zero, one to bool tests for non-zero.
            if (type == TensorProto.Types.DataType.Bool)
            {
                return Unary(UnaryOp.ToBool, x);
            }

            if (integer)
            {
                return x.IsInteger ? PlanValue.OnGpu(x.Shape, x.Slot!, isInteger: true) : Unary(UnaryOp.Trunc, x);
            }

            return PlanValue.OnGpu(x.Shape, x.Slot!, isInteger: false);
        }

        var data = new double[c.Length];
        for (int i = 0; i < data.Length; i++)
        {
            double v = c.Data[i];
            data[i] = type switch
            {
                TensorProto.Types.DataType.Bool => v != 0 ? 1 : 0,
                TensorProto.Types.DataType.Float => (float)v,
                TensorProto.Types.DataType.Float16 => (double)(Half)v,
                _ when integer => Math.Truncate(v),
                _ => v,
            };
        }

        return PlanValue.Of(new CpuTensor(c.Shape, data, integer));
    }

    private PlanValue ShapeOf(NodeProto node)
    {
        int[] shape = Input(node, 0).Shape;
        int rank = shape.Length;
        long start = node.Int("start", 0);
        long end = node.Int("end", rank);
        start = Math.Clamp(start < 0 ? start + rank : start, 0, rank);
        end = Math.Clamp(end < 0 ? end + rank : end, 0, rank);
        return PlanValue.Of(CpuTensor.Vector(shape.Skip((int)start).Take((int)Math.Max(0, end - start)).Select(d => (long)d).ToArray()));
    }

    /// <summary>
    /// The most elements a tensor made while planning from a few numbers (ConstantOfShape, Range) may have: a model
    /// of a few bytes must not make the planner, which the coordinator runs too, allocate gigabytes.
    /// </summary>
    internal const long MaxFoldedElements = 1L << 24;

    private static long CheckFolded(long count) => count <= MaxFoldedElements
        ? count
        : throw new PlanException($"a constant of {count} elements is too large to compute while planning (at most {MaxFoldedElements}).");

    private PlanValue ConstantOfShape(NodeProto node)
    {
        int[] shape = ToShape(ConstantInput(node, 0));
        AttributeProto? value = node.Attribute("value");
        CpuTensor fill = value is null ? CpuTensor.Scalar(0, false) : CpuTensor.FromProto(value.T);
        var data = new double[CheckFolded(ShapeMath.Count(shape))];
        Array.Fill(data, fill.Data.Length > 0 ? fill.Data[0] : 0);
        return PlanValue.Of(new CpuTensor(shape, data, fill.IsInteger));
    }

    private PlanValue Range(NodeProto node)
    {
        CpuTensor start = ConstantInput(node, 0);
        double first = start.Data[0];
        double limit = ConstantInput(node, 1).Data[0];
        double delta = ConstantInput(node, 2).Data[0];
        if (delta == 0)
        {
            throw new PlanException("delta is zero.");
        }

        double steps = Math.Max(0, Math.Ceiling((limit - first) / delta));
        int count = (int)CheckFolded(double.IsNaN(steps) ? long.MaxValue : (long)Math.Min(steps, long.MaxValue));
        var data = new double[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = first + (i * delta);
        }

        return PlanValue.Of(new CpuTensor([count], data, start.IsInteger));
    }

    private PlanValue Clip(NodeProto node)
    {
        float min = float.NegativeInfinity;
        float max = float.PositiveInfinity;
        CpuTensor? low = OptionalConstant(node, 1);
        CpuTensor? high = OptionalConstant(node, 2);
        if (low is not null && low.Length > 0)
        {
            min = (float)low.Data[0];
        }

        if (high is not null && high.Length > 0)
        {
            max = (float)high.Data[0];
        }

        return Unary(UnaryOp.Clip, Input(node, 0), min, max);
    }

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

    private PlanValue Where(NodeProto node) => WhereValues(Input(node, 0), Input(node, 1), Input(node, 2));

    private PlanValue WhereValues(PlanValue condition, PlanValue x, PlanValue y)
    {
        int[] shape = ShapeMath.Broadcast(ShapeMath.Broadcast(condition.Shape, x.Shape, "Where"), y.Shape, "Where");
        bool integer = x.IsInteger && y.IsInteger;
        if (condition.Constant is CpuTensor cc && x.Constant is CpuTensor cx && y.Constant is CpuTensor cy)
        {
            return PlanValue.Of(new CpuTensor(shape, Broadcast3(shape, cc, cx, cy, (c, u, v) => c != 0 ? u : v), integer));
        }

        // Size-1 dimensions carry no stride; dropping them lets ranks above 6 fit the kernel.
        int rank = shape.Length;
        int[] keep = Enumerable.Range(0, rank).Where(d => shape[d] != 1).ToArray();
        int[] Strides(PlanValue v) => ShapeMath.BroadcastStrides(v.Shape, rank) is var all ? keep.Select(d => all[d]).ToArray() : [];
        PlanValue output = NewGpu(shape, integer);
        long count = output.Count;
        if (count == 0)
        {
            return output;
        }

        int[] kept = keep.Select(d => shape[d]).ToArray();
        var push = new PushConstants().U(count).Array(kept, 6, 1, signed: false)
            .Array(Strides(condition), 6, 0, signed: false).Array(Strides(x), 6, 0, signed: false).Array(Strides(y), 6, 0, signed: false);
        Emit1D(KernelKind.Where, [Gpu(condition), Gpu(x), Gpu(y), output.Slot!], push, count);
        return output;
    }

    private static double[] Broadcast3(int[] shape, CpuTensor a, CpuTensor b, CpuTensor c, Func<double, double, double, double> f)
    {
        int rank = shape.Length;
        int[] sa = ShapeMath.BroadcastStrides(a.Shape, rank);
        int[] sb = ShapeMath.BroadcastStrides(b.Shape, rank);
        int[] sc = ShapeMath.BroadcastStrides(c.Shape, rank);
        int[] strides = ShapeMath.Strides(shape);
        var data = new double[ShapeMath.Count(shape)];
        for (int i = 0; i < data.Length; i++)
        {
            int ia = 0;
            int ib = 0;
            int ic = 0;
            int rest = i;
            for (int d = 0; d < rank; d++)
            {
                int coordinate = rest / strides[d];
                rest %= strides[d];
                ia += coordinate * sa[d];
                ib += coordinate * sb[d];
                ic += coordinate * sc[d];
            }

            data[i] = f(a.Data[ia], b.Data[ib], c.Data[ic]);
        }

        return data;
    }

    private PlanValue Gather(NodeProto node)
    {
        PlanValue data = Input(node, 0);
        int rank = data.Shape.Length;
        int axis = ShapeMath.Axis(node.Int("axis", 0), rank, "Gather");
        int axisLength = data.Shape[axis];
        if (Input(node, 1) is { Constant: null } computed)
        {
            // Indices computed at run time (token ids into an embedding table): checked on the device.
            int[] outShape = [.. data.Shape.Take(axis), .. computed.Shape, .. data.Shape.Skip(axis + 1)];
            PlanValue gathered = NewGpu(outShape, data.IsInteger);
            if (gathered.Count > 0)
            {
                var push = new PushConstants().U(gathered.Count).U(axisLength).U(computed.Count).U(ShapeMath.Product(data.Shape, axis + 1, rank));
                Emit1D(KernelKind.GatherIndices, [Gpu(data), Gpu(computed), gathered.Slot!], push, gathered.Count);
            }

            return gathered;
        }

        CpuTensor indices = ConstantInput(node, 1);
        long[] raw = indices.ToLongs();
        var normalized = new uint[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            long index = raw[i] < 0 ? raw[i] + axisLength : raw[i];
            if (index < 0 || index >= axisLength)
            {
                throw new PlanException($"index {raw[i]} is out of range for an axis of length {axisLength}.");
            }

            normalized[i] = (uint)index;
        }

        int[] shape = [.. data.Shape.Take(axis), .. indices.Shape, .. data.Shape.Skip(axis + 1)];
        int outer = ShapeMath.Product(data.Shape, 0, axis);
        int inner = ShapeMath.Product(data.Shape, axis + 1, rank);
        if (data.Constant is CpuTensor c)
        {
            var values = new double[ShapeMath.Count(shape)];
            int at = 0;
            for (int o = 0; o < outer; o++)
            {
                foreach (uint index in normalized)
                {
                    Array.Copy(c.Data, ((o * axisLength) + (int)index) * inner, values, at, inner);
                    at += inner;
                }
            }

            return PlanValue.Of(new CpuTensor(shape, values, c.IsInteger));
        }

        PlanValue output = NewGpu(shape, data.IsInteger);
        if (output.Count > 0)
        {
            var push = new PushConstants().U(output.Count).U(axisLength).U(normalized.Length).U(inner);
            Emit1D(KernelKind.Gather, [Gpu(data), UploadWords(normalized), output.Slot!], push, output.Count);
        }

        return output;
    }
}
